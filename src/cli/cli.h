/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cstor command line: one file per subcommand. A command parses its
 * flags (the parser follows Docker's mflag, which containers-storage uses, so
 * every flag syntax the Go CLI accepts is accepted here), calls the library
 * and maps errors to exit codes and messages.
 */
#ifndef CSTOR_CLI_H
#define CSTOR_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <cstor/cstor.h>

enum cli_flag_type {
	CLI_BOOL,
	CLI_STRING,
	CLI_LIST, /* repeatable string */
};

struct cli_flag {
	/* mflag-style names: "-json" is --json, "j" is -j. */
	const char *names[3];
	enum cli_flag_type type;
	void *target; /* bool *, char **, char *** */
	const char *help;
};

struct cli_global {
	char *graph_root;
	char *run_root;
	char *driver;
	char **storage_opts;
	bool debug;
	bool transient_store;
	bool transient_set;
};

struct cli_cmd {
	const char *names[4];
	const char *args_help;
	const char *usage;
	int min_args;
	int max_args; /* -1: unlimited */
	const struct cli_flag *flags; /* terminated by an entry without names */
	bool no_store; /* does not open the store */
	int (*run)(cstor_store *store, int argc, char **argv);
};

/* Exit codes of containers-storage. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 125, /* a subcommand's flag parse error or --help */
};

extern struct cli_global cli_global;
extern const char *cli_program;

/* Parse flags from @sets (NULL-terminated) at the front of argv; on return
 * argc and argv hold the remaining arguments. 0 ok, 1 help requested, -1
 * error (message in *errmsg, malloc'd). */
int cli_parse_flags(const struct cli_flag *const *sets, int *argc, char ***argv, char **errmsg);
void cli_print_flags(FILE *f, const struct cli_flag *const *sets);

/* Report a library error as "<program>: <context>: <message>". */
void cli_error(const char *context, const cstor_error *err);

/* Print a JSON string with Go's escaping. */
void cli_json_string(FILE *f, const char *s);

struct cstor_layer;
int cli_print_new_layer(const struct cstor_layer *layer, bool as_json);

#define CLI_JSON_FLAG(var) { { "-json", "j" }, CLI_BOOL, &(var), "Prefer JSON output" }

extern const struct cli_cmd cmd_status;
extern const struct cli_cmd cmd_version;
extern const struct cli_cmd cmd_layers;
extern const struct cli_cmd cmd_applydiff;
extern const struct cli_cmd cmd_import_layer;
extern const struct cli_cmd cmd_create_layer;
extern const struct cli_cmd cmd_get_names;
extern const struct cli_cmd cmd_add_names;
extern const struct cli_cmd cmd_set_names;

#endif
