/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push (include/cstor/registry.h). When the registry has every blob the
 * stored manifest names (or can mount it from another repository the
 * image is named in), the stored manifest is sent and nothing else.
 * Otherwise the image is exported as for "oci:"
 * (cstor_store_export_image: the stored manifest byte for byte when the
 * original blobs were kept, so the pushed digest is the pulled one) into
 * a temporary layout, whose blobs are then sent: each one the registry
 * does not have yet (HEAD), layers first, then the config, then the
 * manifest under the tag. The layout's blobs are clones or copies of the
 * kept blobs within one filesystem when $TMPDIR (default /var/tmp) shares
 * it with the store. A compression asked for (cstor_push_options) is
 * applied by the export: layers not in it are compressed anew, several at
 * once (oci/export-layers.c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstor/image.h>
#include <cstor/layer.h>
#include <cstor/registry.h>

#include "oci/transports.h"
#include "oci/pull.h"
#include "registry/client.h"
#include "registry/conf.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/macro.h"
#include "util/rm.h"
#include "util/strv.h"

#define MAX_SMALL (4u << 20)
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"

struct blob_reader {
	int fd;
	const cstor_push_options *o;
	cstor_progress *p;
	uint64_t reported;
};

static bool cancelled(const cstor_push_options *o)
{
	return o->cancel && *o->cancel;
}

static ssize_t blob_read(void *ctx, void *buf, size_t len)
{
	struct blob_reader *br = ctx;
	ssize_t n;
	/* Between chunks: the upload fails, the registry drops the session. */
	if (cancelled(br->o))
		return -ECANCELED;
	do
		n = read(br->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n > 0 && br->o->progress) {
		br->p->layer_done += (uint64_t)n;
		br->p->bytes_done += (uint64_t)n;
		if (br->p->layer_done - br->reported >= 65536) {
			br->reported = br->p->layer_done;
			br->o->progress(br->o->progress_ctx, br->p);
		}
	}
	return n < 0 ? -errno : n;
}

static int read_file(char **out, size_t *len, int dfd, const char *name, cstor_error *err)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return cstor_error_errno(err, errno, "open %s of the exported image", name);
	if (st.st_size > MAX_SMALL)
		return cstor_error_set(err, EFBIG, "%s of the exported image is too big", name);
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return cstor_error_set(err, ENOMEM, "out of memory");
	size_t done = 0;
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n <= 0) {
			free(buf);
			return cstor_error_errno(err, n < 0 ? errno : EIO, "read %s", name);
		}
		done += (size_t)n;
	}
	buf[done] = 0;
	*out = buf;
	*len = done;
	return 0;
}

/* Is blob @digest in the repository, or mounted into it from another
 * repository of the registry the image was pulled from or pushed to? A
 * mount refused opens an upload session: *session (may be NULL: none
 * wanted). */
static int blob_present(bool *present, char **session, struct cstor_reg *reg, char *const *from,
			const char *digest, cstor_error *err)
{
	_cleanup_free_ char *s = NULL;
	int r = cstor_reg_blob_exists(present, reg, digest, err);
	for (size_t i = 0; r == 0 && !*present && from && from[i]; i++) {
		r = cstor_reg_blob_mount(present, &s, reg, digest, from[i], err);
		if (r == -EACCES || r == -ENOENT) {
			/* No pull access there: not mountable, nothing more. */
			cstor_error_clear(err);
			r = 0;
		}
	}
	if (session && r == 0 && !*present)
		*session = TAKE_PTR(s);
	return r;
}

