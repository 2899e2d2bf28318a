/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cstor __complete WORD... CURRENT`: the candidates for CURRENT, the last
 * word, given the words before it (the command line without "cstor"), one
 * a line. The bash, zsh and fish scripts (completions/) only call this, so
 * commands, flags and object names come from the command table and the
 * store in one place. A line ":file" or ":dir" alone asks the shell to
 * complete paths instead.
 *
 * The store is the one the command line names (-g, -R, -s, --storage-opt
 * parsed here as main() parses them), opened only if it exists, and never
 * created; completion prints nothing rather than an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "drivers/driver.h"

static const char *cur;

static void offer(const char *s)
{
	if (s && strncmp(s, cur, strlen(cur)) == 0)
		printf("%s\n", s);
}

/* The flag a word names ("--name", "-n", "--name=x"), in @sets. */
static const struct cli_flag *word_flag(const struct cli_flag *const *sets, const char *w,
					bool *has_value)
{
	if (w[0] != '-' || w[1] == 0)
		return NULL;
	const char *name = w + 1;
	size_t len = strcspn(name, "=");
	*has_value = name[len] == '=';
	for (size_t s = 0; sets[s]; s++)
		for (const struct cli_flag *f = sets[s]; f->names[0]; f++)
			for (size_t n = 0; n < 3 && f->names[n]; n++)
				if (strlen(f->names[n]) == len && strncmp(f->names[n], name, len) == 0)
					return f;
	return NULL;
}

/* Global flags of the completed line decide the store, as in main(). */
static void apply_global(const struct cli_flag *f, const char *value)
{
	if (!value || f->type == CLI_BOOL)
		return;
	if (f->type == CLI_STRING) {
		char **t = f->target;
		free(*t);
		*t = strdup(value);
	} else {
		char ***l = f->target;
		size_t n = 0;
		while (*l && (*l)[n])
			n++;
		char **nl = realloc(*l, (n + 2) * sizeof(*nl));
		if (!nl)
			return;
		nl[n] = strdup(value);
		nl[n + 1] = NULL;
		*l = nl;
	}
}

static bool is_global(const struct cli_flag *f)
{
	for (const struct cli_flag *g = cli_global_flags; g->names[0]; g++)
		if (g == f)
			return true;
	return false;
}

static void offer_flags(const struct cli_flag *flags)
{
	for (const struct cli_flag *f = flags; f && f->names[0]; f++)
		for (size_t n = 0; n < 3 && f->names[n]; n++) {
			char buf[64];
			snprintf(buf, sizeof(buf), "-%s", f->names[n]);
			offer(buf);
		}
}

static void offer_value(const struct cli_flag *f)
{
	if (f->target == &cli_global.driver) {
		char *names = cstor_driver_names(NULL, " ");
		for (char *save = NULL, *t = names ? strtok_r(names, " ", &save) : NULL; t;
		     t = strtok_r(NULL, " ", &save))
			offer(t);
		free(names);
	} else if (f->arg && strcmp(f->arg, "DIR") == 0) {
		printf(":dir\n");
	} else if (f->arg && strcmp(f->arg, "FILE") == 0) {
		printf(":file\n");
	}
}

static void offer_names(const char *id, const char *const *names)
{
	offer(id);
	for (size_t i = 0; names && names[i]; i++)
		offer(names[i]);
}

static void offer_objects(unsigned kinds)
{
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.graph_root = cli_global.graph_root;
	o.run_root = cli_global.run_root;
	o.driver = cli_global.driver;
	o.driver_options = (const char *const *)cli_global.storage_opts;
	o.flags = CSTOR_STORE_OPEN_EXISTING;
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_store *store = NULL;
	if (cstor_store_open(&store, &o, &err) < 0) {
		cstor_error_clear(&err);
		return;
	}
	if (kinds & CLI_OBJ_LAYER) {
		cstor_layer **l = NULL;
		if (cstor_store_layers(&l, store, &err) == 0)
			for (size_t i = 0; l[i]; i++)
				offer_names(cstor_layer_id(l[i]), cstor_layer_names(l[i]));
		cstor_layer_list_free(l);
		cstor_error_clear(&err);
	}
	if (kinds & CLI_OBJ_IMAGE) {
		cstor_image **l = NULL;
		if (cstor_store_images(&l, store, &err) == 0)
			for (size_t i = 0; l[i]; i++)
				offer_names(cstor_image_id(l[i]), cstor_image_names(l[i]));
		cstor_image_list_free(l);
		cstor_error_clear(&err);
	}
	if (kinds & CLI_OBJ_CONTAINER) {
		cstor_container **l = NULL;
		if (cstor_store_containers(&l, store, &err) == 0)
			for (size_t i = 0; l[i]; i++)
				offer_names(cstor_container_id(l[i]), cstor_container_names(l[i]));
		cstor_container_list_free(l);
		cstor_error_clear(&err);
	}
	cstor_store_free(store);
}

int cli_complete(int argc, char **argv)
{
	if (argc < 1)
		return EXIT_OK;
	cur = argv[argc - 1];
	const struct cli_cmd *c = NULL;
	bool is_help = false, dashdash = false;
	const struct cli_flag *pending = NULL; /* a flag waiting for its value */
	int npos = 0;
	for (int i = 0; i < argc - 1; i++) {
		const char *w = argv[i];
		const struct cli_flag *const sets[] = { cli_global_flags, c ? c->flags : NULL, NULL };
		if (pending) {
			if (is_global(pending))
				apply_global(pending, w);
			pending = NULL;
			continue;
		}
		bool has_value = false;
		const struct cli_flag *f = dashdash ? NULL : word_flag(sets, w, &has_value);
		if (f) {
			if (f->type != CLI_BOOL && !has_value)
				pending = f;
			else if (is_global(f))
				apply_global(f, has_value ? strchr(w, '=') + 1 : NULL);
			continue;
		}
		if (!dashdash && strcmp(w, "--") == 0 && c) {
			dashdash = true;
			continue;
		}
		if (!c && !is_help) {
			if (strcmp(w, "help") == 0)
				is_help = true;
			else if (!(c = cli_lookup(w)))
				return EXIT_OK;
			continue;
		}
		if (w[0] == '-' && !dashdash)
			continue; /* an unknown flag: skip it */
		npos++;
		if (c && c->no_interspersed)
			dashdash = true;
	}
	if (pending) {
		offer_value(pending);
		return EXIT_OK;
	}
	if (is_help) {
		if (!c && npos == 0)
			for (size_t i = 0; i < cli_n_commands; i++)
				offer(cli_commands[i]->names[0]);
		return EXIT_OK;
	}
	if (cur[0] == '-' && !dashdash) {
		offer_flags(cli_global_flags);
		if (c)
			offer_flags(c->flags);
		offer("--help");
		if (!c)
			offer("--version");
		return EXIT_OK;
	}
	if (!c) {
		offer("help");
		for (size_t i = 0; i < cli_n_commands; i++)
			for (size_t n = 0; n < 4 && cli_commands[i]->names[n]; n++)
				offer(cli_commands[i]->names[n]);
		return EXIT_OK;
	}
	/* with-mount: the object, then a command line of its own. */
	if (c->no_interspersed && npos >= 1) {
		printf(":file\n");
		return EXIT_OK;
	}
	if (c->complete & CLI_ARG_FILE)
		printf(":file\n");
	else if (c->complete)
		offer_objects(c->complete);
	return EXIT_OK;
}
