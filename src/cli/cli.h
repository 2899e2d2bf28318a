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
 * Go CLI's store-wide lookups see them (objects.c).
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
/* What @ref names, first of layers, images, containers: *kind (one
 * CLI_OBJ_*) and the object's ID (malloc'd). The layer lookup's error when
 * nothing has it. */
int cli_object_lookup(unsigned *kind, char **id, cstor_store *store, const char *ref,
		      cstor_error *err);
/* The names of object @id of @kind (a strv copy). */
int cli_object_names(char ***names, cstor_store *store, unsigned kind, const char *id,
		     cstor_error *err);
enum cli_names_op { CLI_NAMES_ADD, CLI_NAMES_SET, CLI_NAMES_REMOVE };
int cli_object_change_names(cstor_store *store, unsigned kind, const char *id,
			    const char *const *names, enum cli_names_op op, cstor_error *err);
/* The layer mount/unmount/mounted act on for @ref: a container's layer
 * (and, when @options is not NULL, the container's recorded mount options,
 * a strv or NULL), else @ref itself. */
int cli_object_mount_layer(char **layer, char ***options, cstor_store *store, const char *ref,
			   cstor_error *err);
/* mount -r and unmount's second try: the top layer of image @ref. */
int cli_object_image_top_layer(char **layer, cstor_store *store, const char *ref,
			       cstor_error *err);

/* Big-data commands shared by layers, images and containers: write @len
 * bytes to -f FILE or stdout, read all of -f FILE or stdin. 0 or EXIT_FAIL
 * (message printed, naming @what). */
int cli_data_output(const char *what, const char *file, const void *data, size_t len);
int cli_data_input(const char *what, const char *file, char **data, size_t *len);
/* A list of names as list-*-data prints it: lines, or JSON (null when
 * empty, as Go encodes a nil slice). */
void cli_print_name_list(const char *const *names, bool as_json);

/* What the data commands of one kind of object call. */
struct cli_data_kind {
	const char *noun; /* "layer", "image", "container": in messages */
	/* The item names of object @ref: a strv the caller frees. */
	int (*names)(char ***names, cstor_store *store, const char *ref, cstor_error *err);
	int (*get)(void **data, size_t *len, cstor_store *store, const char *ref, const char *key,
		   cstor_error *err);
	int (*size)(int64_t *size, cstor_store *store, const char *ref, const char *key,
		    cstor_error *err);
	int (*digest)(char **digest, cstor_store *store, const char *ref, const char *key,
		      cstor_error *err);
	int (*set)(cstor_store *store, const char *ref, const char *key, const void *data,
		   size_t len, cstor_error *err);
};
extern const struct cli_flag cli_data_list_flags[]; /* --json */
extern const struct cli_flag cli_data_get_flags[];  /* -f FILE to write */
extern const struct cli_flag cli_data_set_flags[];  /* -f FILE to read */
/* The commands themselves (argv: object, then item name). */
int cli_data_list(const struct cli_data_kind *k, cstor_store *store, char **argv);
int cli_data_get(const struct cli_data_kind *k, cstor_store *store, char **argv);
int cli_data_size(const struct cli_data_kind *k, cstor_store *store, char **argv);
int cli_data_digest(const struct cli_data_kind *k, cstor_store *store, char **argv);
int cli_data_set(const struct cli_data_kind *k, cstor_store *store, char **argv);

/* Progress lines of import/export on a terminal (progress.c). */
struct cli_progress {
	const char *verb;
	bool enabled, shown;
	double start, last;
};
void cli_progress_init(struct cli_progress *p, const char *verb, bool quiet);
/* A cstor_progress_fn; ctx is a struct cli_progress. */
void cli_progress_cb(void *ctx, const cstor_progress *progress);
void cli_progress_end(struct cli_progress *p);

#define CLI_JSON_FLAG(var) { { "-json", "j" }, CLI_BOOL, &(var), "Prefer JSON output" }

extern const struct cli_cmd cmd_check;
extern const struct cli_cmd cmd_gc;
extern const struct cli_cmd cmd_status;
extern const struct cli_cmd cmd_version;
extern const struct cli_cmd cmd_layers;
extern const struct cli_cmd cmd_applydiff;
extern const struct cli_cmd cmd_applydiff_staged;
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
extern const struct cli_cmd cmd_images;
extern const struct cli_cmd cmd_image;
extern const struct cli_cmd cmd_images_by_digest;
extern const struct cli_cmd cmd_create_image;
extern const struct cli_cmd cmd_delete_image;
extern const struct cli_cmd cmd_list_image_data;
extern const struct cli_cmd cmd_get_image_data;
extern const struct cli_cmd cmd_get_image_data_size;
extern const struct cli_cmd cmd_get_image_data_digest;
extern const struct cli_cmd cmd_set_image_data;
extern const struct cli_cmd cmd_containers;
extern const struct cli_cmd cmd_container;
extern const struct cli_cmd cmd_create_container;
extern const struct cli_cmd cmd_delete_container;
extern const struct cli_cmd cmd_list_container_data;
extern const struct cli_cmd cmd_get_container_data;
extern const struct cli_cmd cmd_get_container_data_size;
extern const struct cli_cmd cmd_get_container_data_digest;
extern const struct cli_cmd cmd_set_container_data;
extern const struct cli_cmd cmd_get_container_dir;
extern const struct cli_cmd cmd_get_container_run_dir;
extern const struct cli_cmd cmd_wipe;
extern const struct cli_cmd cmd_layer_parent_owners;
extern const struct cli_cmd cmd_container_parent_owners;
extern const struct cli_cmd cmd_with_mount;
extern const struct cli_cmd cmd_shutdown;
extern const struct cli_cmd cmd_import;
extern const struct cli_cmd cmd_pull;
extern const struct cli_cmd cmd_push;
extern const struct cli_cmd cmd_export;

#endif
