/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Help and man pages, printed from the command table: `cstor --help`,
 * `cstor help CMD`, `cstor CMD --help` and `cstor __man PAGE` (scdoc source
 * the build turns into the man pages) read the same struct cli_cmd entries
 * the parser reads, so a flag cannot be missing from either.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *flag_default(const struct cli_flag *f)
{
	if (f->def)
		return f->def;
	return f->type == CLI_BOOL ? "false" : "none";
}

/* "-n, --name VALUE": one-letter names first, as people read them. */
static void flag_names(char *buf, size_t size, const struct cli_flag *f, bool man)
{
	size_t len = 0;
	buf[0] = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t n = 0; n < 3 && f->names[n]; n++) {
			bool is_long = f->names[n][0] == '-' || strlen(f->names[n]) > 1;
			if (is_long != (pass == 1))
				continue;
			int w = snprintf(buf + len, size - len, man ? "%s*-%s*" : "%s-%s",
					 len ? ", " : "", f->names[n]);
			if (w < 0 || (size_t)w >= size - len)
				return;
			len += (size_t)w;
		}
	if (f->type != CLI_BOOL)
		snprintf(buf + len, size - len, man ? " _%s_" : " %s", f->arg ? f->arg : "VALUE");
}

static void print_flags(FILE *out, const struct cli_flag *flags)
{
	for (const struct cli_flag *f = flags; f && f->names[0]; f++) {
		char names[96];
		flag_names(names, sizeof(names), f, false);
		fprintf(out, "  %-30s %s (default: %s)\n", names, f->help, flag_default(f));
	}
}

static size_t n_flags(const struct cli_flag *flags)
{
	size_t n = 0;
	for (const struct cli_flag *f = flags; f && f->names[0]; f++)
		n++;
	return n;
}

/* A paragraph, broken between words before @width columns. */
static void print_wrapped(FILE *f, const char *text, size_t width)
{
	size_t col = 0;
	while (*text) {
		size_t w = strcspn(text, " ");
		if (col && col + 1 + w > width) {
			fputc('\n', f);
			col = 0;
		} else if (col) {
			fputc(' ', f);
			col++;
		}
		fwrite(text, 1, w, f);
		col += w;
		text += w;
		while (*text == ' ')
			text++;
	}
	fputc('\n', f);
}

void cli_usage(FILE *f)
{
	fprintf(f, "Usage: %s [global options] COMMAND [options] [ARGUMENTS]\n\n", cli_program);
	fprintf(f, "Layers, images and containers in a containers/storage store (the one\n"
		   "podman, buildah and skopeo use).\n\nCommands:\n\n");
	for (size_t i = 0; i < cli_n_commands; i++)
		fprintf(f, "  %-30s%s\n", cli_commands[i]->names[0], cli_commands[i]->usage);
	fprintf(f, "\nGlobal options (before or after the command):\n");
	print_flags(f, cli_global_flags);
	fprintf(f, "\n`%s help COMMAND` or `%s COMMAND --help` tells more about a command;\n"
		   "`%s --version` prints the version. Manual: cstor(1), cstor-COMMAND(1).\n",
		cli_program, cli_program, cli_program);
}

void cli_cmd_help(FILE *f, const struct cli_cmd *c, const char *name)
{
	fprintf(f, "Usage: %s %s%s%s%s\n\n%s\n", cli_program, name,
		n_flags(c->flags) ? " [options]" : "", c->args_help ? " " : "",
		c->args_help ? c->args_help : "", c->usage);
	if (c->names[1]) {
		fprintf(f, "Also called:");
		for (size_t n = 0; n < 4 && c->names[n]; n++)
			if (strcmp(c->names[n], name) != 0)
				fprintf(f, " %s", c->names[n]);
		fprintf(f, "\n");
	}
	fprintf(f, "\nArguments: %s\n", c->args_help && c->args_help[0] ? c->args_help : "none");
	if (c->description) {
		fputc('\n', f);
		print_wrapped(f, c->description, 78);
	}
	if (n_flags(c->flags)) {
		fprintf(f, "\nOptions:\n");
		print_flags(f, c->flags);
	}
	fprintf(f, "\nGlobal options (`%s --help`):", cli_program);
	for (const struct cli_flag *g = cli_global_flags; g->names[0]; g++) {
		char names[96];
		flag_names(names, sizeof(names), g, false);
		fprintf(f, "%s %s", g == cli_global_flags ? "" : ";", names);
	}
	fprintf(f, "\n");
	if (c->examples) {
		fprintf(f, "\nExamples:\n");
		for (const char *const *e = c->examples; *e; e++)
			fprintf(f, "  %s\n", *e);
	}
}

/* ---- man pages (scdoc source) ---- */

/* Text into scdoc: its markup characters are escaped. */
static void man_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '*' || *s == '_' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void man_flags(FILE *f, const struct cli_flag *flags)
{
	for (const struct cli_flag *fl = flags; fl->names[0]; fl++) {
		char names[160];
		flag_names(names, sizeof(names), fl, true);
		fprintf(f, "%s\n\t", names);
		man_text(f, fl->help);
		fprintf(f, ". Default: ");
		man_text(f, flag_default(fl));
		fprintf(f, ".\n\n");
	}
}

