/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the tar and tar-split tests: in-memory sources and sinks,
 * hand-made header blocks, scratch directories and shell commands.
 */
#ifndef CSTOR_TESTS_TAR_HELPERS_H
#define CSTOR_TESTS_TAR_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "archive/tar.h"

/* ---- memory source / sink ---------------------------------------------- */

struct msrc {
	const unsigned char *data;
	size_t len, pos;
	size_t chunk; /* max bytes per read, 0 = unlimited */
	int fail_at;  /* return -EIO once pos reaches this (if > 0) */
};

_unused_ static ssize_t msrc_read(void *ctx, void *buf, size_t len)
{
	struct msrc *s = ctx;
	if (s->fail_at > 0 && s->pos >= (size_t)s->fail_at)
		return -EIO;
	size_t n = s->len - s->pos;
	if (n > len)
		n = len;
	if (s->chunk && n > s->chunk)
		n = s->chunk;
	if (n == 0)
		return 0;
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

struct msink {
	unsigned char *data;
	size_t len, cap;
	int fail; /* return this from every write if non-zero */
};

_unused_ static int msink_write(void *ctx, const void *buf, size_t len)
{
	struct msink *s = ctx;
	if (s->fail)
		return s->fail;
	if (len == 0)
		return 0;
	if (s->len + len + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + len + 1)
			cap *= 2;
		s->data = realloc(s->data, cap);
		s->cap = cap;
	}
	memcpy(s->data + s->len, buf, len);
	s->len += len;
	s->data[s->len] = 0;
	return 0;
}

_unused_ static void msink_free(struct msink *s)
{
	free(s->data);
	*s = (struct msink){ 0 };
}

_unused_ static void msink_append(struct msink *s, const void *p, size_t n)
{
	msink_write(s, p, n);
}

/* ---- hand-made header blocks -------------------------------------------- */

_unused_ static void blk_octal(unsigned char *f, size_t n, uint64_t v)
{
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(n - 1), (unsigned long long)v);
	memcpy(f, tmp, n - 1);
	f[n - 1] = 0;
}

/* A ustar ("ustar\0" "00") block; pass magic NULL for v7, "gnu" for old GNU,
 * "star" for star. */
_unused_ static void blk_init(unsigned char *b, const char *name, char type, uint64_t size,
			      const char *magic)
{
	memset(b, 0, 512);
	memcpy(b, name, strlen(name) < 100 ? strlen(name) : 100);
	blk_octal(b + 100, 8, 0644);
	blk_octal(b + 108, 8, 0);
	blk_octal(b + 116, 8, 0);
	blk_octal(b + 124, 12, size);
	blk_octal(b + 136, 12, 1700000000);
	b[156] = (unsigned char)type;
	if (!magic)
		return;
	if (strcmp(magic, "gnu") == 0)
		memcpy(b + 257, "ustar  \0", 8);
	else
		memcpy(b + 257, "ustar\0" "00", 8);
	if (strcmp(magic, "star") == 0)
		memcpy(b + 508, "tar\0", 4);
}

_unused_ static void blk_sum(unsigned char *b, bool signed_sum)
{
	memset(b + 148, ' ', 8);
	long sum = 0;
	for (int i = 0; i < 512; i++)
		sum += signed_sum ? (long)(signed char)b[i] : (long)b[i];
	char tmp[16];
	snprintf(tmp, sizeof(tmp), "%06lo", (unsigned long)sum & 0777777);
	memcpy(b + 148, tmp, 6);
	b[154] = 0;
	b[155] = ' ';
}

/* Append a finished block, and optional content padded to 512. */
_unused_ static void put_entry(struct msink *s, unsigned char *blk, const void *content, size_t len)
{
	static const unsigned char zero[512];
	blk_sum(blk, false);
	msink_append(s, blk, 512);
	if (len) {
		msink_append(s, content, len);
		msink_append(s, zero, (512 - len % 512) % 512);
	}
}

_unused_ static void put_end(struct msink *s)
{
	static const unsigned char zero[1024];
	msink_append(s, zero, 1024);
}

/* A pax record "<len> key=value\n" with the length computed. */
_unused_ static void pax_rec(struct msink *s, const char *key, const char *val, size_t vlen)
{
	size_t base = strlen(key) + vlen + 3, n = base + 1;
	char num[32];
	for (;;) {
		int d = snprintf(num, sizeof(num), "%zu", n);
		if ((size_t)d + base == n)
			break;
		n = (size_t)d + base;
	}
	msink_append(s, num, strlen(num));
	msink_append(s, " ", 1);
	msink_append(s, key, strlen(key));
	msink_append(s, "=", 1);
	msink_append(s, val, vlen);
	msink_append(s, "\n", 1);
}

/* An 'x' header (or 'g') with the given body. */
_unused_ static void put_pax(struct msink *s, char type, const struct msink *body)
{
	unsigned char b[512];
	blk_init(b, "PaxHeaders/x", type, body->len, "ustar");
	put_entry(s, b, body->data, body->len);
}

/* ---- files and commands ------------------------------------------------- */

_unused_ static int sh(const char *fmt, ...) _printf_(1, 2);
_unused_ static int sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	if (!cmd)
		return -1;
	int r = system(cmd);
	if (r != 0)
		printf("# command failed (%d): %s\n", r, cmd);
	free(cmd);
	return r == 0 ? 0 : -1;
}

_unused_ static bool have_cmd(const char *name)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* mkdtemp under $TMPDIR (default /tmp). Returns a malloc'd path. */
_unused_ static char *make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *p;
	if (asprintf(&p, "%s/cstor-tar-test-XXXXXX", t && *t ? t : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

_unused_ static void remove_tmpdir(char *p)
{
	if (p && strstr(p, "cstor-tar-test-"))
		sh("rm -rf '%s'", p);
	free(p);
}

_unused_ static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	if (!f)
		return NULL;
	struct msink s = { 0 };
	unsigned char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		msink_append(&s, buf, n);
	fclose(f);
	if (!s.data)
		s.data = calloc(1, 1);
	*len = s.len;
	return s.data;
}

/* Decompress a whole gzip buffer (multi-member). */
_unused_ static int gunzip_all(const unsigned char *in, size_t len, struct msink *out)
{
	z_stream z = { 0 };
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	unsigned char buf[65536];
	int r;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		r = inflate(&z, Z_NO_FLUSH);
		msink_append(out, buf, sizeof(buf) - z.avail_out);
		if (r == Z_STREAM_END && z.avail_in > 0) {
			inflateReset(&z);
			r = Z_OK;
		}
	} while (r == Z_OK);
	inflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -1;
}

_unused_ static int gzip_buf(const void *in, size_t len, struct msink *out)
{
	z_stream z = { 0 };
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	unsigned char buf[65536];
	int r;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		r = deflate(&z, Z_FINISH);
		msink_append(out, buf, sizeof(buf) - z.avail_out);
	} while (r == Z_OK);
	deflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -1;
}

#endif
