/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test and benchmark driver for the layer extraction engine: apply a tar
 * (uncompressed, or any compression c/storage detects) to a directory.
 *
 *   cstor-apply [-m execute|overlay|keep] [-r] [-i] [-F] [-s] [-t OUT] DIR [TAR]
 *
 *   -m  whiteout mode (default execute, like vfs)
 *   -r  skip the "./" member when the root exists (overlay's Unpack)
 *   -i  ignore chown errors
 *   -F  resolve paths without openat2/setxattrat (the fallback walk)
 *   -s  print stats (files, bytes, uids, gids) to stdout
 *   -t  write the tar-split.gz to OUT
 *
 * Reads TAR or stdin. Exit 0 on success, 1 with the error on stderr.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive/apply.h"
#include "archive/compress.h"
#include "util/error-internal.h"
#include "util/cleanup.h"

static ssize_t dec_read(void *ctx, void *buf, size_t len)
{
	return cstor_decompressor_read(ctx, buf, len, NULL);
}

int main(int argc, char **argv)
{
	struct cstor_apply_options o = { .whiteouts = CSTOR_WHITEOUT_EXECUTE };
	bool print_stats = false;
	const char *tarsplit_out = NULL;
	int c;
	while ((c = getopt(argc, argv, "m:riFst:")) != -1) {
		switch (c) {
		case 'm':
			if (streq(optarg, "execute"))
				o.whiteouts = CSTOR_WHITEOUT_EXECUTE;
			else if (streq(optarg, "overlay"))
				o.whiteouts = CSTOR_WHITEOUT_OVERLAY;
			else if (streq(optarg, "keep"))
				o.whiteouts = CSTOR_WHITEOUT_KEEP;
			else {
				fprintf(stderr, "unknown mode %s\n", optarg);
				return 2;
			}
			break;
		case 'r':
			o.skip_existing_root = true;
			break;
		case 'i':
			o.ignore_chown_errors = true;
			break;
		case 'F':
			cstor_apply__no_openat2 = true;
			break;
		case 's':
			print_stats = true;
			break;
		case 't':
			tarsplit_out = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		fprintf(stderr, "usage: %s [-m execute|overlay|keep] [-r] [-i] [-F] [-s] [-t OUT] DIR [TAR]\n",
			argv[0]);
		return 2;
	}
	_cleanup_close_ int root = open(argv[optind], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		perror(argv[optind]);
		return 1;
	}
	_cleanup_close_ int in = 0;
	if (argc - optind == 2) {
		in = open(argv[optind + 1], O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			perror(argv[optind + 1]);
			return 1;
		}
	} else {
		in = dup(0);
	}
	_cleanup_close_ int ts_fd = -1;
	if (tarsplit_out) {
		ts_fd = open(tarsplit_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (ts_fd < 0) {
			perror(tarsplit_out);
			return 1;
		}
	}

	cstor_error err = CSTOR_ERROR_INIT;
	cstor_decompressor *d = NULL;
	cstor_tar_reader *r = NULL;
	cstor_tarsplit_packer *p = NULL;
	struct cstor_apply_stats st = { 0 };
	int ret = cstor_decompressor_new(&d, cstor_fd_read, &in, 0, &err);
	if (ret >= 0) {
		/* Plain tars skip the decompressor: it is the benchmark's
		 * fast path, as in the store. */
		if (cstor_decompressor_compression(d) == CSTOR_COMPRESSION_NONE &&
		    lseek(in, 0, SEEK_SET) == 0) {
			cstor_decompressor_free(d);
			d = NULL;
			ret = cstor_tar_reader_new(&r, cstor_fd_read, &in,
						   tarsplit_out ? CSTOR_TAR_READER_RAW : 0, &err);
		} else {
			ret = cstor_tar_reader_new(&r, dec_read, d,
						   tarsplit_out ? CSTOR_TAR_READER_RAW : 0, &err);
		}
	}
	if (ret >= 0 && tarsplit_out)
		ret = cstor_tarsplit_packer_new(&p, cstor_fd_write, &ts_fd, &err);
	if (ret >= 0)
		ret = cstor_apply_tar(root, r, &o, p, &st, &err);
	if (ret < 0) {
		fprintf(stderr, "%s\n", cstor_error_message(&err));
	} else if (print_stats) {
		printf("files %" PRIu64 "\nbytes %" PRIu64 "\nuids", st.files, st.bytes);
		for (size_t i = 0; i < st.n_uids; i++)
			printf(" %" PRIu32, st.uids[i]);
		printf("\ngids");
		for (size_t i = 0; i < st.n_gids; i++)
			printf(" %" PRIu32, st.gids[i]);
		printf("\n");
	}
	cstor_apply_stats_done(&st);
	cstor_tarsplit_packer_free(p);
	cstor_tar_reader_free(r);
	cstor_decompressor_free(d);
	cstor_error_clear(&err);
	return ret < 0 ? 1 : 0;
}
