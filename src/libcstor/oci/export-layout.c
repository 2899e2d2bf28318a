/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing an OCI image layout: blobs/sha256/<hex> (each through a temporary
 * file renamed to its digest, so a blob name never holds partial content),
 * oci-layout, and index.json replaced atomically last, so that the layout
 * references a manifest only once everything it needs is there.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/fileutil.h"
#include "oci/export-internal.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "util/failpoint.h"

#ifndef FICLONE
#define FICLONE _IOW(0x94, 9, int)
#endif

#define REF_NAME_KEY "org.opencontainers.image.ref.name"
#define PROGRESS_STEP (64 * 1024)
#define COPY_BUF (256 * 1024)

void cstor_export_progress_add(struct cstor_export_progress *pr, uint64_t n)
{
	pr->p.layer_done += n;
	pr->p.bytes_done += n;
	if (pr->fn && pr->p.layer_done - pr->reported >= PROGRESS_STEP) {
		pr->reported = pr->p.layer_done;
		pr->fn(pr->ctx, &pr->p);
	}
}

void cstor_export_progress_finish(struct cstor_export_progress *pr)
{
	if (!pr->fn)
		return;
	pr->p.layer_finished = 1;
	pr->fn(pr->ctx, &pr->p);
	pr->p.layer_finished = 0;
}

/* mkdirat that says whether it made the directory. */
static int make_dir(int dirfd, const char *name, bool *made, cstor_error *err)
{
	if (mkdirat(dirfd, name, 0755) == 0)
		*made = true;
	else if (errno != EEXIST)
		return cstor_error_errno(err, errno, "create %s", name);
	return 0;
}

static int open_dir(int dirfd, const char *name, cstor_error *err)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd >= 0 ? fd : cstor_error_errno(err, errno, "open %s", name);
}

#define TMP_BLOB_PREFIX ".tmp-blob-"

/* Temporary blob files left by a cstor export that was killed. Exports
 * into one layout take turns (the flock on the layout directory, held
 * from open to close, and the temporaries live only in between), so with
 * the lock held every file of ours is dead. The prefix is cstor's: other
 * tools' files are left alone. */
static int remove_dead_temporaries(struct cstor_export_layout *l, cstor_error *err)
{
	int fd = fcntl(l->blobs_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return cstor_error_errno(err, errno, "list blobs/sha256");
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return cstor_error_errno(err, e, "list blobs/sha256");
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d)))
		if (startswith(de->d_name, TMP_BLOB_PREFIX) &&
		    unlinkat(l->blobs_fd, de->d_name, 0) < 0 && errno != ENOENT)
			return cstor_error_errno(err, errno, "remove blobs/sha256/%s", de->d_name);
	if (errno)
		return cstor_error_errno(err, errno, "list blobs/sha256");
	return 0;
}

int cstor_export_layout_open(struct cstor_export_layout *l, const char *path, bool durable,
			     cstor_error *err)
{
	*l = (struct cstor_export_layout){ .dir_fd = -1, .blobs_fd = -1, .durable = durable };
	int r = make_dir(AT_FDCWD, path, &l->made_dir, NULL);
	if (r == -ENOENT && (r = cstor_mkdir_parents(path, 0755, err)) == 0)
		r = make_dir(AT_FDCWD, path, &l->made_dir, NULL);
	if (r < 0)
		return cstor_error_errno(err, -r, "create %s", path);
	l->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dir_fd < 0)
		return cstor_error_errno(err, errno, "open %s", path);
	/* Two cstor exports into one layout must not lose each other's
	 * index.json entry (other tools do not take this lock). */
	if (flock(l->dir_fd, LOCK_EX) < 0)
		return cstor_error_errno(err, errno, "lock %s", path);
	if ((r = make_dir(l->dir_fd, "blobs", &l->made_blobs, err)) < 0)
		return r;
	_cleanup_close_ int bfd = open_dir(l->dir_fd, "blobs", err);
	if (bfd < 0)
		return bfd;
	if ((r = make_dir(bfd, "sha256", &l->made_sha256, err)) < 0)
		return r;
	l->blobs_fd = open_dir(bfd, "sha256", err);
	if (l->blobs_fd < 0)
		return l->blobs_fd;
	return remove_dead_temporaries(l, err);
}

void cstor_export_layout_close(struct cstor_export_layout *l, const char *path, bool failed)
{
	if (failed && l->dir_fd >= 0) {
		for (size_t i = 0; l->blobs_fd >= 0 && i < l->n_new_blobs; i++)
			unlinkat(l->blobs_fd, l->new_blobs[i], 0);
		if (l->made_sha256)
			unlinkat(l->dir_fd, "blobs/sha256", AT_REMOVEDIR);
		if (l->made_blobs)
			unlinkat(l->dir_fd, "blobs", AT_REMOVEDIR);
		if (l->made_dir) {
			unlinkat(l->dir_fd, "oci-layout", 0);
			rmdir(path);
		}
	}
	for (size_t i = 0; i < l->n_new_blobs; i++)
		free(l->new_blobs[i]);
	free(l->new_blobs);
	l->new_blobs = NULL;
	l->n_new_blobs = 0;
	closep(&l->blobs_fd);
	closep(&l->dir_fd);
}

