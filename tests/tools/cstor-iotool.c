/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drives the archive and copy helpers from the shell, for benchmarks
 * (bench/copy-tree.sh) and manual checks. Not installed.
 *
 *   cstor-iotool decompress [--zlib] [--no-digest] FILE|-   > output
 *   cstor-iotool compress gzip|zstd [LEVEL]                 < input > output
 *   cstor-iotool copy [--no-reflink] SRC DST
 *
 * Timing and results go to stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive/compress.h"
#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/copy.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(cstor_error *err)
{
	fprintf(stderr, "cstor-iotool: %s\n", cstor_error_message(err));
	cstor_error_clear(err);
	return 1;
}

static int cmd_decompress(int argc, char **argv)
{
	unsigned flags = CSTOR_DECOMPRESS_DIGEST_COMPRESSED | CSTOR_DECOMPRESS_DIGEST_UNCOMPRESSED;
	const char *path = NULL;
	for (int i = 0; i < argc; i++) {
		if (streq(argv[i], "--zlib"))
			flags |= CSTOR_DECOMPRESS_FORCE_ZLIB;
		else if (streq(argv[i], "--no-digest"))
			flags &= ~(CSTOR_DECOMPRESS_DIGEST_COMPRESSED |
				   CSTOR_DECOMPRESS_DIGEST_UNCOMPRESSED);
		else
			path = argv[i];
	}
	if (!path) {
		fprintf(stderr, "usage: cstor-iotool decompress [--zlib] [--no-digest] FILE|-\n");
		return 2;
	}
	_cleanup_close_ int fd = streq(path, "-") ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	int out = 1;
	bool discard = isatty(1);
	cstor_error err = CSTOR_ERROR_INIT;
	_cleanup_decompressor_ cstor_decompressor *d = NULL;
	double t0 = now();
	if (cstor_decompressor_new(&d, cstor_fd_read, &fd, flags, &err) < 0)
		return fail(&err);
	const size_t bufsize = 1024 * 1024;
	_cleanup_free_ char *buf = malloc(bufsize);
	if (!buf)
		return 1;
	for (;;) {
		ssize_t n = cstor_decompressor_read(d, buf, bufsize, &err);
		if (n < 0)
			return fail(&err);
		if (n == 0)
			break;
		if (!discard && cstor_fd_write(&out, buf, (size_t)n) < 0) {
			perror("write");
			return 1;
		}
	}
	cstor_decompress_result res;
	if (cstor_decompressor_finish(d, &res, &err) < 0)
		return fail(&err);
	double t = now() - t0;
	fprintf(stderr,
		"compression=%s engine=%s\ncompressed-size=%llu compressed-digest=%s\n"
		"diff-size=%llu diff-digest=%s\ntime=%.3fs output=%.1f MB/s input=%.1f MB/s\n",
		cstor_compression_name(cstor_decompressor_compression(d)),
		cstor_decompressor_uses_isal(d) ? "isa-l" : "default",
		(unsigned long long)res.compressed_size, res.compressed_digest,
		(unsigned long long)res.uncompressed_size, res.uncompressed_digest, t,
		(double)res.uncompressed_size / 1e6 / t, (double)res.compressed_size / 1e6 / t);
	return 0;
}

static int cmd_compress(int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "usage: cstor-iotool compress gzip|zstd|none [LEVEL]\n");
		return 2;
	}
	cstor_compression c;
	if (streq(argv[0], "gzip"))
		c = CSTOR_COMPRESSION_GZIP;
	else if (streq(argv[0], "zstd"))
		c = CSTOR_COMPRESSION_ZSTD;
	else if (streq(argv[0], "none"))
		c = CSTOR_COMPRESSION_NONE;
	else {
		fprintf(stderr, "unknown compression %s\n", argv[0]);
		return 2;
	}
	int level = argc > 1 ? atoi(argv[1]) : CSTOR_COMPRESS_LEVEL_DEFAULT;
	int in = 0, out = 1;
	cstor_error err = CSTOR_ERROR_INIT;
	_cleanup_compressor_ cstor_compressor *z = NULL;
	double t0 = now();
	if (cstor_compressor_new(&z, c, level, cstor_fd_write, &out, &err) < 0)
		return fail(&err);
	const size_t bufsize = 1024 * 1024;
	_cleanup_free_ char *buf = malloc(bufsize);
	if (!buf)
		return 1;
	unsigned long long total = 0;
	for (;;) {
		ssize_t n = cstor_fd_read(&in, buf, bufsize);
		if (n < 0) {
			perror("read");
			return 1;
		}
		if (n == 0)
			break;
		total += (unsigned long long)n;
		if (cstor_compressor_write(z, buf, (size_t)n, &err) < 0)
			return fail(&err);
	}
	if (cstor_compressor_finish(z, &err) < 0)
		return fail(&err);
	double t = now() - t0;
	fprintf(stderr, "input=%llu time=%.3fs %.1f MB/s\n", total, t, (double)total / 1e6 / t);
	return 0;
}

static int cmd_copy(int argc, char **argv)
{
	unsigned flags = 0;
	const char *paths[2] = { NULL, NULL };
	int np = 0;
	for (int i = 0; i < argc; i++) {
		if (streq(argv[i], "--no-reflink"))
			flags |= CSTOR_COPY_NO_REFLINK;
		else if (np < 2)
			paths[np++] = argv[i];
	}
	if (np != 2) {
		fprintf(stderr, "usage: cstor-iotool copy [--no-reflink] SRC DST\n");
		return 2;
	}
	_cleanup_close_ int src = open(paths[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0) {
		perror(paths[0]);
		return 1;
	}
	if (mkdir(paths[1], 0700) < 0 && errno != EEXIST) {
		perror(paths[1]);
		return 1;
	}
	_cleanup_close_ int dst = open(paths[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dst < 0) {
		perror(paths[1]);
		return 1;
	}
	cstor_error err = CSTOR_ERROR_INIT;
	double t0 = now();
	if (cstor_copy_tree(src, dst, flags, &err) < 0)
		return fail(&err);
	fprintf(stderr, "time=%.3fs\n", now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && streq(argv[1], "decompress"))
		return cmd_decompress(argc - 2, argv + 2);
	if (argc >= 2 && streq(argv[1], "compress"))
		return cmd_compress(argc - 2, argv + 2);
	if (argc >= 2 && streq(argv[1], "copy"))
		return cmd_copy(argc - 2, argv + 2);
	fprintf(stderr, "usage: cstor-iotool decompress|compress|copy ...\n");
	return 2;
}
