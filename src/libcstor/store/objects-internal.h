/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by images.c, containers.c and store-objects.c. */
#ifndef CSTOR_OBJECTS_INTERNAL_H
#define CSTOR_OBJECTS_INTERNAL_H

#include <stdbool.h>

#include <cstor/container.h>
#include <cstor/image.h>

#include "records/container-rec.h"
#include "records/image-rec.h"
#include "store/engine.h"
#include "store/store-internal.h"

extern const struct cstor_objstore_ops cstor_image_store_ops;
extern const struct cstor_objstore_ops cstor_container_store_ops;

struct cstor_image {
	struct cstor_image_rec *rec;
	bool read_only;
};

struct cstor_container {
	struct cstor_container_rec *rec;
	char **mount_options; /* the "MountOpts" flag's strings */
};

/* Snapshots of records (their immutable copies, store/engine.h). -ENOMEM. */
int cstor_image_snapshot(cstor_image **out, struct cstor_objstore *is,
			 const struct cstor_image_rec *rec) CSTOR_REQUIRES_SHARED(&is->lock);
int cstor_container_snapshot(cstor_container **out, struct cstor_objstore *cs,
			     const struct cstor_container_rec *rec) CSTOR_REQUIRES_SHARED(&cs->lock);

/* Find an image in any image store (primary first): a snapshot and, when
 * @where is not NULL, the store that has it. -ENOENT / -EINVAL with @err. */
int cstor_store_find_image(cstor_image **out, struct cstor_objstore **where,
			   struct cstor_store *s, const char *ref, cstor_error *err);

/* <graphroot>/<driver>-containers/<id> and <runroot>/<driver>-containers/<id>
 * (malloc'd, NULL on OOM). */
char *cstor_container_graph_dir(struct cstor_store *s, const char *id);
char *cstor_container_run_dir_path(struct cstor_store *s, const char *id);

/* Remove a container's two directories (best effort on neither failing:
 * the first error is reported). */
int cstor_container_remove_dirs(struct cstor_store *s, const char *id, cstor_error *err);

#endif
