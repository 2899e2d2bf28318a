/* SPDX-License-Identifier: Apache-2.0 */
/* get-names, add-names, set-names, remove-names */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/cleanup.h"

static bool json;
static char **names;

static const struct cli_flag get_flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static const struct cli_flag set_flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-name", "n" }, CLI_LIST, &names, "New name" },
	{ { NULL } },
};

static void print_names(char *const *n)
{
	if (json) {
		putchar('[');
		for (size_t i = 0; n[i]; i++) {
			if (i)
				putchar(',');
			cli_json_string(stdout, n[i]);
		}
		puts("]");
		return;
	}
	for (size_t i = 0; n[i]; i++)
		printf("%s\n", n[i]);
}

static int fail(const char *what, cstor_error *err)
{
	cli_error(what, err);
	cstor_error_clear(err);
	return EXIT_FAIL;
}

static int get_names(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	unsigned kind = 0;
	char *id = NULL;
	char **v = NULL;
	if (cli_object_lookup(&kind, &id, store, argv[0], &err) < 0 ||
	    cli_object_names(&v, store, kind, id, &err) < 0) {
		free(id);
		return fail("get-names", &err);
	}
	print_names(v);
	strv_free(v);
	free(id);
	return EXIT_OK;
}

static int change(cstor_store *store, const char *what, char **argv, enum cli_names_op how)
{
	cstor_error err = CSTOR_ERROR_INIT;
	const char *const *nv = (const char *const *)names;
	static const char *const none[] = { NULL };
	/* Resolve the argument to an ID first, as Go does: the change may
	 * take away the very name the object was given by. */
	unsigned kind = 0;
	char *id = NULL;
	if (cli_object_lookup(&kind, &id, store, argv[0], &err) < 0)
		return fail(what, &err);
	int r = cli_object_change_names(store, kind, id, nv ? nv : none, how, &err);
	char **v = NULL;
	if (r == 0 && json && (r = cli_object_names(&v, store, kind, id, &err)) == 0) {
		/* Go encodes the names it read back, nil when none: null. */
		if (v[0])
			print_names(v);
		else
			puts("null");
		strv_free(v);
	}
	free(id);
	return r < 0 ? fail(what, &err) : EXIT_OK;
}

static int add_names(cstor_store *store, int argc, char **argv)
{
	return change(store, "add-names", argv, CLI_NAMES_ADD);
}

static int set_names(cstor_store *store, int argc, char **argv)
{
	return change(store, "set-names", argv, CLI_NAMES_SET);
}

static int remove_names(cstor_store *store, int argc, char **argv)
{
	return change(store, "remove-names", argv, CLI_NAMES_REMOVE);
}

const struct cli_cmd cmd_get_names = {
	.names = { "get-names", "getnames" },
	.args_help = "imageOrContainerNameOrID",
	.usage = "Get layer, image, or container name or names",
	.min_args = 1,
	.max_args = 1,
	.flags = get_flags,
	.examples = CLI_EXAMPLES("cstor get-names busybox", "cstor get-names --json web"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_IMAGE | CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = get_names,
};

const struct cli_cmd cmd_add_names = {
	.names = { "add-names", "addnames" },
	.args_help = "imageOrContainerNameOrID",
	.usage = "Add layer, image, or container name or names",
	.min_args = 1,
	.max_args = 1,
	.flags = set_flags,
	.examples = CLI_EXAMPLES("cstor add-names -n myimage:v2 myimage", "cstor add-names --name web2 web"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_IMAGE | CLI_OBJ_CONTAINER,
	.run = add_names,
};

const struct cli_cmd cmd_set_names = {
	.names = { "set-names", "setnames" },
	.args_help = "imageOrContainerNameOrID",
	.usage = "Set layer, image, or container name or names",
	.min_args = 1,
	.max_args = 1,
	.flags = set_flags,
	.examples = CLI_EXAMPLES("cstor set-names -n busybox:1 -n busybox:latest busybox", "cstor set-names -n web2 web   # web is then only web2"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_IMAGE | CLI_OBJ_CONTAINER,
	.run = set_names,
};

/* The newest Go CLI's command (containers/storage 1.44+; not in 1.43). */
const struct cli_cmd cmd_remove_names = {
	.names = { "remove-names", "removenames" },
	.args_help = "imageOrContainerNameOrID",
	.usage = "Remove layer, image, or container name or names",
	.min_args = 1,
	.max_args = 1,
	.flags = set_flags,
	.examples = CLI_EXAMPLES("cstor remove-names -n myimage:old myimage", "cstor remove-names -n web-old -n web-older web"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_IMAGE | CLI_OBJ_CONTAINER,
	.run = remove_names,
};
