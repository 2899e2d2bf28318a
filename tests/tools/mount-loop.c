/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount-loop DIR DEPTH PAIRS: the kernel's own cost of an overlay
 * mount+unmount of DEPTH lowers, with no process start and no store: makes
 * DIR/l1..lDEPTH, u, w, m and prints milliseconds per pair. Used by
 * bench/mount-chain.sh to show the floor no CLI can go below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s DIR DEPTH PAIRS\n", argv[0]);
		return 2;
	}
	int depth = atoi(argv[2]), pairs = atoi(argv[3]);
	if (chdir(argv[1]) < 0 || depth < 1 || depth > 500 || pairs < 1) {
		perror(argv[1]);
		return 1;
	}
	size_t cap = (size_t)depth * 8 + 64;
	char *data = malloc(cap), *p = data;
	p += sprintf(p, "lowerdir=");
	for (int i = depth; i >= 1; i--) {
		char d[16];
		snprintf(d, sizeof(d), "l%d", i);
		mkdir(d, 0755);
		p += sprintf(p, "%s%s", d, i > 1 ? ":" : "");
	}
	sprintf(p, ",upperdir=u,workdir=w");
	mkdir("u", 0755);
	mkdir("w", 0755);
	mkdir("m", 0755);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < pairs; i++) {
		if (mount("overlay", "m", "overlay", 0, data) < 0) {
			perror("mount");
			return 1;
		}
		if (umount2("m", MNT_DETACH) < 0) {
			perror("umount");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) /
				 pairs);
	free(data);
	return 0;
}
