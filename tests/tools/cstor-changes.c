/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drives the change computation and diff export for the differential tests
 * against the Go CLI (tests/interop/test-diff-go.sh) and for benchmarks.
 *
 *   cstor-changes [OPTIONS] naive LAYERDIR [PARENTDIR]
 *   cstor-changes [OPTIONS] overlay DIFFDIR [LOWERDIFF...]   (nearest first)
 *
 * Prints `Add|Modify|Delete "<path>"` lines like `containers-storage
 * changes` (sorted by path; the Go CLI's order is random for naive diffs).
 *   --size            print the diff size instead (naive: ChangesSize of the
 *                     changes; overlay: the size of DIFFDIR, as Go does)
 *   --tar             write the diff as a tar stream to stdout
 *   -c gzip|zstd      compress the tar stream
 *   --whiteout-time S mtime for naive whiteout members (default: now)
 *   --userxattr       overlay: opaque marker is user.overlay.opaque
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/changes.h"
#include "archive/compress.h"
#include "archive/export.h"

static int out_write(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Go's strconv.Quote (non-ASCII printability approximated: C1 controls
 * and U+00AD are escaped, everything else valid is printed). */
static void go_quote(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	while (*p) {
		unsigned c = *p;
		if (c < 0x80) {
			if (c == '"' || c == '\\')
				fprintf(f, "\\%c", c);
			else if (c >= 0x20 && c < 0x7f)
				fputc((int)c, f);
			else if (c == '\a')
				fputs("\\a", f);
			else if (c == '\b')
				fputs("\\b", f);
			else if (c == '\f')
				fputs("\\f", f);
			else if (c == '\n')
				fputs("\\n", f);
			else if (c == '\r')
				fputs("\\r", f);
			else if (c == '\t')
				fputs("\\t", f);
			else if (c == '\v')
				fputs("\\v", f);
			else
				fprintf(f, "\\x%02x", c);
			p++;
			continue;
		}
		int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		uint32_t r = len == 4 ? c & 7 : len == 3 ? c & 15 : c & 31;
		bool ok = len > 0 && c < 0xf5;
		for (int i = 1; ok && i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				ok = false;
			else
				r = (r << 6) | (p[i] & 0x3f);
		}
		if (ok)
			ok = !(len == 2 && r < 0x80) && !(len == 3 && r < 0x800) &&
			     !(len == 4 && r < 0x10000) && r <= 0x10ffff &&
			     !(r >= 0xd800 && r <= 0xdfff);
		if (!ok) {
			fprintf(f, "\\x%02x", c);
			p++;
			continue;
		}
		if (r < 0xa0 || r == 0xad)
			fprintf(f, "\\u%04x", r);
		else
			fwrite(p, 1, (size_t)len, f);
		p += len;
	}
	fputc('"', f);
}

static int open_dir(const char *p)
{
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "cstor-changes: open %s: %s\n", p, strerror(errno));
	return fd;
}

static int usage(void)
{
	fprintf(stderr, "usage: cstor-changes [--size|--tar] [-c gzip|zstd] [--whiteout-time S] "
			"[--userxattr] naive LAYER [PARENT] | overlay DIFF [LOWER...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	bool size = false, tar = false, userxattr = false;
	struct cstor_export_options eo = { 0 };
	struct timespec wt = { 0 };
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--size") == 0)
			size = true;
		else if (strcmp(argv[i], "--tar") == 0)
			tar = true;
		else if (strcmp(argv[i], "--userxattr") == 0)
			userxattr = true;
		else if (strcmp(argv[i], "--whiteout-time") == 0 && i + 1 < argc) {
			wt.tv_sec = strtoll(argv[++i], NULL, 10);
			eo.whiteout_time = &wt;
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "gzip") == 0)
				eo.compression = CSTOR_COMPRESSION_GZIP;
			else if (strcmp(argv[i], "zstd") == 0)
				eo.compression = CSTOR_COMPRESSION_ZSTD;
			else
				return usage();
		} else
			return usage();
	}
	if (i + 2 > argc)
		return usage();
	const char *mode = argv[i++];
	bool naive = strcmp(mode, "naive") == 0;
	if (!naive && strcmp(mode, "overlay") != 0)
		return usage();
	if (naive && argc - i > 2)
		return usage();
	if (userxattr)
		eo.flags |= CSTOR_EXPORT_USERXATTR;

	int top = open_dir(argv[i++]);
	if (top < 0)
		return 1;
	size_t n_other = (size_t)(argc - i);
	int *other = calloc(n_other + 1, sizeof(int));
	if (!other)
		return 1;
	for (size_t k = 0; k < n_other; k++)
		if ((other[k] = open_dir(argv[i + (int)k])) < 0)
			return 1;
	int parent = naive && n_other ? other[0] : -1;

	cstor_error err = CSTOR_ERROR_INIT;
	struct cstor_change_list l = { 0 };
	int r = 0;
	if (tar) {
		if (!naive)
			r = cstor_export_overlay_diff(top, other, n_other, out_write, NULL, &eo, &err);
		else if (parent < 0)
			r = cstor_export_tree(top, out_write, NULL, &eo, &err);
		else if ((r = cstor_changes_naive(&l, top, parent, &err)) == 0)
			r = cstor_export_changes(top, &l, out_write, NULL, &eo, &err);
	} else if (size && !naive) {
		int64_t sz;
		if ((r = cstor_dir_size(&sz, top, &err)) == 0)
			printf("%lld\n", (long long)sz);
	} else {
		if (naive)
			r = cstor_changes_naive(&l, top, parent, &err);
		else
			r = cstor_changes_overlay(&l, top, other, n_other,
						  userxattr ? CSTOR_CHANGES_USERXATTR : 0, &err);
		if (r == 0 && size) {
			int64_t sz;
			if ((r = cstor_changes_size(&sz, &l, top, &err)) == 0)
				printf("%lld\n", (long long)sz);
		} else if (r == 0) {
			for (size_t k = 0; k < l.n; k++) {
				printf("%s ", cstor_change_kind_name(l.v[k].kind));
				go_quote(stdout, l.v[k].path);
				putchar('\n');
			}
		}
	}
	cstor_change_list_done(&l);
	for (size_t k = 0; k < n_other; k++)
		close(other[k]);
	free(other);
	close(top);
	if (r < 0) {
		fprintf(stderr, "cstor-changes: %s\n", cstor_error_message(&err));
		cstor_error_clear(&err);
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
