/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Export of an image to an OCI layout, oci-archive, docker-archive or
 * dir: (see transfer.h). The archives and dir: are made from an OCI
 * layout staged next to the destination.
 * Everything that can be checked before writing is (the manifest's type,
 * the config, the layer chain against the manifest), so a broken image
 * fails without touching the destination; a failure while writing removes
 * what this export added, and index.json, replaced atomically at the end,
 * is what makes the image visible.
 *
 * Only public API touches the store (it takes the locks itself), apart
 * from opening kept layer blobs (export-layerdata.c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstor/image.h>
#include <cstor/registry.h>
#include <cstor/transfer.h>

#include "archive/digest.h"
#include "util/error-internal.h"
#include "oci/export-internal.h"
#include "oci/transports.h"
#include "util/cleanup.h"
#include "util/rm.h"
#include "util/strv.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

void cstor_export_result_clear(cstor_export_result *result)
{
	if (!result)
		return;
	free(result->manifest_digest);
	result->manifest_digest = NULL;
	result->manifest_rewritten = 0;
}

/* Everything an export holds. */
struct export {
	struct cstor_export_image x;
	cstor_image *image;
	char *manifest_data;
	size_t manifest_len;
	const char *media_type;
	void *config;
	size_t config_len;
	const char *config_digest;
	json_t *config_json;
};

static void export_done(struct export *e)
{
	for (size_t i = 0; i < e->x.n_layers; i++)
		cstor_layer_free(e->x.layers[i]);
	free(e->x.layers);
	json_decref(e->x.manifest);
	json_decref(e->config_json);
	free(e->manifest_data);
	free(e->config);
	cstor_image_free(e->image);
}

static int load_manifest(struct export *e, cstor_error *err)
{
	const char *id = e->x.id;
	void *data = NULL;
	int r = cstor_image_get_big_data(&data, &e->manifest_len, e->x.store, id, "manifest", err);
	const char *digest = cstor_image_digest(e->image);
	if (r == -ENOENT && digest) {
		_cleanup_free_ char *key = NULL;
		if (asprintf(&key, "manifest-%s", digest) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		cstor_error_clear(err);
		r = cstor_image_get_big_data(&data, &e->manifest_len, e->x.store, id, key, err);
	}
	if (r == -ENOENT) {
		cstor_error_clear(err);
		return cstor_error_set(err, ENOENT, "image %s has no manifest", id);
	}
	if (r < 0)
		return r;
	e->manifest_data = data;

	json_error_t je;
	json_t *m = e->x.manifest = json_loadb(e->manifest_data, e->manifest_len, 0, &je);
	if (!m)
		return cstor_error_set(err, EBADMSG, "manifest of image %s: %s at line %d, column %d",
				       id, je.text, je.line, je.column);
	const char *mt = json_string_value(json_object_get(m, "mediaType"));
	json_int_t version = json_integer_value(json_object_get(m, "schemaVersion"));
	if ((mt && (streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST))) ||
	    (!mt && json_object_get(m, "manifests")))
		return cstor_error_set(err, ENOTSUP,
				       "the manifest of image %s is a manifest list: cstor exports "
				       "single-platform images",
				       id);
	if (version == 1)
		return cstor_error_set(err, ENOTSUP,
				       "image %s has a Docker schema 1 manifest, which cstor does "
				       "not export",
				       id);
	if (mt && !streq(mt, MT_OCI_MANIFEST) && !streq(mt, MT_DOCKER_V2))
		return cstor_error_set(err, ENOTSUP, "image %s: unsupported manifest type %s", id, mt);
	if (version != 2)
		return cstor_error_set(err, EBADMSG, "manifest of image %s: schemaVersion is not 2", id);
	e->media_type = mt ? mt : MT_OCI_MANIFEST;
	e->x.docker = streq(e->media_type, MT_DOCKER_V2);
	return 0;
}

/* A descriptor we can export: a sha256 digest and a size. */
static int check_descriptor(json_t *d, const char *what, const char *id, cstor_error *err)
{
	const char *digest = json_string_value(json_object_get(d, "digest"));
	json_t *size = json_object_get(d, "size");
	if (!digest || !json_is_integer(size) || json_integer_value(size) < 0)
		return cstor_error_set(err, EBADMSG,
				       "manifest of image %s: %s has no valid digest and size", id,
				       what);
	cstor_digest_algorithm alg;
	if (cstor_digest_parse(digest, &alg, NULL, NULL) < 0)
		return cstor_error_set(err, EBADMSG, "manifest of image %s: %s: invalid digest %s",
				       id, what, digest);
	if (alg != CSTOR_DIGEST_SHA256)
		return cstor_error_set(err, ENOTSUP, "manifest of image %s: %s: %s digests are not "
				       "supported", id, what, cstor_digest_algorithm_name(alg));
	return 0;
}

static int load_config(struct export *e, cstor_error *err)
{
	const char *id = e->x.id;
	json_t *desc = json_object_get(e->x.manifest, "config");
	int r = check_descriptor(desc, "config", id, err);
	if (r < 0)
		return r;
	e->config_digest = json_string_value(json_object_get(desc, "digest"));
	r = cstor_image_get_big_data(&e->config, &e->config_len, e->x.store, id, e->config_digest,
				     err);
	if (r == -ENOENT) {
		cstor_error_clear(err);
		return cstor_error_set(err, ENOENT, "the config %s of image %s is not stored",
				       e->config_digest, id);
	}
	if (r < 0)
		return r;
	char d[CSTOR_DIGEST_STRING_MAX];
	if ((r = cstor_digest_buffer(d, e->config, e->config_len, err)) < 0)
		return r;
	if (!streq(d, e->config_digest) ||
	    (json_int_t)e->config_len != json_integer_value(json_object_get(desc, "size")))
		return cstor_error_set(err, EBADMSG,
				       "the config of image %s does not match its digest %s or size",
				       id, e->config_digest);
	/* A config that is not JSON is still exported; its DiffIDs then
	 * cannot be checked. */
	e->config_json = json_loadb(e->config, e->config_len, 0, NULL);
	json_t *ids = json_object_get(json_object_get(e->config_json, "rootfs"), "diff_ids");
	e->x.diff_ids = json_is_array(ids) ? ids : NULL;
	return 0;
}

/* The image's layers, base first; one per manifest layer. */
static int load_layers(struct export *e, cstor_error *err)
{
	const char *id = e->x.id;
	json_t *layers = json_object_get(e->x.manifest, "layers");
	if (!json_is_array(layers))
		return cstor_error_set(err, EBADMSG, "manifest of image %s has no layer list", id);
	size_t n = json_array_size(layers);
	for (size_t i = 0; i < n; i++) {
		char what[32];
		snprintf(what, sizeof(what), "layer %zu", i + 1);
		int r = check_descriptor(json_array_get(layers, i), what, id, err);
		if (r < 0)
			return r;
	}
	if (e->x.diff_ids && json_array_size(e->x.diff_ids) != n)
		return cstor_error_set(err, EBADMSG,
				       "image %s: its manifest has %zu layers, its config %zu DiffIDs",
				       id, n, json_array_size(e->x.diff_ids));
	if (!(e->x.layers = calloc(n + 1, sizeof(cstor_layer *))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	/* Stops after n + 1, so a parent loop cannot keep us here. */
	for (const char *next = cstor_image_top_layer(e->image); next;) {
		/* Named, rather than a count that does not match: a corrupt
		 * store whose parents form a cycle. */
		for (size_t k = 0; k < e->x.n_layers; k++)
			if (streq(cstor_layer_id(e->x.layers[k]), next))
				return cstor_error_set(
					err, ELOOP, "layers of image %s: the parent of layer %s is %s, "
					"its own descendant (the parents form a cycle)", id,
					cstor_layer_id(e->x.layers[e->x.n_layers - 1]), next);
		if (e->x.n_layers == n)
			return cstor_error_set(err, EBADMSG,
					       "image %s has more layers than the %zu of its manifest",
					       id, n);
		cstor_layer **slot = &e->x.layers[e->x.n_layers];
		int r = cstor_store_layer(slot, e->x.store, next, err);
		if (r < 0)
			return cstor_error_wrap(err, r, "layers of image %s", id);
		e->x.n_layers++;
		next = cstor_layer_parent(*slot);
	}
	if (e->x.n_layers != n)
		return cstor_error_set(err, EBADMSG,
				       "image %s has %zu layers, but its manifest lists %zu", id,
				       e->x.n_layers, n);
	for (size_t i = 0; i < n / 2; i++) {
		cstor_layer *t = e->x.layers[i];
		e->x.layers[i] = e->x.layers[n - 1 - i];
		e->x.layers[n - 1 - i] = t;
	}
	return 0;
}

/* Write the image into an open layout; the manifest's digest goes to @digest. */
static int write_image(struct export *e, struct cstor_export_layout *l, const char *ref,
		       char digest[CSTOR_DIGEST_STRING_MAX], cstor_error *err)
{
	int r = cstor_export_layers(&e->x, l, err);
	if (r < 0)
		return r;
	if ((r = cstor_export_layout_put(l, e->config, e->config_len, e->config_digest, NULL,
					 "config", err)) < 0)
		return r;
	/* After the layers: the conversion looks at the blobs written. */
	if (e->x.docker) {
		if ((r = cstor_export_convert_to_oci(&e->x, l, err)) < 0)
			return r;
		e->media_type = MT_OCI_MANIFEST;
	}
	_cleanup_free_ char *rewritten = NULL;
	const char *m = e->manifest_data;
	size_t len = e->manifest_len;
	if (e->x.rewritten) {
		if (!(rewritten = json_dumps(e->x.manifest, JSON_COMPACT | JSON_PRESERVE_ORDER)))
			return cstor_error_set(err, ENOMEM, "out of memory");
		m = rewritten;
		len = strlen(rewritten);
	}
	if ((r = cstor_export_layout_put(l, m, len, NULL, digest, "manifest", err)) < 0)
		return r;
	return cstor_export_layout_add_manifest(l, e->media_type, digest, (int64_t)len, ref, err);
}

static int to_dir(struct export *e, const struct cstor_export_dest *d,
		  char digest[CSTOR_DIGEST_STRING_MAX], cstor_error *err)
{
	struct cstor_export_layout l;
	int r = cstor_export_layout_open(&l, d->path, true, err);
	if (r == 0)
		r = write_image(e, &l, d->ref, digest, err);
	cstor_export_layout_close(&l, d->path, r < 0);
	return r;
}

/* docker-archive: each layer's uncompressed tarball (its diff, which for
 * an applied layer is the tarball as applied) into the staged layout,
 * checked against the config's DiffIDs, then the archive from it. */
static int write_docker_archive(struct export *e, struct cstor_export_layout *l,
				const struct cstor_export_dest *d, cstor_error *err)
{
	_cleanup_strv_free_ char **ids = calloc(e->x.n_layers + 1, sizeof(char *));
	if (!ids)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < e->x.n_layers; i++) {
		const char *lid = cstor_layer_id(e->x.layers[i]);
		const char *want =
			e->x.diff_ids ? json_string_value(json_array_get(e->x.diff_ids, i)) : NULL;
		char got[CSTOR_DIGEST_STRING_MAX];
		if (want && strncmp(want, "sha256:", 7) == 0 &&
		    cstor_export_layout_has_blob(l, want,
						 cstor_layer_uncompressed_size(e->x.layers[i]))) {
			snprintf(got, sizeof(got), "%s", want);
		} else {
			struct cstor_export_blob b;
			int r = cstor_export_blob_begin(&b, l, NULL, err);
			if (r < 0)
				return r;
			r = cstor_store_diff(e->x.store, NULL, lid, CSTOR_DIFF_UNCOMPRESSED,
					     cstor_export_blob_write, &b, err);
			if (r < 0) {
				cstor_export_blob_abort(&b);
				return cstor_error_wrap(err, r, "layer %s", lid);
			}
			char what[96];
			snprintf(what, sizeof(what), "the uncompressed layer %s (DiffID)", lid);
			if ((r = cstor_export_blob_commit(&b, want, -1, got, what, err)) < 0)
				return r;
		}
		if (!(ids[i] = strdup(got)))
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return cstor_export_docker_archive_write(l->dir_fd, d->path, e->config_digest, ids, d->ref,
						 err);
}

/* dir: the staged layout becomes containers/image's dir: layout in place
 * (blobs by hex name, manifest.json, version), then replaces @d->path in
 * one rename: a directory that does not exist, is empty or was a dir:
 * image (it has "version"; containers/image replaces those too). */
#define DIR_VERSION "Directory Transport Version: 1.1\n"

static int write_dir(struct cstor_export_layout *l, const char *tmp, const char *manifest_digest,
		     const struct cstor_export_dest *d, cstor_error *err)
{
	/* Names first: a directory is not renamed out of while read. */
	_cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
	if (!names)
		return cstor_error_set(err, ENOMEM, "out of memory");
	{
		_cleanup_closedir_ DIR *dir = NULL;
		/* A new open file: a dup would share the offset of the reads
		 * before. */
		int fd = openat(l->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || !(dir = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			return cstor_error_errno(err, errno, "read the staged blobs");
		}
		struct dirent *de;
		while ((errno = 0, de = readdir(dir)))
			if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
			    strv_append(&names, de->d_name) < 0)
				return cstor_error_set(err, ENOMEM, "out of memory");
		if (errno)
			return cstor_error_errno(err, errno, "read the staged blobs");
	}
	const char *mhex = manifest_digest + strlen("sha256:");
	for (size_t i = 0; names[i]; i++) {
		const char *n = names[i];
		if (n[0] == '.') { /* not a blob: a dead export's temporary file */
			unlinkat(l->blobs_fd, n, 0);
			continue;
		}
		const char *to = streq(n, mhex) ? "manifest.json" : n;
		if (renameat(l->blobs_fd, n, l->dir_fd, to) < 0)
			return cstor_error_errno(err, errno, "move blob %s", n);
	}
	if (unlinkat(l->dir_fd, "index.json", 0) < 0 || unlinkat(l->dir_fd, "oci-layout", 0) < 0 ||
	    unlinkat(l->dir_fd, "blobs/sha256", AT_REMOVEDIR) < 0 ||
	    unlinkat(l->dir_fd, "blobs", AT_REMOVEDIR) < 0)
		return cstor_error_errno(err, errno, "tidy the staged layout");
	_cleanup_close_ int vfd = openat(l->dir_fd, "version",
					 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (vfd < 0 || write(vfd, DIR_VERSION, strlen(DIR_VERSION)) != (ssize_t)strlen(DIR_VERSION) ||
	    fsync(vfd) < 0 || fsync(l->dir_fd) < 0)
		return cstor_error_errno(err, errno ? errno : EIO, "write %s/version", tmp);
	if (fchmod(l->dir_fd, 0755) < 0)
		return cstor_error_errno(err, errno, "chmod %s", tmp);
	/* What is there: nothing, an empty directory, or a dir: image. */
	struct stat st;
	if (lstat(d->path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return cstor_error_set(err, EEXIST, "%s exists and is not a directory",
					       d->path);
		_cleanup_free_ char *ver = NULL;
		if (asprintf(&ver, "%s/version", d->path) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if (rmdir(d->path) < 0) {
			if (errno != ENOTEMPTY && errno != EEXIST)
				return cstor_error_errno(err, errno, "replace %s", d->path);
			if (access(ver, F_OK) < 0)
				return cstor_error_set(err, EEXIST,
						       "%s is a directory that holds something other "
						       "than a dir: image: refusing to overwrite it",
						       d->path);
			/* The old image goes in the same rename (RENAME_EXCHANGE),
			 * then is removed with the staging name. */
			if (renameat2(AT_FDCWD, tmp, AT_FDCWD, d->path, RENAME_EXCHANGE) < 0)
				return cstor_error_errno(err, errno, "replace %s", d->path);
			return 0;
		}
	} else if (errno != ENOENT) {
		return cstor_error_errno(err, errno, "stat %s", d->path);
	}
	if (rename(tmp, d->path) < 0)
		return cstor_error_errno(err, errno, "rename to %s", d->path);
	return 0;
}

/* The layout is built in a directory next to the archive (same
 * filesystem, no copy across devices) and always removed. */
static int to_archive(struct export *e, const struct cstor_export_dest *d,
		      char digest[CSTOR_DIGEST_STRING_MAX], cstor_error *err)
{
	_cleanup_free_ char *dcopy = strdup(d->path), *bcopy = strdup(d->path), *tmp = NULL;
	if (!dcopy || !bcopy)
		return cstor_error_set(err, ENOMEM, "out of memory");
	const char *dir = dirname(dcopy);
	/* What an export killed before left here (nothing else removes it:
	 * it is not in the store). */
	cstor_export_archive_remove_dead(d->path);
	struct cstor_export_layout l;
	int r = 0;
	for (int attempt = 0;; attempt++) {
		if (attempt == 10)
			return cstor_error_set(err, EEXIST,
					       "cannot create a temporary directory next to %s",
					       d->path);
		free(tmp);
		if (asprintf(&tmp, "%s/" CSTOR_ARCHIVE_STAGING_FMT "XXXXXX", dir, basename(bcopy)) <
		    0) {
			tmp = NULL;
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		if (!mkdtemp(tmp))
			return cstor_error_errno(err, errno,
						 "create a temporary directory next to %s", d->path);
		/* The layout holds a lock on the directory while it is open,
		 * which marks it live; another export's tidying may have
		 * removed it before we took the lock: then make another. */
		r = cstor_export_layout_open(&l, tmp, false, err);
		struct stat st;
		if (r < 0 || fstat(l.dir_fd, &st) < 0 || st.st_nlink > 0)
			break;
		cstor_export_layout_close(&l, tmp, false);
	}
	/* The ref names an index.json entry only in an oci-archive. */
	if (r == 0)
		r = write_image(e, &l, d->kind == CSTOR_EXPORT_OCI_ARCHIVE ? d->ref : NULL, digest,
				err);
	if (r == 0 && d->kind == CSTOR_EXPORT_OCI_ARCHIVE)
		r = cstor_export_archive_write(l.dir_fd, d->path, err);
	else if (r == 0 && d->kind == CSTOR_EXPORT_DOCKER_ARCHIVE)
		r = write_docker_archive(e, &l, d, err);
	else if (r == 0 && d->kind == CSTOR_EXPORT_DIR)
		r = write_dir(&l, tmp, digest, d, err);
	cstor_export_layout_close(&l, tmp, false);
	cstor_rm_rf_at_quiet(AT_FDCWD, tmp);
	return r;
}

int cstor_oci_export_local(cstor_export_result *result, cstor_store *store, const char *ref,
			   const char *dest, const cstor_export_options *opts, cstor_error *err)
{
	return cstor_oci_export_tuned(result, store, ref, dest, opts, NULL, err);
}

int cstor_oci_export_tuned(cstor_export_result *result, cstor_store *store, const char *ref,
			   const char *dest, const cstor_export_options *opts,
			   const struct cstor_oci_export_tuning *t, cstor_error *err)
{
	if (!store || !ref || !dest)
		return cstor_error_set(err, EINVAL, "export: missing arguments");
	if (opts && opts->version != CSTOR_EXPORT_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_export_options version");
	if (opts && opts->flags)
		return cstor_error_set(err, EINVAL, "unknown export flags 0x%x", opts->flags);
	struct cstor_export_dest d;
	int r = cstor_export_dest_parse(&d, dest, err);
	if (r < 0)
		return r;

	struct export e = { .x = { .store = store } };
	if (t) {
		e.x.compression = t->compression;
		e.x.force_compression = t->compression != 0;
		e.x.level = t->level;
		e.x.parallel = t->parallel;
		e.x.cancel = t->cancel;
	}
	if (opts)
		e.x.progress = (struct cstor_export_progress){ .fn = opts->progress,
								.ctx = opts->progress_ctx };
	char digest[CSTOR_DIGEST_STRING_MAX];
	if ((r = cstor_store_image(&e.image, store, ref, err)) < 0)
		goto out;
	e.x.id = cstor_image_id(e.image);
	if ((r = load_manifest(&e, err)) < 0 || (r = load_config(&e, err)) < 0 ||
	    (r = load_layers(&e, err)) < 0 ||
	    (e.x.docker && (r = cstor_export_docker_check(&e.x, err)) < 0))
		goto out;
	r = d.kind == CSTOR_EXPORT_OCI_DIR ? to_dir(&e, &d, digest, err)
					   : to_archive(&e, &d, digest, err);
	if (r < 0) {
		r = cstor_error_wrap(err, r, "write %s", dest);
		goto out;
	}
	if (result) {
		char *md = strdup(digest);
		if (!md) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		*result = (cstor_export_result){ .manifest_digest = md,
						 .manifest_rewritten = e.x.rewritten };
	}
out:
	export_done(&e);
	cstor_export_dest_done(&d);
	return r;
}
