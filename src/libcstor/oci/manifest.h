/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading an image out of a source (oci/source.h): which manifest, which
 * config, which layer blobs, with every small blob's digest checked. The
 * result is what import needs and nothing is stored yet.
 */
#ifndef CSTOR_OCI_MANIFEST_H
#define CSTOR_OCI_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cstor/error.h>

#include "archive/digest.h"
#include "oci/source.h"

struct cstor_oci_layer {
	char *digest;     /* the blob's digest as the manifest names it */
	char *diff_id;    /* the config's DiffID for it */
	char *media_type;
	uint64_t size;    /* from the manifest */
	char *member;     /* where the blob is in the source */
	/* docker-archive: the blob is the member's content decompressed (a
	 * member may be gzip'd; containers/image serves it uncompressed). */
	bool decompress;
};

struct cstor_oci_image {
	char *manifest; /* bytes as they were, NUL-terminated */
	size_t manifest_len;
	char manifest_digest[CSTOR_DIGEST_STRING_MAX];
	/* The manifest list/index the manifest was chosen from, if any. */
	char *toplevel;
	size_t toplevel_len;
	char toplevel_digest[CSTOR_DIGEST_STRING_MAX];
	char *config;
	size_t config_len;
	char config_digest[CSTOR_DIGEST_STRING_MAX];
	char *created; /* the config's "created", or NULL */
	struct cstor_oci_layer *layers;
	size_t n_layers;
	char **names; /* docker-archive RepoTags (strv, may be empty) */
};

/*
 * Load the image @ref names (NULL: the only one) from an OCI layout
 * (@docker false) or a docker-archive. Manifest lists/indexes are resolved
 * to the linux/<host arch> image.
 */
int cstor_oci_image_load(struct cstor_oci_image *img, struct cstor_oci_src *src, bool docker,
			 const char *ref, cstor_error *err);
void cstor_oci_image_clear(struct cstor_oci_image *img);

/* Go's GOARCH for this machine ("amd64", "arm64", ...). */
const char *cstor_oci_host_arch(void);

#endif
