/* SPDX-License-Identifier: Apache-2.0 */
/* Input and output of the big-data commands of layers, images, containers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cli_data_output(const char *what, const char *file, const void *data, size_t len)
{
	if (file && file[0]) {
		int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (fd < 0 || write_all(fd, data, len) < 0 || close(fd) < 0) {
			fprintf(stderr, "%s: %s: write %s: %s\n", cli_program, what, file,
				strerror(errno));
			return EXIT_FAIL;
		}
		return 0;
	}
	fflush(stdout);
	if (write_all(STDOUT_FILENO, data, len) < 0) {
		fprintf(stderr, "%s: %s: write output: %s\n", cli_program, what, strerror(errno));
		return EXIT_FAIL;
	}
	return 0;
}

int cli_data_input(const char *what, const char *file, char **data, size_t *len)
{
	FILE *in = stdin;
	const char *name = "standard input";
	if (file && file[0]) {
		name = file;
		in = fopen(file, "rb");
		if (!in) {
			fprintf(stderr, "%s: %s: open %s: %s\n", cli_program, what, file,
				strerror(errno));
			return EXIT_FAIL;
		}
	}
	int r = cli_read_all(in, data, len);
	int e = errno;
	if (in != stdin)
		fclose(in);
	if (r < 0) {
		fprintf(stderr, "%s: %s: read %s: %s\n", cli_program, what, name, strerror(e));
		return EXIT_FAIL;
	}
	return 0;
}

void cli_print_name_list(const char *const *keys, bool as_json)
{
	if (!as_json) {
		for (size_t i = 0; keys[i]; i++)
			printf("%s\n", keys[i]);
		return;
	}
	/* Go encodes the empty list as null. */
	if (!keys[0]) {
		puts("null");
		return;
	}
	putchar('[');
	for (size_t i = 0; keys[i]; i++) {
		if (i)
			putchar(',');
		cli_json_string(stdout, keys[i]);
	}
	puts("]");
}
