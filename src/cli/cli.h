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

/* Print a string as Go's %q does. */
void cli_go_quote(FILE *f, const char *s);

/* Print a JSON string with Go's escaping. */
void cli_json_string(FILE *f, const char *s);

struct cstor_layer;
int cli_print_new_layer(const struct cstor_layer *layer, bool as_json);

/*
 * Results per argument, as the Go CLI keeps them in a map[string]...: one
 * entry per distinct argument (a repeated argument keeps its last value),
 * listed in the order the arguments first appeared; JSON output sorts the
 * keys as encoding/json does. Keys point into argv.
 */
struct cli_argmap {
	const char **keys;
	char **vals;
	size_t n;
};
int cli_argmap_init(struct cli_argmap *m, int argc);
void cli_argmap_free(struct cli_argmap *m);
int cli_argmap_set(struct cli_argmap *m, const char *key, const char *val);
const char *cli_argmap_get(const struct cli_argmap *m, const char *key);
/* One line: {"key":value,...}; values are JSON strings, or written as they
 * are when @raw (true/false). */
void cli_argmap_print_json(const struct cli_argmap *m, bool raw);

/* Read a whole stream (NUL-terminated for convenience). 0, or -1 with
 * errno set. */
int cli_read_all(FILE *f, char **data, size_t *len);

/*
 * Objects named on the command line: layers, images and containers, as the
 * Go CLI's store-wide lookups see them. Only layers exist in the library so
 * far; images and containers are added to these functions (objects.c) when
 * they do, and every command that uses them follows.
 */
enum {
	CLI_OBJ_LAYER = 1,
	CLI_OBJ_IMAGE = 2,
	CLI_OBJ_CONTAINER = 4,
};
/* The kinds of object @ref names (0: none). Not finding it is not an
 * error; a store that cannot be read is (negative errno, @err set). */
int cli_object_kinds(unsigned *kinds, cstor_store *store, const char *ref, cstor_error *err);
/* The metadata of the object @ref names (malloc'd, "" when none). */
int cli_object_metadata(char **out, cstor_store *store, const char *ref, cstor_error *err);
int cli_object_set_metadata(cstor_store *store, const char *ref, const char *metadata,
			    cstor_error *err);
/* `delete`: remove whatever @ref names. cstor keeps the safety checks. */
int cli_object_delete(cstor_store *store, const char *ref, cstor_error *err);

#define CLI_JSON_FLAG(var) { { "-json", "j" }, CLI_BOOL, &(var), "Prefer JSON output" }

extern const struct cli_cmd cmd_status;
extern const struct cli_cmd cmd_version;
extern const struct cli_cmd cmd_layers;
extern const struct cli_cmd cmd_applydiff;
extern const struct cli_cmd cmd_diff;
extern const struct cli_cmd cmd_changes;
extern const struct cli_cmd cmd_diffsize;
extern const struct cli_cmd cmd_import_layer;
extern const struct cli_cmd cmd_create_layer;
extern const struct cli_cmd cmd_get_names;
extern const struct cli_cmd cmd_add_names;
extern const struct cli_cmd cmd_set_names;
extern const struct cli_cmd cmd_remove_names;
extern const struct cli_cmd cmd_layer;
extern const struct cli_cmd cmd_exists;
extern const struct cli_cmd cmd_delete;
extern const struct cli_cmd cmd_delete_layer;
extern const struct cli_cmd cmd_metadata;
extern const struct cli_cmd cmd_set_metadata;
extern const struct cli_cmd cmd_list_layer_data;
extern const struct cli_cmd cmd_get_layer_data;
extern const struct cli_cmd cmd_set_layer_data;
extern const struct cli_cmd cmd_mount;
extern const struct cli_cmd cmd_unmount;
extern const struct cli_cmd cmd_mounted;
extern const struct cli_cmd cmd_with_mount;

#endif
