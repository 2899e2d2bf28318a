/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test tool: take a lock file with cstor's lock code and hold it until stdin
 * reaches EOF (or a line is read), so shell tests can make other processes
 * (the Go CLI among them) wait on it.
 *
 *   hold-lock PATH w|r [ro]   prints "locked" once held
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "records/lockfile.h"

static void wait_for_release(void)
{
	printf("locked\n");
	fflush(stdout);
	char buf[64];
	ssize_t n;
	while ((n = read(0, buf, sizeof(buf))) > 0 && !memchr(buf, '\n', (size_t)n))
		;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s PATH w|r [ro]\n", argv[0]);
		return 2;
	}
	bool ro = argc > 3 && strcmp(argv[3], "ro") == 0;
	cstor_lock l;
	cstor_error err = CSTOR_ERROR_INIT;
	if (cstor_lock_open(&l, argv[1], ro, &err) < 0) {
		fprintf(stderr, "%s\n", cstor_error_message(&err));
		return 1;
	}
	if (argv[2][0] == 'w') {
		cstor_lock_lock(&l);
		wait_for_release();
		cstor_lock_unlock(&l);
	} else {
		cstor_lock_rlock(&l);
		wait_for_release();
		cstor_lock_unlock(&l);
	}
	cstor_lock_close(&l);
	return 0;
}
