/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dedup: identical files of the layers images use share their extents, as
 * newest containers/storage's store.Dedup does it: the layers of every
 * image (its top layer and parents, of the primary store only), their own
 * files (vfs: the whole tree; overlay: diff/), regular non-empty files
 * grouped by a hash of their contents (or by size), each file handed to
 * the kernel's FIDEDUPERANGE with the first of its group that takes it.
 * The kernel compares the bytes itself and shares nothing that differs,
 * so the hash only saves work: "size" is as safe as "sha256". The layer
 * store is held for writing throughout, as Go does.
 *
 * Differences from Go: the group key includes the size (Go's CRC and
 * SHA-256 keys do not, and a collision could share a prefix of a longer
 * file); "crc" is CRC-64/ISO (Go: ECMA), which changes nothing but the
 * grouping of colliding files; a file is deduplicated in pieces of 16 MiB
 * (Go asks once for the whole file, which btrfs caps at 16 MiB).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstor/check.h>
#include <cstor/image.h>

#include "archive/crc64.h"
#include "archive/digest.h"
#include "records/layer-rec.h"
#include "store/engine.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/strv.h"

#define DEDUP_CHUNK (16u * 1024 * 1024)

struct dfile {
	char *key;   /* method hash, then the size */
	size_t dir;  /* index into dirs */
	char *rel;   /* path below the layer directory */
	dev_t dev;
	ino_t ino;
};

struct dedup {
	int method;
	int *dirs;
	size_t n_dirs;
	struct dfile *files;
	size_t n, cap;
	/* (dev, ino) seen, sorted on insert would cost; a simple open
	 * hash set. */
	struct { dev_t dev; ino_t ino; bool used; } *seen;
	size_t seen_cap, seen_n;
};

static void dedup_done(struct dedup *d)
{
	for (size_t i = 0; i < d->n_dirs; i++)
		if (d->dirs[i] >= 0)
			close(d->dirs[i]);
	free(d->dirs);
	for (size_t i = 0; i < d->n; i++) {
		free(d->files[i].key);
		free(d->files[i].rel);
	}
	free(d->files);
	free(d->seen);
}

