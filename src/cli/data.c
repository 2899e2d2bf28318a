/* SPDX-License-Identifier: Apache-2.0 */
/* The big-data commands of layers, images and containers: list-*-data,
 * get-*-data, get-*-data-size, get-*-data-digest, set-*-data, written once
 * over a table of the library calls of each kind (struct cli_data_kind). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/cleanup.h"
#include "util/strv.h"

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

/* The flags of the data commands, shared by all kinds. */
static bool data_json;
static char *data_file;

const struct cli_flag cli_data_list_flags[] = {
	CLI_JSON_FLAG(data_json),
	{ { NULL } },
};

const struct cli_flag cli_data_get_flags[] = {
	{ { "-file", "f" }, CLI_STRING, &data_file, "Write data to file" },
	{ { NULL } },
};

const struct cli_flag cli_data_set_flags[] = {
	{ { "-file", "f" }, CLI_STRING, &data_file, "Read data from file" },
	{ { NULL } },
};

/* The command's name for messages: "<verb>-<noun>-data<suffix>". */
static const char *cmd_name(char *buf, size_t n, const char *verb, const struct cli_data_kind *k,
			    const char *suffix)
{
	snprintf(buf, n, "%s-%s-data%s", verb, k->noun, suffix);
	return buf;
}

static int fail(const char *verb, const char *suffix, const struct cli_data_kind *k,
		cstor_error *err)
{
	char what[64];
	cli_error(cmd_name(what, sizeof(what), verb, k, suffix), err);
	cstor_error_clear(err);
	return EXIT_FAIL;
}

int cli_data_list(const struct cli_data_kind *k, cstor_store *store, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char **names = NULL;
	if (k->names(&names, store, argv[0], &err) < 0)
		return fail("list", "", k, &err);
	cli_print_name_list((const char *const *)names, data_json);
	strv_free(names);
	return EXIT_OK;
}

int cli_data_get(const struct cli_data_kind *k, cstor_store *store, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	void *data = NULL;
	size_t len = 0;
	/* Read first: unlike Go, a missing item leaves no empty file behind. */
	if (k->get(&data, &len, store, argv[0], argv[1], &err) < 0)
		return fail("get", "", k, &err);
	char what[64];
	int rc = cli_data_output(cmd_name(what, sizeof(what), "get", k, ""), data_file, data, len);
	free(data);
	return rc;
}

int cli_data_size(const struct cli_data_kind *k, cstor_store *store, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	int64_t size = 0;
	if (k->size(&size, store, argv[0], argv[1], &err) < 0)
		return fail("get", "-size", k, &err);
	printf("%lld\n", (long long)size);
	return EXIT_OK;
}

int cli_data_digest(const struct cli_data_kind *k, cstor_store *store, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char *d = NULL;
	if (k->digest(&d, store, argv[0], argv[1], &err) < 0)
		return fail("get", "-digest", k, &err);
	printf("%s\n", d);
	free(d);
	return EXIT_OK;
}

int cli_data_set(const struct cli_data_kind *k, cstor_store *store, char **argv)
{
	char what[64];
	char *data = NULL;
	size_t len = 0;
	if (cli_data_input(cmd_name(what, sizeof(what), "set", k, ""), data_file, &data, &len) != 0)
		return EXIT_FAIL;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = k->set(store, argv[0], argv[1], data, len, &err);
	free(data);
	return r < 0 ? fail("set", "", k, &err) : EXIT_OK;
}
