/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image record of images.json (docs/formats.md §2.5), read and written
 * field for field as containers/storage does: Go's field order and omitempty
 * rules, maps with sorted keys, `created` kept as the text that was read,
 * keys cstor does not know kept and written back after the known ones.
 */
#ifndef CSTOR_IMAGE_RECORD_H
#define CSTOR_IMAGE_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include <cstor/error.h>

#include "util/gojson.h"
#include "records/fields.h"

/* Big-data keys starting with this are manifests: their digests identify
 * the image (containers/storage's ImageDigestManifestBigDataNamePrefix). */
#define CSTOR_IMAGE_MANIFEST_PREFIX "manifest"

struct cstor_image_rec {
	struct cstor_obj_head h; /* id, names, metadata, big data, created, flags */
	char *digest; /* the explicit or first manifest digest, NULL if none */
	char **names_history; /* newest first */
	char *layer;          /* top layer ID, NULL if none */
	char **mapped_layers;

	/* Not stored: the digests that find the image (`digest`, then those
	 * of manifest items, each once), as Go's Image.Digests. */
	char **digests;
};

#define CSTOR_IMAGE_REC(head) ((struct cstor_image_rec *)(head))

void cstor_image_rec_free(struct cstor_image_rec *r);
int cstor_image_rec_parse(struct cstor_image_rec **out, json_t *obj, const char *where,
			  cstor_error *err);
void cstor_image_rec_write(cstor_buf *b, const struct cstor_image_rec *r);
extern const struct cstor_rec_codec cstor_image_rec_codec;

/* Rebuild r->digests and fill r->digest when it is empty (Go's
 * recomputeDigests): -EBADMSG for an invalid digest. The order is the
 * explicit digest, then manifest items in big-data-names order (Go walks a
 * map, in random order). */
int cstor_image_rec_recompute_digests(struct cstor_image_rec *r, cstor_error *err);

/* go-digest's text for why @digest is invalid ("invalid checksum digest
 * length", ...). */
void cstor_digest_go_error(char *buf, size_t size, const char *digest);

/* A deep copy (through the JSON encoding, exact by construction). */
int cstor_image_rec_copy(struct cstor_image_rec **out, const struct cstor_image_rec *r);

#endif