/* True the first time (@dev, @ino) is seen: hard links are one file. */
static int first_visit(struct dedup *d, dev_t dev, ino_t ino)
{
	if (d->seen_n * 2 >= d->seen_cap) {
		size_t cap = d->seen_cap ? d->seen_cap * 2 : 1024;
		__typeof__(d->seen) ns = calloc(cap, sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		for (size_t i = 0; i < d->seen_cap; i++) {
			if (!d->seen[i].used)
				continue;
			size_t h = ((size_t)d->seen[i].ino * 31 + (size_t)d->seen[i].dev) % cap;
			while (ns[h].used)
				h = (h + 1) % cap;
			ns[h] = d->seen[i];
		}
		free(d->seen);
		d->seen = ns;
		d->seen_cap = cap;
	}
	size_t h = ((size_t)ino * 31 + (size_t)dev) % d->seen_cap;
	while (d->seen[h].used) {
		if (d->seen[h].dev == dev && d->seen[h].ino == ino)
			return 0;
		h = (h + 1) % d->seen_cap;
	}
	d->seen[h].used = true;
	d->seen[h].dev = dev;
	d->seen[h].ino = ino;
	d->seen_n++;
	return 1;
}

static int file_key(struct dedup *d, int fd, const struct stat *st, char **key, cstor_error *err)
{
	char h[CSTOR_DIGEST_STRING_MAX] = "";
	if (d->method == CSTOR_DEDUP_HASH_SHA256) {
		int r = cstor_digest_fd(h, NULL, fd, err);
		if (r < 0)
			return r;
	} else if (d->method == CSTOR_DEDUP_HASH_CRC) {
		uint64_t crc = 0;
		char buf[16384];
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return cstor_error_errno(err, errno, "read");
			if (n == 0)
				break;
			crc = cstor_crc64_update(crc, buf, (size_t)n);
		}
		snprintf(h, sizeof(h), "crc:%016llx", (unsigned long long)crc);
	}
	if (asprintf(key, "%s/%lld", h, (long long)st->st_size) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* Every regular non-empty file below directory @fd (owned). */
static int collect(struct dedup *d, size_t dir, int fd, const char *rel, cstor_error *err)
{
	DIR *dp = fdopendir(fd);
	if (!dp) {
		int e = errno;
		close(fd);
		return cstor_error_errno(err, e, "open directory %s", rel[0] ? rel : ".");
	}
	_cleanup_closedir_ DIR *dd = dp;
	struct dirent *de;
	int r = 0;
	while (r == 0 && (errno = 0, de = readdir(dd))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		struct stat st;
		if (fstatat(dirfd(dd), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return cstor_error_errno(err, errno, "stat %s", path);
		}
		if (S_ISDIR(st.st_mode)) {
			int cfd = openat(dirfd(dd), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0)
				return cstor_error_errno(err, errno, "open %s", path);
			r = collect(d, dir, cfd, path, err);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_size == 0)
			continue;
		int fv = first_visit(d, st.st_dev, st.st_ino);
		if (fv < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if (fv == 0)
			continue;
		_cleanup_close_ int ffd = -1;
		if (d->method != CSTOR_DEDUP_HASH_SIZE) {
			ffd = openat(dirfd(dd), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (ffd < 0)
				return cstor_error_errno(err, errno, "open %s", path);
		}
		char *key;
		if ((r = file_key(d, ffd, &st, &key, err)) < 0)
			return cstor_error_wrap(err, r, "%s", path);
		if (d->n == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 256;
			struct dfile *nf = realloc(d->files, cap * sizeof(*nf));
			if (!nf) {
				free(key);
				return cstor_error_set(err, ENOMEM, "out of memory");
			}
			d->files = nf;
			d->cap = cap;
		}
		d->files[d->n++] = (struct dfile){ .key = key, .dir = dir, .rel = TAKE_PTR(path),
						   .dev = st.st_dev, .ino = st.st_ino };
	}
	if (r == 0 && errno != 0)
		return cstor_error_errno(err, errno, "read directory %s", rel[0] ? rel : ".");
	return r;
}

static int dfile_cmp(const void *a, const void *b)
{
	const struct dfile *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	/* Stable by walk order: the first found is the one kept. */
	return x < y ? -1 : x > y;
}

/* Share @dst's extents with @src's: bytes the kernel deduplicated; 0 when
 * the contents differ; -EOPNOTSUPP where the filesystem cannot. */
static int64_t dedup_pair(struct dedup *d, const struct dfile *src, const struct dfile *dst)
{
	_cleanup_close_ int sfd = openat(d->dirs[src->dir], src->rel,
					 O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int dfd = openat(d->dirs[dst->dir], dst->rel,
					 O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 || dfd < 0)
		return -errno;
	struct stat st;
	if (fstat(sfd, &st) < 0)
		return -errno;
	/* One destination after the header's flexible array. */
	_Alignas(struct file_dedupe_range) unsigned char
		buf[sizeof(struct file_dedupe_range) + sizeof(struct file_dedupe_range_info)];
	struct file_dedupe_range *req = (struct file_dedupe_range *)buf;
	int64_t total = 0;
	for (uint64_t off = 0; off < (uint64_t)st.st_size;) {
		uint64_t len = (uint64_t)st.st_size - off;
		if (len > DEDUP_CHUNK)
			len = DEDUP_CHUNK;
		memset(buf, 0, sizeof(buf));
		req->src_offset = off;
		req->src_length = len;
		req->dest_count = 1;
		req->info[0].dest_fd = dfd;
		req->info[0].dest_offset = off;
		if (ioctl(sfd, FIDEDUPERANGE, req) < 0)
			return total > 0 ? total : -errno;
		if (req->info[0].status != FILE_DEDUPE_RANGE_SAME || req->info[0].bytes_deduped == 0)
			break;
		total += (int64_t)req->info[0].bytes_deduped;
		off += req->info[0].bytes_deduped;
	}
	return total;
}

static bool not_supported(int64_t r)
{
	return r == -EOPNOTSUPP || r == -ENOTTY || r == -ENOSYS;
}

int cstor_store_dedup(uint64_t *deduped, cstor_store *s, int hash_method, cstor_error *err)
{
	*deduped = 0;
	if (hash_method != CSTOR_DEDUP_HASH_CRC && hash_method != CSTOR_DEDUP_HASH_SIZE &&
	    hash_method != CSTOR_DEDUP_HASH_SHA256)
		return cstor_error_set(err, EINVAL, "invalid hash method: %d", hash_method);
	if (!s->driver_ops->apply_target)
		return cstor_error_set(err, ENOTSUP, "driver %s does not support dedup",
				       s->driver_ops->name);
	cstor_image **imgs = NULL;
	int r = cstor_store_images(&imgs, s, err);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **tops = NULL;
	for (size_t i = 0; imgs && imgs[i]; i++) {
		const char *t = cstor_image_top_layer(imgs[i]);
		if (t && t[0] && strv_append(&tops, t) < 0) {
			cstor_image_list_free(imgs);
			return cstor_error_set(err, ENOMEM, "out of memory");
		}
	}
	cstor_image_list_free(imgs);

	struct cstor_objstore *ls = s->layers;
	r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	_cleanup_(dedup_done) struct dedup d = { .method = hash_method };
	_cleanup_strv_free_ char **ids = NULL;
	/* Each image's chain, in the primary store only (Go's rlstore). */
	for (size_t i = 0; r == 0 && tops && tops[i]; i++) {
		const char *cur = tops[i];
		while (r == 0 && cur) {
			if (strv_contains(ids, cur))
				break;
			struct cstor_obj_head *h = cstor_objstore_by_id(ls, cur);
			if (!h)
				break;
			if (strv_append(&ids, cur) < 0)
				r = cstor_error_set(err, ENOMEM, "out of memory");
			cur = CSTOR_LAYER_REC(h)->parent;
			if (cur && !cur[0])
				cur = NULL;
		}
	}
	for (size_t i = 0; r == 0 && ids && ids[i]; i++) {
		int fd, wm;
		bool skip;
		cstor_error e = CSTOR_ERROR_INIT;
		/* A layer whose files are missing is left out, as Go skips
		 * a directory that does not exist. */
		if (s->driver_ops->apply_target(s->driver, ids[i], &fd, &wm, &skip, &e) < 0) {
			cstor_error_clear(&e);
			continue;
		}
		int *nd = realloc(d.dirs, (d.n_dirs + 1) * sizeof(int));
		if (!nd) {
			close(fd);
			r = cstor_error_set(err, ENOMEM, "out of memory");
			break;
		}
		d.dirs = nd;
		d.dirs[d.n_dirs++] = fd;
		int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dup_fd < 0) {
			r = cstor_error_errno(err, errno, "dup");
			break;
		}
		if ((r = collect(&d, d.n_dirs - 1, dup_fd, "", err)) < 0)
			cstor_error_wrap(err, r, "layer %s", ids[i]);
	}
	if (r == 0 && d.n > 1)
		qsort(d.files, d.n, sizeof(*d.files), dfile_cmp);
	/* Each file against the earlier ones of its group that it could not
	 * be shared with, first to last, as Go tries them. */
	for (size_t g = 0; r == 0 && g < d.n;) {
		size_t end = g + 1;
		while (end < d.n && streq(d.files[end].key, d.files[g].key))
			end++;
		size_t *kept = malloc((end - g) * sizeof(size_t));
		if (!kept) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			break;
		}
		size_t nk = 0;
		kept[nk++] = g;
		for (size_t i = g + 1; i < end && r == 0; i++) {
			int64_t got = 0;
			for (size_t k = 0; k < nk; k++) {
				got = dedup_pair(&d, &d.files[kept[k]], &d.files[i]);
				if (not_supported(got)) {
					/* Go: no reflinks here, nothing to do. */
					free(kept);
					cstor_objstore_done(ls);
					return 0;
				}
				if (got > 0)
					break;
			}
			if (got > 0)
				*deduped += (uint64_t)got;
			else
				kept[nk++] = i;
		}
		free(kept);
		g = end;
	}
	cstor_objstore_done(ls);
	return r;
}
