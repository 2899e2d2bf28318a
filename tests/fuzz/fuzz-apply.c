/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer extraction over arbitrary bytes. Each input is applied into a fresh
 * root inside a sandbox directory that also holds canaries; afterwards the
 * sandbox must hold exactly the root and the untouched canaries (nothing
 * created, removed or changed next to the root), and the root is removed.
 *
 * The first byte picks the options: bits 0-1 the whiteout mode (3 =
 * execute), bit 2 skip_existing_root, bit 3 the O_PATH walk instead of
 * openat2, bit 4 a tar-split packer, bit 5 small reads from the source,
 * bit 6 "structured": the rest is not a tar but a list of members that is
 * turned into a valid one (see build_tar()), so that the fuzzer spends its
 * time on trees rather than on header checksums.
 * Must run as root (owners, devices), like the store.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"

#include "archive/apply.h"
#include "archive/tarsplit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t *p;
	size_t len, pos, chunk;
};

static ssize_t src_read(void *ctx, void *out, size_t len)
{
	struct src *s = ctx;
	size_t n = MIN(s->len - s->pos, MIN(len, s->chunk));
	if (n)
		memcpy(out, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static int discard(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return 0;
}

static char sandbox[256];
static int sandbox_fd = -1;
static struct stat canary_st, canary_dir_st, link_st;

static void remove_sandbox(void)
{
	if (sandbox_fd >= 0) {
		cstor_rm_rf_at(AT_FDCWD, sandbox, NULL);
		close(sandbox_fd);
		sandbox_fd = -1;
	}
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(sandbox, sizeof(sandbox), "%s/cstor-fuzz-apply.XXXXXX", t && *t ? t : "/tmp");
	assert(mkdtemp(sandbox));
	sandbox_fd = open(sandbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert(sandbox_fd >= 0);
	atexit(remove_sandbox);
	int fd = openat(sandbox_fd, "canary", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert(fd >= 0 && write(fd, "canary\n", 7) == 7);
	close(fd);
	assert(mkdirat(sandbox_fd, "canary-dir", 0755) == 0);
	/* Archives that guess "../canary" or absolute paths into /tmp reach
	 * these only if the root does not hold them. */
	assert(symlinkat("canary-dir", sandbox_fd, "canary-link") == 0);
	assert(fstatat(sandbox_fd, "canary", &canary_st, 0) == 0);
	assert(fstatat(sandbox_fd, "canary-dir", &canary_dir_st, 0) == 0);
	assert(fstatat(sandbox_fd, "canary-link", &link_st, AT_SYMLINK_NOFOLLOW) == 0);
}

static bool same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_uid == b->st_uid &&
	       a->st_gid == b->st_gid && a->st_size == b->st_size && a->st_nlink == b->st_nlink &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void check_sandbox(void)
{
	struct stat st;
	assert(fstatat(sandbox_fd, "canary", &st, 0) == 0 && same(&st, &canary_st));
	assert(fstatat(sandbox_fd, "canary-dir", &st, 0) == 0 && same(&st, &canary_dir_st));
	assert(fstatat(sandbox_fd, "canary-link", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       same(&st, &link_st));
	int dfd = openat(sandbox_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert(dfd >= 0);
	DIR *d = fdopendir(dfd);
	assert(d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		assert(streq(de->d_name, "root") || streq(de->d_name, "canary") ||
		       streq(de->d_name, "canary-dir") || streq(de->d_name, "canary-link"));
		n++;
	}
	closedir(d);
	assert(n == 4);
}


/* ---- structured inputs ---- */

struct out {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2 + 4096;
		o->p = realloc(o->p, o->cap);
		assert(o->p);
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

static void pad(struct out *o)
{
	static const uint8_t zero[512];
	put(o, zero, (512 - o->len % 512) % 512);
}

static void header(struct out *o, const char *name, char type, unsigned mode, unsigned id,
		   const char *link, size_t size)
{
	uint8_t b[512] = { 0 };
	memcpy(b, name, MIN(strlen(name), (size_t)100));
	snprintf((char *)b + 100, 8, "%07o", mode & 07777);
	snprintf((char *)b + 108, 8, "%07o", id);
	snprintf((char *)b + 116, 8, "%07o", id);
	snprintf((char *)b + 124, 12, "%011zo", size);
	snprintf((char *)b + 136, 12, "%011o", 1600000000u + id);
	b[156] = (uint8_t)type;
	memcpy(b + 157, link, MIN(strlen(link), (size_t)100));
	memcpy(b + 257, "ustar\0" "00", 8);
	memset(b + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06o", sum);
	put(o, b, 512);
}

static void pax(struct out *o, const char *key, const char *val)
{
	char rec[600];
	size_t base = strlen(key) + strlen(val) + 3, n = base + 1;
	for (;;) {
		int d = snprintf(rec, sizeof(rec), "%zu", n);
		if ((size_t)d + base == n)
			break;
		n = (size_t)d + base;
	}
	snprintf(rec, sizeof(rec), "%zu %s=%s\n", n, key, val);
	header(o, "PaxHeader", 'x', 0644, 0, "", strlen(rec));
	put(o, rec, strlen(rec));
	pad(o);
}

/* Names from a small alphabet, so that members collide, nest, and
 * whiteout each other. */
static size_t take_name(const uint8_t *d, size_t n, size_t *i, char *name, size_t cap)
{
	static const char *const tok[] = { "a", "b", "..", ".", ".wh.", ".wh..wh..opq", "/", "l" };
	size_t len = *i < n ? d[(*i)++] % 8 : 0, w = 0;
	name[0] = 0;
	for (size_t k = 0; k < len && *i < n; k++) {
		uint8_t c = d[(*i)++];
		const char *t = c & 0x80 ? tok[c & 7] : (const char[]){ (char)(c ? c : 'z'), 0 };
		size_t tl = strlen(t);
		if (w + tl + 1 > cap)
			break;
		memcpy(name + w, t, tl + 1);
		w += tl;
	}
	return w;
}

/* Per member: type, mode, name, link name, content length, content. */
static void build_tar(const uint8_t *d, size_t n, struct out *o)
{
	static const char types[] = "0123456055g7V0x2";
	size_t i = 0;
	while (i + 2 < n) {
		char type = types[d[i++] % 16];
		unsigned mode = (unsigned)d[i++] * 0x21;
		char name[300], link[300];
		take_name(d, n, &i, name, sizeof(name));
		take_name(d, n, &i, link, sizeof(link));
		size_t len = i < n ? d[i++] % 64 : 0;
		len = MIN(len, n - i);
		if (type == 'x') { /* an xattr on a file */
			pax(o, "SCHILY.xattr.trusted.f", "v");
			type = '0';
		}
		if (strlen(name) > 99 || strlen(link) > 99) {
			char pl[700];
			snprintf(pl, sizeof(pl), "%s", name);
			pax(o, "path", pl);
		}
		bool content = type == '0' || type == '7';
		header(o, name, type, mode, mode % 3, link, content ? len : 0);
		if (content) {
			put(o, d + i, len);
			pad(o);
		}
		i += len;
	}
	static const uint8_t end[1024];
	put(o, end, sizeof(end));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (sandbox_fd < 0)
		setup();
	uint8_t flags = data[0];
	static const enum cstor_whiteout_mode modes[] = {
		CSTOR_WHITEOUT_EXECUTE, CSTOR_WHITEOUT_OVERLAY, CSTOR_WHITEOUT_KEEP,
		CSTOR_WHITEOUT_EXECUTE,
	};
	struct cstor_apply_options o = {
		.whiteouts = modes[flags & 3],
		.skip_existing_root = flags & 4,
	};
	cstor_apply__no_openat2 = flags & 8;
	struct out built = { 0 };
	struct src s = { data + 1, size - 1, 0, flags & 32 ? (flags & 128 ? 3 : 61) : SIZE_MAX };
	if (flags & 64) {
		build_tar(data + 1, size - 1, &built);
		s.p = built.p;
		s.len = built.len;
	}

	assert(mkdirat(sandbox_fd, "root", 0755) == 0);
	int root = openat(sandbox_fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert(root >= 0);

	cstor_error err = CSTOR_ERROR_INIT;
	cstor_tar_reader *r = NULL;
	cstor_tarsplit_packer *p = NULL;
	struct cstor_apply_stats st;
	assert(cstor_tar_reader_new(&r, src_read, &s, flags & 16 ? CSTOR_TAR_READER_RAW : 0,
				    &err) == 0);
	if (flags & 16)
		assert(cstor_tarsplit_packer_new(&p, discard, NULL, &err) == 0);
	int ret = cstor_apply_tar(root, r, &o, p, &st, &err);
	/* Failures carry a message naming what failed. */
	assert(ret <= 0);
	if (ret < 0)
		assert(err.code == -ret && strncmp(cstor_error_message(&err), "apply layer", 11) == 0);
	for (size_t i = 1; i < st.n_uids; i++)
		assert(st.uids[i - 1] < st.uids[i]);
	cstor_apply_stats_done(&st);
	cstor_tarsplit_packer_free(p);
	cstor_tar_reader_free(r);
	cstor_error_clear(&err);
	close(root);
	free(built.p);

	check_sandbox();
	assert(cstor_rm_rf_at(sandbox_fd, "root", NULL) == 0);
	cstor_apply__no_openat2 = false;
	return 0;
}
