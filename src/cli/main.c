/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cstor: command line compatible with containers-storage 1.43.
 * Global flags are accepted before and after the command name; the store is
 * opened once the command is known.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/strv.h"

struct cli_global cli_global;
const char *cli_program = "cstor";

static const struct cli_flag global_flags[] = {
	{ { "-run", "R" }, CLI_STRING, &cli_global.run_root, "Root of the runtime state tree" },
	{ { "-graph", "g" }, CLI_STRING, &cli_global.graph_root, "Root of the storage tree" },
	{ { "-storage-driver", "s" }, CLI_STRING, &cli_global.driver,
	  "Storage driver to use ($STORAGE_DRIVER)" },
	{ { "-storage-opt" }, CLI_LIST, &cli_global.storage_opts,
	  "Set storage driver options ($STORAGE_OPTS)" },
	{ { "-debug", "D" }, CLI_BOOL, &cli_global.debug, "Print debugging information" },
	{ { "-transient-store" }, CLI_BOOL, &cli_global.transient_store,
	  "Keep container records in the run root (lost at reboot)" },
	{ { NULL } },
};

static const struct cli_cmd *const commands[] = {
	&cmd_add_names,
	&cmd_applydiff,
	&cmd_applydiff_staged,
	&cmd_changes,
	&cmd_check,
	&cmd_container,
	&cmd_container_parent_owners,
	&cmd_containers,
	&cmd_create_container,
	&cmd_create_image,
	&cmd_create_layer,
	&cmd_delete,
	&cmd_delete_container,
	&cmd_delete_image,
	&cmd_delete_layer,
	&cmd_diff,
	&cmd_diffsize,
	&cmd_exists,
	&cmd_export,
	&cmd_gc,
	&cmd_get_container_data,
	&cmd_get_container_data_digest,
	&cmd_get_container_data_size,
	&cmd_get_container_dir,
	&cmd_get_container_run_dir,
	&cmd_get_image_data,
	&cmd_get_image_data_digest,
	&cmd_get_image_data_size,
	&cmd_get_layer_data,
	&cmd_get_names,
	&cmd_image,
	&cmd_images,
	&cmd_images_by_digest,
	&cmd_import,
	&cmd_import_layer,
	&cmd_layer,
	&cmd_layer_parent_owners,
	&cmd_layers,
	&cmd_list_container_data,
	&cmd_list_image_data,
	&cmd_list_layer_data,
	&cmd_metadata,
	&cmd_mount,
	&cmd_mounted,
	&cmd_pull,
	&cmd_push,
	&cmd_remove_names,
	&cmd_set_container_data,
	&cmd_set_image_data,
	&cmd_set_layer_data,
	&cmd_set_metadata,
	&cmd_set_names,
	&cmd_shutdown,
	&cmd_status,
	&cmd_unmount,
	&cmd_version,
	&cmd_wipe,
	&cmd_with_mount,
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s command [options [...]]\n\nCommands:\n\n", cli_program);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-30s%s\n", commands[i]->names[0], commands[i]->usage);
	fprintf(f, "\nOptions:\n");
	const struct cli_flag *const sets[] = { global_flags, NULL };
	cli_print_flags(f, sets);
}

static void cmd_usage(FILE *f, const struct cli_cmd *c, const char *name)
{
	fprintf(f, "Usage: %s %s %s\n\n%s\n\nOptions:\n", cli_program, name,
		c->args_help ? c->args_help : "", c->usage);
	const struct cli_flag *const sets[] = { global_flags, c->flags, NULL };
	cli_print_flags(f, c->flags ? sets : sets);
}

static const struct cli_cmd *lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		for (size_t n = 0; n < 4 && commands[i]->names[n]; n++)
			if (strcmp(commands[i]->names[n], name) == 0)
				return commands[i];
	return NULL;
}

static void log_stderr(void *ctx, int level, const char *msg)
{
	static const char *const names[] = { "error", "warning", "debug" };
	if (level > CSTOR_LOG_WARNING && !cli_global.debug)
		return;
	fprintf(stderr, "%s: %s: %s\n", cli_program, names[level < 3 ? level : 2], msg);
}

void cli_error(const char *context, const cstor_error *err)
{
	if (context && context[0])
		fprintf(stderr, "%s: %s: %s\n", cli_program, context, cstor_error_message(err));
	else
		fprintf(stderr, "%s: %s\n", cli_program, cstor_error_message(err));
}

int main(int argc, char **argv)
{
	int n = argc - 1;
	char **a = argv + 1;
	char *errmsg = NULL;

	if (n < 1) {
		usage(stdout);
		return EXIT_FAIL;
	}
	const struct cli_flag *const gsets[] = { global_flags, NULL };
	int r = cli_parse_flags(gsets, &n, &a, &errmsg);
	if (r == 1) {
		usage(stdout);
		return EXIT_OK;
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s while parsing arguments\n", cli_program, errmsg);
		free(errmsg);
		usage(stderr);
		return EXIT_FAIL;
	}
	if (n < 1) {
		usage(stdout);
		return EXIT_FAIL;
	}
	const char *name = a[0];
	const struct cli_cmd *c = lookup(name);
	if (!c) {
		fprintf(stderr, "%s: unrecognized command.\n", name);
		return EXIT_FAIL;
	}
	n--;
	a++;
	/* The command's own flags and the global ones, in any order, before
	 * the first positional argument. */
	const struct cli_flag *const csets[] = { global_flags, c->flags, NULL };
	const struct cli_flag *const gonly[] = { global_flags, NULL };
	r = cli_parse_flags(c->flags ? csets : gonly, &n, &a, &errmsg);
	if (r == 1) {
		cmd_usage(stdout, c, name);
		return EXIT_USAGE;
	}
	if (r < 0) {
		fprintf(stderr, "%s %s: %s\n", cli_program, name, errmsg);
		free(errmsg);
		cmd_usage(stderr, c, name);
		return EXIT_USAGE;
	}
	if (c->min_args > 0 && n < c->min_args) {
		fprintf(stderr, "%s: more arguments required.\n", name);
		cmd_usage(stderr, c, name);
		return EXIT_FAIL;
	}
	if (c->max_args >= 0 && n > c->max_args) {
		fprintf(stderr, "%s: too many arguments.\n", name);
		cmd_usage(stderr, c, name);
		return EXIT_FAIL;
	}

	cstor_store *store = NULL;
	if (!c->no_store) {
		cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
		o.graph_root = cli_global.graph_root;
		o.run_root = cli_global.run_root;
		o.driver = cli_global.driver;
		o.driver_options = (const char *const *)cli_global.storage_opts;
		o.transient_store = cli_global.transient_store ? 1 : -1;
		o.log = log_stderr;
		cstor_error err = CSTOR_ERROR_INIT;
		if (cstor_store_open(&store, &o, &err) < 0) {
			fprintf(stderr, "%s: error initializing: %s\n", cli_program,
				cstor_error_message(&err));
			cstor_error_clear(&err);
			return EXIT_FAIL;
		}
		if (cli_global.debug) {
			fprintf(stderr, "%s: debug: Root: %s\n", cli_program, cstor_store_graph_root(store));
			fprintf(stderr, "%s: debug: Run Root: %s\n", cli_program, cstor_store_run_root(store));
			fprintf(stderr, "%s: debug: Driver Name: %s\n", cli_program,
				cstor_store_driver_name(store));
		}
	}
	int rc = c->run(store, n, a);
	cstor_store_free(store);
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		perror("cstor: write output");
		rc = EXIT_FAIL;
	}
	return rc;
}