static int push_blob(struct cstor_reg *reg, char *const *from, int layout_fd, json_t *desc,
		     size_t index, size_t n, const cstor_push_options *o, cstor_progress *p,
		     cstor_error *err)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	json_t *sz = json_object_get(desc, "size");
	if (!digest || strncmp(digest, "sha256:", 7) != 0 || !json_is_integer(sz))
		return cstor_error_set(err, EBADMSG, "the exported manifest has a bad descriptor");
	uint64_t size = (uint64_t)json_integer_value(sz);
	p->layer = (unsigned)index;
	p->n_layers = (unsigned)n;
	p->digest = digest;
	p->layer_done = 0;
	p->layer_total = size;
	p->layer_finished = 0;
	p->reused = 0;
	bool exists = false;
	_cleanup_free_ char *session = NULL;
	int r = blob_present(&exists, &session, reg, from, digest, err);
	if (r < 0)
		return r;
	if (!exists) {
		_cleanup_free_ char *name = NULL;
		if (asprintf(&name, "blobs/sha256/%s", digest + 7) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		_cleanup_close_ int fd = openat(layout_fd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cstor_error_errno(err, errno, "open %s of the exported image", name);
		uint64_t before = p->bytes_done;
		struct blob_reader br = { fd, o, p, 0 };
		r = cstor_reg_blob_upload(reg, digest, size, session, blob_read, &br,
					  o->chunk_size, err);
		p->bytes_done = before;
		if (r < 0)
			return r;
	}
	p->reused = exists;
	p->layer_done = size;
	p->bytes_done += size;
	p->layer_finished = 1;
	if (o->progress)
		o->progress(o->progress_ctx, p);
	return 0;
}

static int push_layout(struct cstor_reg *reg, char *const *from, int layout_fd, const char *tag,
		       const cstor_push_options *o, char digest[static CSTOR_DIGEST_STRING_MAX],
		       cstor_error *err)
{
	_cleanup_free_ char *ibuf = NULL, *mbuf = NULL, *mname = NULL;
	size_t ilen, mlen;
	int r = read_file(&ibuf, &ilen, layout_fd, "index.json", err);
	if (r < 0)
		return r;
	json_t *index = json_loadb(ibuf, ilen, 0, NULL);
	json_t *md = json_array_get(json_object_get(index, "manifests"), 0);
	const char *mdg = json_string_value(json_object_get(md, "digest"));
	const char *mt = json_string_value(json_object_get(md, "mediaType"));
	if (!mdg || !mt || strncmp(mdg, "sha256:", 7) != 0 || strlen(mdg) >= CSTOR_DIGEST_STRING_MAX) {
		json_decref(index);
		return cstor_error_set(err, EBADMSG, "the exported index.json names no manifest");
	}
	snprintf(digest, CSTOR_DIGEST_STRING_MAX, "%s", mdg);
	_cleanup_free_ char *media_type = strdup(mt);
	json_decref(index);
	if (!media_type || asprintf(&mname, "blobs/sha256/%s", digest + 7) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = read_file(&mbuf, &mlen, layout_fd, mname, err)) < 0)
		return r;
	json_t *man = json_loadb(mbuf, mlen, 0, NULL);
	json_t *layers = json_object_get(man, "layers"), *config = json_object_get(man, "config");
	if (!json_is_array(layers) || !json_is_object(config)) {
		json_decref(man);
		return cstor_error_set(err, EBADMSG, "the exported manifest has no layers or config");
	}
	cstor_progress p = { 0 };
	size_t n = json_array_size(layers), i;
	json_t *d;
	json_array_foreach(layers, i, d) p.bytes_total += (uint64_t)json_integer_value(
		json_object_get(d, "size"));
	json_array_foreach(layers, i, d)
	{
		if (cancelled(o))
			r = cstor_error_set(err, ECANCELED, "cancelled");
		else
			r = push_blob(reg, from, layout_fd, d, i, n, o, &p, err);
		if (r < 0)
			break;
	}
	/* The config after the layers: a registry may check what it names. */
	if (r == 0) {
		cstor_progress cp = { 0 };
		cstor_push_options quiet = *o;
		quiet.progress = NULL;
		r = push_blob(reg, from, layout_fd, config, 0, 1, &quiet, &cp, err);
	}
	json_decref(man);
	if (r < 0)
		return r;
	return cstor_reg_put_manifest(reg, tag, media_type, mbuf, mlen, err);
}

/* When the registry has (or can mount) every blob the stored manifest
 * names, that manifest is sent as it is: nothing exported, nothing
 * uploaded, the digest kept (even for a Docker schema 2 manifest, which an
 * export would convert). *done false: it does not, export and upload. */