static const char *hex_of(const char *digest)
{
	const char *h = startswith(digest, "sha256:");
	return h ? h : digest;
}

bool cstor_export_layout_has_blob(struct cstor_export_layout *l, const char *digest, int64_t size)
{
	struct stat st;
	return fstatat(l->blobs_fd, hex_of(digest), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && st.st_size == size;
}

int cstor_export_blob_begin(struct cstor_export_blob *b, struct cstor_export_layout *l,
			    struct cstor_export_progress *progress, cstor_error *err)
{
	*b = (struct cstor_export_blob){ .layout = l, .fd = -1, .progress = progress };
	int r = cstor_digester_init(&b->dg, CSTOR_DIGEST_SHA256, err);
	if (r < 0)
		return r;
	for (int attempt = 0; attempt < 100 && b->fd < 0; attempt++) {
		uint32_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint32_t)getpid() * 2654435761u + (uint32_t)attempt;
		snprintf(b->tmp, sizeof(b->tmp), TMP_BLOB_PREFIX "%08x", rnd);
		b->fd = openat(l->blobs_fd, b->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			       0644);
		if (b->fd < 0 && errno != EEXIST) {
			r = cstor_error_errno(err, errno, "create a temporary blob file");
			cstor_export_blob_abort(b);
			return r;
		}
	}
	if (b->fd < 0) {
		cstor_export_blob_abort(b);
		return cstor_error_set(err, EEXIST, "cannot create a temporary blob file");
	}
	return 0;
}

int cstor_export_blob_write(void *ctx, const void *buf, size_t len)
{
	struct cstor_export_blob *b = ctx;
	int r = cstor_write_all(b->fd, buf, len);
	if (r < 0)
		return r;
	cstor_digester_update(&b->dg, buf, len);
	b->size += len;
	if (b->progress)
		cstor_export_progress_add(b->progress, len);
	return 0;
}

void cstor_export_blob_abort(struct cstor_export_blob *b)
{
	if (b->fd >= 0) {
		closep(&b->fd);
		unlinkat(b->layout->blobs_fd, b->tmp, 0);
	}
	cstor_digester_done(&b->dg);
}

int cstor_export_blob_commit(struct cstor_export_blob *b, const char *expect_digest,
			     int64_t expect_size, char digest_out[CSTOR_DIGEST_STRING_MAX],
			     const char *what, cstor_error *err)
{
	struct cstor_export_layout *l = b->layout;
	_cleanup_free_ char *name = NULL;
	char d[CSTOR_DIGEST_STRING_MAX];
	int r = cstor_digester_final(&b->dg, d, err);
	if (r < 0)
		goto fail;
	if (expect_digest && !streq(d, expect_digest)) {
		r = cstor_error_set(err, EBADMSG, "%s: content has digest %s, expected %s", what, d,
				    expect_digest);
		goto fail;
	}
	if (expect_size >= 0 && b->size != (uint64_t)expect_size) {
		r = cstor_error_set(err, EBADMSG, "%s: %llu bytes, expected %lld", what,
				    (unsigned long long)b->size, (long long)expect_size);
		goto fail;
	}
	if (l->durable && fdatasync(b->fd) < 0) {
		r = cstor_error_errno(err, errno, "sync %s", what);
		goto fail;
	}
	const char *hex = hex_of(d);
	struct stat st;
	bool existed = fstatat(l->blobs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (!existed) {
		char **grown = realloc(l->new_blobs, (l->n_new_blobs + 1) * sizeof(char *));
		if (grown)
			l->new_blobs = grown;
		if (!grown || !(name = strdup(hex))) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			goto fail;
		}
	}
	if ((r = cstor_failpoint("export:before-blob-rename")) < 0 ||
	    (r = renameat(l->blobs_fd, b->tmp, l->blobs_fd, hex) < 0 ? -errno : 0) < 0) {
		cstor_error_errno(err, -r, "rename %s to blobs/sha256/%s", what, hex);
		goto fail;
	}
	if (name)
		l->new_blobs[l->n_new_blobs++] = TAKE_PTR(name);
	closep(&b->fd);
	if (digest_out)
		memcpy(digest_out, d, sizeof(d));
	cstor_digester_done(&b->dg);
	return 0;
fail:
	cstor_export_blob_abort(b);
	return r;
}

