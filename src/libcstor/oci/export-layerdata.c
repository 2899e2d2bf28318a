/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A layer big data item as an fd: kept layer blobs are as big as the layer,
 * so export copies them by fd instead of reading them into memory the way
 * cstor_layer_get_big_data() does.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/bigdata.h"
#include "util/error-internal.h"
#include "oci/export-internal.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/strv.h"

/* Open the item's file: the store's lock is held, so the item cannot be
 * replaced or removed while we look; once open, the fd keeps the content. */
static int open_item(int *fd_out, struct cstor_objstore *ls, const char *id, const char *key,
		     const char *name, cstor_error *err) CSTOR_REQUIRES_SHARED(&ls->lock)
{
	struct cstor_layer_rec *rec = cstor_layer_store_by_id(ls, id);
	if (!rec)
		return cstor_error_set(err, ENOENT, "layer %s was deleted", id);
	if (!strv_contains(rec->h.bd.names, key))
		return cstor_error_set(err, ENOENT, "layer %s has no data item \"%s\"", id, key);
	_cleanup_free_ char *dir = cstor_objstore_data_dir(ls, id);
	if (!dir)
		return cstor_error_set(err, ENOMEM, "out of memory");
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cstor_error_errno(err, errno, "open %s", dir);
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open data item \"%s\" of layer %s", key, id);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cstor_error_errno(err, errno, "stat data item \"%s\" of layer %s", key, id);
	if (!S_ISREG(st.st_mode))
		return cstor_error_set(err, EBADMSG, "data item \"%s\" of layer %s is not a file",
				       key, id);
	*fd_out = TAKE_FD(fd);
	return 0;
}

int cstor_export_open_layer_data(int *fd_out, cstor_store *store, const char *id,
				 const char *key, cstor_error *err)
{
	/* Which store has the layer (a read-only one keeps its data under
	 * its own root); the lookup takes and releases its locks itself. */
	struct cstor_layer *l = NULL;
	struct cstor_objstore *ls = NULL;
	int r = cstor_store_find_layer(&l, &ls, store, id, err);
	if (r < 0)
		return r;
	cstor_layer_free(l);
	_cleanup_free_ char *name = NULL;
	if ((r = cstor_big_data_file_name(&name, key, err)) < 0)
		return r;
	r = cstor_objstore_start_reading(ls, err);
	if (r != 0)
		return r;
	r = open_item(fd_out, ls, id, key, name, err);
	cstor_objstore_done(ls);
	return r;
}