static int push_stored(bool *done, struct cstor_reg *reg, char *const *from, cstor_store *s,
		       const char *id, const char *tag, const cstor_push_options *o,
		       char digest[static CSTOR_DIGEST_STRING_MAX], cstor_error *err)
{
	*done = false;
	_cleanup_free_ void *data = NULL;
	size_t len = 0;
	cstor_error e = CSTOR_ERROR_INIT;
	if (cstor_image_get_big_data(&data, &len, s, id, "manifest", &e) < 0) {
		cstor_error_clear(&e);
		return 0;
	}
	json_t *man = json_loadb(data, len, 0, NULL);
	json_t *layers = json_object_get(man, "layers"), *config = json_object_get(man, "config");
	const char *mt = json_string_value(json_object_get(man, "mediaType"));
	int r = 0;
	bool all = json_is_array(layers) && json_is_object(config);
	size_t i, n = json_array_size(layers);
	json_t *d;
	/* A compression asked for: only if every layer has it already. */
	const char *want = o->compression == CSTOR_DIFF_ZSTD   ? "zstd"
			   : o->compression == CSTOR_DIFF_GZIP ? "gzip"
							       : NULL;
	json_array_foreach(layers, i, d) if (want && all)
	{
		const char *lmt = json_string_value(json_object_get(d, "mediaType"));
		all = lmt && strstr(lmt, want);
	}
	/* The config last: the first missing layer ends the check. */
	for (i = 0; all && r == 0 && i <= n; i++) {
		d = i < n ? json_array_get(layers, i) : config;
		const char *dg = json_string_value(json_object_get(d, "digest"));
		all = dg != NULL;
		if (all)
			r = blob_present(&all, NULL, reg, from, dg, err);
	}
	if (r == 0 && all) {
		_cleanup_free_ char *type = strdup(mt ? mt : MT_OCI_MANIFEST);
		if (!type)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		else if ((r = cstor_digest_buffer(digest, data, len, err)) == 0 &&
			 (r = cstor_reg_put_manifest(reg, tag, type, data, len, err)) == 0)
			*done = true;
	}
	if (r == 0 && *done && o->progress) {
		cstor_progress p = { .n_layers = (unsigned)n, .reused = 1, .layer_finished = 1 };
		json_array_foreach(layers, i, d) p.bytes_total += (uint64_t)json_integer_value(
			json_object_get(d, "size"));
		json_array_foreach(layers, i, d)
		{
			p.layer = (unsigned)i;
			p.digest = json_string_value(json_object_get(d, "digest"));
			p.layer_total = p.layer_done = (uint64_t)json_integer_value(
				json_object_get(d, "size"));
			p.bytes_done += p.layer_total;
			o->progress(o->progress_ctx, &p);
		}
	}
	json_decref(man);
	return r;
}

/* Repositories of the destination's registry the image is named in, for
 * mounting blobs from. */