int cstor_export_blob_copy_fd(struct cstor_export_blob *b, int fd, cstor_error *err)
{
	/* A reflink makes the copy free; the source is still read once to
	 * verify its digest, which the caller needs anyway. */
	bool cloned = ioctl(b->fd, FICLONE, fd) == 0;
	_cleanup_free_ char *buf = malloc(COPY_BUF);
	if (!buf)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = read(fd, buf, COPY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cstor_error_errno(err, errno, "read kept layer blob");
		if (n == 0)
			return 0;
		if (!cloned) {
			int r = cstor_export_blob_write(b, buf, (size_t)n);
			if (r < 0)
				return cstor_error_errno(err, -r, "write blob");
			continue;
		}
		cstor_digester_update(&b->dg, buf, (size_t)n);
		b->size += (uint64_t)n;
		if (b->progress)
			cstor_export_progress_add(b->progress, (uint64_t)n);
	}
}

int cstor_export_layout_put(struct cstor_export_layout *l, const void *data, size_t len,
			    const char *expect_digest, char digest_out[CSTOR_DIGEST_STRING_MAX],
			    const char *what, cstor_error *err)
{
	struct cstor_export_blob b;
	int r = cstor_export_blob_begin(&b, l, NULL, err);
	if (r < 0)
		return r;
	if ((r = cstor_export_blob_write(&b, data, len)) < 0) {
		cstor_export_blob_abort(&b);
		return cstor_error_errno(err, -r, "write %s", what);
	}
	return cstor_export_blob_commit(&b, expect_digest, (int64_t)len, digest_out, what, err);
}

/* The parsed index.json, or a new empty index. */
static int load_index(json_t **out, int dir_fd, cstor_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	_cleanup_error_ cstor_error e = CSTOR_ERROR_INIT;
	int r = cstor_read_file_at(dir_fd, "index.json", &buf, &len, "index.json", &e);
	if (r == -ENOENT) {
		*out = json_pack("{s:i,s:[]}", "schemaVersion", 2, "manifests");
		return *out ? 0 : cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (r < 0) {
		cstor_error_move(err, &e);
		return r;
	}
	json_error_t je;
	_cleanup_(json_decrefp) json_t *root = json_loadb(buf, len, 0, &je);
	if (!root)
		return cstor_error_set(err, EBADMSG, "existing index.json: %s at line %d, column %d",
				       je.text, je.line, je.column);
	json_t *m = json_object_get(root, "manifests");
	if (m && !json_is_array(m))
		return cstor_error_set(err, EBADMSG, "existing index.json: \"manifests\" is not a list");
	if (!m && json_object_set_new(root, "manifests", json_array()) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(root);
	return 0;
}

static const char *entry_ref(json_t *entry)
{
	return json_string_value(json_object_get(json_object_get(entry, "annotations"), REF_NAME_KEY));
}

static bool entry_matches(json_t *entry, const char *digest, const char *ref)
{
	const char *eref = entry_ref(entry);
	if (ref)
		return eref && streq(eref, ref);
	const char *ed = json_string_value(json_object_get(entry, "digest"));
	return !eref && ed && streq(ed, digest);
}

int cstor_export_layout_add_manifest(struct cstor_export_layout *l, const char *media_type,
				     const char *digest, int64_t size, const char *ref,
				     cstor_error *err)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	int r = load_index(&root, l->dir_fd, err);
	if (r < 0)
		return r;
	json_t *entry = json_pack("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest,
				  "size", (json_int_t)size);
	if (entry && ref &&
	    json_object_set_new(entry, "annotations", json_pack("{s:s}", REF_NAME_KEY, ref)) < 0)
		json_decref(TAKE_PTR(entry));
	if (!entry)
		return cstor_error_set(err, ENOMEM, "out of memory");
	/* The first matching entry is replaced in place, any later ones go. */
	json_t *list = json_object_get(root, "manifests");
	ssize_t first = -1;
	for (size_t i = json_array_size(list); i-- > 0;) {
		if (!entry_matches(json_array_get(list, i), digest, ref))
			continue;
		if (first >= 0)
			json_array_remove(list, (size_t)first);
		first = (ssize_t)i;
	}
	if ((first >= 0 ? json_array_set_new(list, (size_t)first, entry)
			: json_array_append_new(list, entry)) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");

	unsigned flags = l->durable ? CSTOR_WRITE_DURABLE : 0;
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	struct stat st;
	if (fstatat(l->dir_fd, "oci-layout", &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    (r = cstor_atomic_write_at(l->dir_fd, "oci-layout", layout, sizeof(layout) - 1, 0644,
				       flags, "oci-layout", err)) < 0)
		return r;
	/* The blobs' renames must be on disk before the index names them. */
	if (l->durable && fsync(l->blobs_fd) < 0)
		return cstor_error_errno(err, errno, "sync blobs/sha256");
	_cleanup_free_ char *text = json_dumps(root, JSON_COMPACT);
	if (!text)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return cstor_atomic_write_at(l->dir_fd, "index.json", text, strlen(text), 0644, flags,
				     "index.json", err);
}
