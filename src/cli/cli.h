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

#include <cstor/idmap.h>
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
	/* What an unset flag means, for --help and the man pages (NULL: "false"
	 * for a boolean, "none" for a value). */
	const char *def;
	/* The value's placeholder in --help (NULL: "VALUE"). */
	const char *arg;
};

struct cli_global {
	char *graph_root;
	char *run_root;
	char *image_store;
	char *driver;
	char **storage_opts;
	bool debug;
	bool transient_store;
	bool transient_set;
};

/*
 * One command. This entry is the only description of a command: --help,
 * `cstor help`, the man pages (`cstor __man`) and shell completion
 * (`cstor __complete`) are all printed from it (help.c), so they cannot
 * drift from the flags the command parses. Adding a command is this entry
 * plus one line in main.c's table.
 */
struct cli_cmd {
	const char *names[4];
	const char *args_help; /* synopsis of the arguments */
	const char *usage;     /* one-line summary */
	/* Optional: more about the arguments and what the command does, a
	 * paragraph (help and man page). */
	const char *description;
	/* Two or three command lines, each optionally followed by "\t# what
	 * it does"; NULL-terminated. */
	const char *const *examples;
	int min_args;
	int max_args; /* -1: unlimited */
	const struct cli_flag *flags; /* terminated by an entry without names */
	bool no_store; /* does not open the store */
	/* Only reads: the store must exist (it is not created). */
	bool read_only;
	/* Flags are only accepted before the first argument (with-mount: the
	 * arguments are a command line of their own). */
	bool no_interspersed;
	/* What the positional arguments name, for completion: CLI_OBJ_* bits,
	 * or CLI_ARG_FILE. */
	unsigned complete;
	int (*run)(cstor_store *store, int argc, char **argv);
};

/* The command table (main.c). */
extern const struct cli_cmd *const cli_commands[];
extern const size_t cli_n_commands;
extern const struct cli_flag cli_global_flags[];
const struct cli_cmd *cli_lookup(const char *name);

/* help.c: `cstor --help`, `cstor help CMD`, `cstor CMD --help`. */
void cli_usage(FILE *f);
void cli_cmd_help(FILE *f, const struct cli_cmd *c, const char *name);
/* Hidden commands: `cstor __man [PAGE]` (scdoc source of a man page, or
 * the list of pages) and `cstor __complete WORDS...` (completion.c). */
int cli_man(int argc, char **argv);
int cli_complete(int argc, char **argv);

#define CLI_EXAMPLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Exit codes of containers-storage. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 125, /* a subcommand's flag parse error or --help */
};

extern struct cli_global cli_global;
extern const char *cli_program;

/* Parse flags from @sets (NULL-terminated) at the front of argv; on return
 * argc and argv hold the remaining arguments. 0 ok, 1 help requested, 2
 * --version, -1 error (message in *errmsg, malloc'd). */
int cli_parse_flags(const struct cli_flag *const *sets, int *argc, char ***argv, char **errmsg);
/* The same, also taking flags between the arguments unless
 * !@interspersed ("--" ends flags); *argv becomes a malloc'd array of the
 * arguments (the strings are argv's). */
int cli_parse_args(const struct cli_flag *const *sets, bool interspersed, int *argc,
		   char ***argv, char **errmsg);

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
	CLI_ARG_FILE = 8, /* completion: the arguments are paths */
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

/* Progress lines of import/export on a terminal (progress.c), and what
 * each layer was (for the summary line and --json). */
struct cli_progress_layer {
	char *digest;
	uint64_t size;
	bool reused, finished;
};
struct cli_progress {
	const char *verb;      /* "Importing" */
	const char *done_verb; /* "Imported" */
	const char *what;      /* what Ctrl-C interrupts: "import of SOURCE" */
	bool enabled, shown;
	double start, last, layer_start;
	unsigned cur; /* layer of the last report */
	unsigned n_layers;
	struct cli_progress_layer *layers; /* n_layers of them */
};
void cli_progress_init(struct cli_progress *p, const char *verb, bool quiet);
/* A cstor_progress_fn; ctx is a struct cli_progress. */
void cli_progress_cb(void *ctx, const cstor_progress *progress);
/* End the line; after success, the summary line (on a terminal). */
void cli_progress_end(struct cli_progress *p, bool ok);
void cli_progress_free(struct cli_progress *p);
/* import and pull --json: {"id", "names", "layers": [{"id", "digest",
 * "size", "reused"}], "fetched", "reused", "seconds"}, layers base first.
 * @what names the command in errors. */