static void man_header(FILE *f, const char *page, int section, const char *summary)
{
	fprintf(f, "%s(%d) \"cstor %s\"\n\n# NAME\n\n%s - ", page, section, cstor_version(), page);
	man_text(f, summary);
	fprintf(f, "\n\n");
}

static void man_main(FILE *f)
{
	man_header(f, "cstor", 1, "layers, images and containers of a containers/storage store");
	fprintf(f, "# SYNOPSIS\n\n*cstor* [_global options_] _command_ [_options_] [_arguments_]\n\n"
		   "*cstor help* _command_\n\n*cstor --version*\n\n");
	fprintf(f,
		"# DESCRIPTION\n\n"
		"cstor reads and writes the store of containers/storage, the one podman, buildah "
		"and skopeo use: layers, images and containers, with the overlay and vfs "
		"drivers, on the same files and locks as those programs, so that they and cstor "
		"can work on one store at the same time. Its command line is the one of the Go "
		"*containers-storage* command, plus *import* and *export* of OCI images.\n\n"
		"Global options may come before or after the command name. A command's flags may "
		"come before, between or after its arguments (*--* ends them); *with-mount* takes "
		"them only before its arguments, which are a command line of their own.\n\n"
		"Commands that only read (*layers*, *images*, *image*, *exists*, ...) refuse a "
		"store that does not exist; commands that write create it.\n\n");
	fprintf(f, "# GLOBAL OPTIONS\n\n");
	man_flags(f, cli_global_flags);
	fprintf(f, "# COMMANDS\n\n");
	for (size_t i = 0; i < cli_n_commands; i++) {
		fprintf(f, "*%s*\n\t", cli_commands[i]->names[0]);
		man_text(f, cli_commands[i]->usage);
		fprintf(f, ". See *cstor-%s*(1).\n\n", cli_commands[i]->names[0]);
	}
	fprintf(f,
		"# ENVIRONMENT\n\n"
		"*CONTAINERS\\_STORAGE\\_CONF*\n\tThe storage.conf to read instead of the default "
		"search; see *cstor-storage.conf*(5).\n\n"
		"*STORAGE\\_DRIVER*\n\tThe driver, as *--storage-driver*.\n\n"
		"*STORAGE\\_OPTS*\n\tDriver options, comma-separated, as *--storage-opt*.\n\n"
		"# EXIT STATUS\n\n0 on success, 1 on failure, 125 for a flag the command does not "
		"know or *COMMAND --help* (as containers-storage).\n\n"
		"# SHELL COMPLETION\n\nThe bash, zsh and fish completions installed with cstor "
		"complete commands, flags and the IDs and names of the layers, images and "
		"containers of the store named on the command line being completed.\n\n"
		"# SEE ALSO\n\n*cstor-storage.conf*(5), *containers-storage*(1), *podman*(1)\n");
}

static void man_cmd(FILE *f, const struct cli_cmd *c)
{
	char page[80];
	snprintf(page, sizeof(page), "cstor-%s", c->names[0]);
	man_header(f, page, 1, c->usage);
	fprintf(f, "# SYNOPSIS\n\n*cstor %s*%s", c->names[0], n_flags(c->flags) ? " [_options_]" : "");
	if (c->args_help && c->args_help[0]) {
		fputc(' ', f);
		man_text(f, c->args_help);
	}
	fprintf(f, "\n\n# DESCRIPTION\n\n");
	man_text(f, c->usage);
	fprintf(f, ".\n\n");
	if (c->description) {
		man_text(f, c->description);
		fprintf(f, "\n\n");
	}
	if (c->names[1]) {
		fprintf(f, "Also called:");
		for (size_t n = 1; n < 4 && c->names[n]; n++)
			fprintf(f, " *%s*", c->names[n]);
		fprintf(f, ".\n\n");
	}
	if (n_flags(c->flags)) {
		fprintf(f, "# OPTIONS\n\n");
		man_flags(f, c->flags);
	}
	fprintf(f, "# GLOBAL OPTIONS\n\n");
	man_flags(f, cli_global_flags);
	if (c->examples) {
		fprintf(f, "# EXAMPLES\n\n```\n");
		for (const char *const *e = c->examples; *e; e++)
			fprintf(f, "%s\n", *e);
		fprintf(f, "```\n\n");
	}
	fprintf(f, "# SEE ALSO\n\n*cstor*(1)\n");
}

/* `cstor __man`: the pages, one "name.section" a line; `cstor __man PAGE`:
 * that page's scdoc source. */
int cli_man(int argc, char **argv)
{
	if (argc == 0) {
		printf("cstor.1\n");
		for (size_t i = 0; i < cli_n_commands; i++)
			printf("cstor-%s.1\n", cli_commands[i]->names[0]);
		return EXIT_OK;
	}
	if (strcmp(argv[0], "cstor.1") == 0) {
		man_main(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < cli_n_commands; i++) {
		char page[80];
		snprintf(page, sizeof(page), "cstor-%s.1", cli_commands[i]->names[0]);
		if (strcmp(argv[0], page) == 0) {
			man_cmd(stdout, cli_commands[i]);
			return EXIT_OK;
		}
	}
	fprintf(stderr, "%s: __man: no page %s\n", cli_program, argv[0]);
	return EXIT_FAIL;
}