static int mount_sources(char ***out, const cstor_image *img, const char *host,
			 const char *repo, cstor_error *err)
{
	_cleanup_strv_free_ char **from = calloc(1, sizeof(char *));
	if (!from)
		return cstor_error_set(err, ENOMEM, "out of memory");
	const char *const *names = cstor_image_names(img);
	for (size_t i = 0; names && names[i]; i++) {
		struct cstor_docker_ref ref;
		cstor_error e = CSTOR_ERROR_INIT;
		if (cstor_oci_parse_docker_ref(&ref, names[i], &e) < 0) {
			cstor_error_clear(&e);
			continue;
		}
		int r = 0;
		if (streq(ref.host, host) && !streq(ref.repo, repo) && !strv_contains(from, ref.repo))
			r = strv_append(&from, ref.repo);
		cstor_docker_ref_clear(&ref);
		if (r < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*out = TAKE_PTR(from);
	return 0;
}

static int push(cstor_export_result *result, cstor_store *s, const char *image, const char *dest,
		const cstor_push_options *o, cstor_error *err);

/*
 * The temporary layout's directory, $TMPDIR/cstor-push-XXXXXX: locked
 * (flock on the directory) by its push while it lives, so that the next
 * push removes those whose push was killed (a locked one is alive). The
 * directory is made as cstor-pushing-XXXXXX and renamed once locked, so
 * no push ever sees one of ours unlocked.
 */
#define PUSH_DIR "cstor-push-"
#define MAKING_DIR "cstor-pushing-"

static void remove_dead_dirs(const char *tmp)
{
	_cleanup_close_ int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dup = dfd >= 0 ? fcntl(dfd, F_DUPFD_CLOEXEC, 3) : -1;
	_cleanup_closedir_ DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		if (dup >= 0)
			close(dup);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		bool ours = strncmp(de->d_name, PUSH_DIR, strlen(PUSH_DIR)) == 0 &&
			    strlen(de->d_name) == strlen(PUSH_DIR) + 6;
		bool making = strncmp(de->d_name, MAKING_DIR, strlen(MAKING_DIR)) == 0 &&
			      strlen(de->d_name) == strlen(MAKING_DIR) + 6;
		if (!ours && !making)
			continue;
		_cleanup_close_ int fd = openat(dfd, de->d_name,
						O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0)
			continue;
		/* One being made may be unlocked for a moment: only an old
		 * one (a push killed right then) is removed. */
		if (making && st.st_mtime > time(NULL) - 3600)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue;
		cstor_rm_rf_at_quiet(dfd, de->d_name);
	}
}

static int make_dir(char **path, int *fd_out, const char *tmp, cstor_error *err)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		_cleanup_free_ char *making = NULL, *dir = NULL;
		if (asprintf(&making, "%s/" MAKING_DIR "XXXXXX", tmp) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if (!mkdtemp(making))
			return cstor_error_errno(err, errno, "create a temporary directory in %s", tmp);
		_cleanup_close_ int fd = open(making, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || flock(fd, LOCK_EX) < 0) {
			int e = errno;
			rmdir(making);
			return cstor_error_errno(err, e, "lock %s", making);
		}
		const char *suffix = making + strlen(making) - 6;
		if (asprintf(&dir, "%s/" PUSH_DIR "%s", tmp, suffix) < 0) {
			rmdir(making);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
		/* Never over a directory of another push. */
		if (renameat2(AT_FDCWD, making, AT_FDCWD, dir, RENAME_NOREPLACE) < 0) {
			int e = errno;
			rmdir(making);
			if (e == EEXIST)
				continue;
			return cstor_error_errno(err, e, "rename %s", making);
		}
		*path = TAKE_PTR(dir);
		*fd_out = TAKE_FD(fd);
		return 0;
	}
	return cstor_error_set(err, EEXIST, "cannot create a temporary directory in %s", tmp);
}

int cstor_store_push_image(cstor_export_result *result, cstor_store *s, const char *image,
			   const char *dest, const cstor_push_options *given, cstor_error *err)
{
	/* Version 1 callers' structures end before the version 2 fields. */
	cstor_push_options opts = CSTOR_PUSH_OPTIONS_INIT;
	const cstor_push_options *o = &opts;
	if (given && given->version == 1)
		memcpy(&opts, given, offsetof(cstor_push_options, compression));
	else if (given && given->version == CSTOR_PUSH_OPTIONS_VERSION)
		opts = *given;
	else if (given)
		return cstor_error_set(err, EINVAL, "unsupported cstor_push_options version");
	opts.version = CSTOR_PUSH_OPTIONS_VERSION;
	int r = push(result, s, image, dest, o, err);
	if (r < 0 && cancelled(o)) {
		/* Whichever step noticed it (a read callback's abort is a
		 * libcurl error): one clear word. */
		cstor_error_clear(err);
		r = cstor_error_set(err, ECANCELED,
				    "push of %s to %s cancelled (the registry drops unfinished "
				    "uploads; its manifest was not changed)",
				    image, dest);
	}
	return r;
}

static int push(cstor_export_result *result, cstor_store *s, const char *image, const char *dest,
		const cstor_push_options *o, cstor_error *err)
{
	if (o->flags & ~(uint32_t)CSTOR_REGISTRY_NO_TLS_VERIFY)
		return cstor_error_set(err, EINVAL, "unknown push flags 0x%x", o->flags);
	if (o->compression != 0 && o->compression != CSTOR_DIFF_GZIP &&
	    o->compression != CSTOR_DIFF_ZSTD)
		return cstor_error_set(err, EINVAL, "push: unknown compression %d (gzip or zstd)",
				       o->compression);
	int max_level = o->compression == CSTOR_DIFF_ZSTD ? 20 : 9;
	if (o->compression_level < 0 || o->compression_level > max_level)
		return cstor_error_set(err, EINVAL,
				       "push: compression level %d is not from 1 to %d for %s",
				       o->compression_level, max_level,
				       o->compression == CSTOR_DIFF_ZSTD ? "zstd" : "gzip");
	_cleanup_(cstor_docker_ref_clear) struct cstor_docker_ref ref;
	int r = cstor_oci_parse_docker_ref(&ref, dest, err);
	if (r < 0)
		return r;
	if (strchr(ref.ref, ':'))
		return cstor_error_set(err, EINVAL, "push to %s: a destination is a tag, not a digest",
				       dest);
	/* registries.conf: a blocked registry, a rewritten location, an
	 * insecure one; mirrors are for pulls only. */
	struct cstor_reg_endpoint *eps = NULL;
	size_t n = 0;
	if ((r = cstor_reg_primary_endpoints(&eps, &n, ref.host, ref.repo, err)) < 0)
		return r;
	struct cstor_reg_options ro = { .creds = o->creds,
					.authfile = o->authfile,
					.cert_dir = o->cert_dir,
					.no_tls_verify = (o->flags & CSTOR_REGISTRY_NO_TLS_VERIFY) ||
							 eps[0].insecure,
					.push = true,
					.cancel = o->cancel };
	struct cstor_reg *reg = NULL;
	_cleanup_strv_free_ char **from = NULL;
	cstor_image *img = NULL;
	char digest[CSTOR_DIGEST_STRING_MAX];
	bool done = false;
	r = cstor_store_image(&img, s, image, err);
	if (r == 0)
		r = mount_sources(&from, img, eps[0].host, eps[0].repo, err);
	if (r == 0)
		r = cstor_reg_new(&reg, eps[0].host, eps[0].repo, &ro, err);
	if (r == 0)
		r = push_stored(&done, reg, from, s, cstor_image_id(img), ref.ref, o, digest, err);
	cstor_image_free(img);
	cstor_reg_endpoints_free(eps, n);
	if (r < 0 || done) {
		if (r < 0)
			cstor_error_wrap(err, r, "push %s to %s", image, ref.name);
		else if (result && !(*result = (cstor_export_result){ strdup(digest), 0 })
					       .manifest_digest)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		cstor_reg_free(reg);
		return r;
	}
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *dir = NULL, *layout = NULL, *odest = NULL;
	_cleanup_close_ int dir_fd = -1;
	if (!tmp || !tmp[0])
		tmp = "/var/tmp";
	remove_dead_dirs(tmp);
	bool made = (r = make_dir(&dir, &dir_fd, tmp, err)) == 0;
	if (made && (asprintf(&layout, "%s/layout", dir) < 0 ||
		     asprintf(&odest, "oci:%s", layout) < 0))
		r = cstor_error_set(err, ENOMEM, "out of memory");
	cstor_export_result xr = { 0 };
	struct cstor_oci_export_tuning tune = {
		.compression = o->compression,
		.level = o->compression_level,
		.parallel = o->parallel ? o->parallel : 3,
		.cancel = o->cancel,
	};
	if (r == 0)
		r = cstor_oci_export_tuned(&xr, s, image, odest, NULL, &tune, err);
	if (r == 0) {
		_cleanup_close_ int lfd = open(layout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lfd < 0)
			r = cstor_error_errno(err, errno, "open %s", layout);
		else
			r = push_layout(reg, from, lfd, ref.ref, o, digest, err);
		if (r < 0)
			cstor_error_wrap(err, r, "push %s to %s", image, ref.name);
	}
	if (made)
		cstor_rm_rf_at_quiet(AT_FDCWD, dir);
	if (r == 0 && result) {
		char *md = strdup(digest);
		if (!md)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		else
			*result = (cstor_export_result){ md, xr.manifest_rewritten };
	}
	cstor_export_result_clear(&xr);
	cstor_reg_free(reg);
	return r;
}