int cli_print_image_json(cstor_store *store, const char *id, const struct cli_progress *p,
			 const char *what, double seconds);
/* Ctrl-C (SIGINT, and SIGTERM, SIGHUP) during the operation: end the
 * line, say what was interrupted and what is kept, then die of the signal
 * (exit status 130 for Ctrl-C). What was stored stays consistent: the
 * library's journals let `cstor gc` or the next import finish the job. */
void cli_progress_catch_interrupt(struct cli_progress *p);
/* Ctrl-C (and SIGTERM, SIGHUP) sets *flag, the library call's cancel
 * flag, and the call returns -ECANCELED having undone its work; a second
 * one dies as cli_progress_catch_interrupt says. Released as above. */
void cli_progress_catch_cancel(struct cli_progress *p, volatile int *flag);
/* After a cancelled call: the line ended, die of the signal that set the
 * flag (exit status 130 for Ctrl-C). Returns when no signal set it. */
void cli_progress_die_of_cancel(void);
void cli_progress_release_interrupt(void);
/* The layers as a JSON array: [{"digest","size","reused"}]. */
void cli_progress_layers_json(const struct cli_progress *p, FILE *f);

/* ID-mapping flags of create-layer, import-layer and create-container,
 * as the Go CLI has them (idmap.c, docs/idmap.md). */
struct cli_idmap_args {
	bool host_uid, host_gid;
	char *uidmap, *gidmap, *subuidmap, *subgidmap;
};
#define CLI_IDMAP_FLAGS(a)                                                                  \
	{ { "-hostuidmap" }, CLI_BOOL, &(a).host_uid, "Force host UID map" },              \
	{ { "-hostgidmap" }, CLI_BOOL, &(a).host_gid, "Force host GID map" },              \
	{ { "-uidmap" }, CLI_STRING, &(a).uidmap, "UID map (container:host:size[,...])",           \
	  "the parent layer's", "MAP" },                                                             \
	{ { "-gidmap" }, CLI_STRING, &(a).gidmap, "GID map (container:host:size[,...])",           \
	  "the parent layer's", "MAP" },                                                             \
	{ { "-subuidmap" }, CLI_STRING, &(a).subuidmap, "subuid UID map for a user", NULL, "USER" }, \
	{ { "-subgidmap" }, CLI_STRING, &(a).subgidmap, "subgid GID map for a group", NULL, "GROUP" }

struct cli_idmaps {
	cstor_idmap *uids, *gids;
	size_t n_uids, n_gids;
};
/* The maps the flags give: --subuidmap/--subgidmap (each the other's
 * default) from /etc/subuid and /etc/subgid, then --uidmap/--gidmap. An
 * error is printed, naming @what; -1 then. */
int cli_idmaps_from_args(struct cli_idmaps *out, const struct cli_idmap_args *a, const char *what);
void cli_idmaps_free(struct cli_idmaps *m);

#define CLI_JSON_FLAG(var) { { "-json", "j" }, CLI_BOOL, &(var), "Prefer JSON output" }

/* How pull, push and list-tags reach a registry: the same four flags. */
#define CLI_REGISTRY_FLAGS(creds, authfile, cert_dir, tls_verify)                            \
	{ { "-creds" }, CLI_STRING, &(creds), "USER[:PASSWORD] for the registry" },          \
	{ { "-authfile" }, CLI_STRING, &(authfile),                                          \
	  "Auth file to read credentials from (default: podman's and docker's)" },           \
	{ { "-cert-dir" }, CLI_STRING, &(cert_dir),                                          \
	  "Directory of CA (*.crt) and client (*.cert, *.key) certificates" },               \
	{ { "-tls-verify" }, CLI_BOOL, &(tls_verify),                                        \
	  "Check the registry's certificate (=false also allows plain HTTP)" }

extern const struct cli_cmd cmd_check;
extern const struct cli_cmd cmd_get_image_dir;
extern const struct cli_cmd cmd_get_image_run_dir;
extern const struct cli_cmd cmd_storage_layers;
extern const struct cli_cmd cmd_create_storage_layer;
extern const struct cli_cmd cmd_gc;
extern const struct cli_cmd cmd_config;
extern const struct cli_cmd cmd_copy;
extern const struct cli_cmd cmd_dedup;
extern const struct cli_cmd cmd_unshare;
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
extern const struct cli_cmd cmd_list_tags;
extern const struct cli_cmd cmd_export;

#endif
