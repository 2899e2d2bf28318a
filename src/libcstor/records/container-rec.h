/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container record of containers.json (docs/formats.md §2.6), read and
 * written field for field as containers/storage does (see image-record.h).
 * `image` and `layer` are always written, even when empty.
 */
#ifndef CSTOR_CONTAINER_RECORD_H
#define CSTOR_CONTAINER_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include <cstor/error.h>

#include "util/gojson.h"
#include "records/layer-rec.h"
#include "records/fields.h"

/* Well-known flags (containers/storage's store.go). */
#define CSTOR_CONTAINER_FLAG_MOUNT_LABEL "MountLabel"
#define CSTOR_CONTAINER_FLAG_PROCESS_LABEL "ProcessLabel"
#define CSTOR_CONTAINER_FLAG_MOUNT_OPTS "MountOpts"
#define CSTOR_CONTAINER_FLAG_VOLATILE "Volatile"

struct cstor_container_rec {
	struct cstor_obj_head h; /* id, names, metadata, big data, created, flags */
	char *image; /* image ID, "" when none */
	char *layer; /* the container's read-write layer */
	struct cstor_idmap *uidmap;
	size_t n_uidmap;
	struct cstor_idmap *gidmap;
	size_t n_gidmap;
	/* Kept in volatile-containers.json (newest containers/storage: the
	 * containers created volatile, every container of a transient
	 * store); not a JSON field. */
	bool is_volatile;
};

#define CSTOR_CONTAINER_REC(head) ((struct cstor_container_rec *)(head))

void cstor_container_rec_free(struct cstor_container_rec *r);
int cstor_container_rec_parse(struct cstor_container_rec **out, json_t *obj, const char *where,
			      cstor_error *err);
void cstor_container_rec_write(cstor_buf *b, const struct cstor_container_rec *r);
extern const struct cstor_rec_codec cstor_container_rec_codec;
int cstor_container_rec_copy(struct cstor_container_rec **out,
			     const struct cstor_container_rec *r);
/* A string flag, or NULL when absent or not a string. */
const char *cstor_container_rec_flag_str(const struct cstor_container_rec *r, const char *key);

#endif
