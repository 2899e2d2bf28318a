/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cstor: command line compatible with containers-storage 1.43.
 * Global flags are accepted before and after the command name; the store is
 * opened once the command is known.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/cleanup.h"
#include "util/strv.h"

static void log_stderr(void *ctx, int level, const char *msg)
{
	static const char *const names[] = { "error", "warning", "debug" };
	if (level > CSTOR_LOG_WARNING && !cli_global.debug)
		return;
	fprintf(stderr, "%s: %s: %s\n", cli_program, names[level < 3 ? level : 2], msg);
}

void cli_error(const char *context, const cstor_error *err)
{
	const char *msg = cstor_error_message(err);
	size_t len = context ? strlen(context) : 0;
	/* The library often names the operation already ("changes: layer
	 * not known"): say it once. */
	if (len && strncmp(msg, context, len) == 0 && msg[len] == ':' && msg[len + 1] == ' ')
		context = NULL;
	if (context && context[0])
		fprintf(stderr, "%s: %s: %s\n", cli_program, context, msg);
	else
		fprintf(stderr, "%s: %s\n", cli_program, msg);
}

/* A relative --graph, --run or --image-store is taken from the working directory, as the
 * newest containers-storage does (filepath.Abs: joined and cleaned). NULL
 * when out of memory; @path itself when it is absolute or empty. */
static char *absolute(char *path)
{
	if (!path || !path[0] || path[0] == '/')
		return path;
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		return path; /* the library then says the path is not absolute */
	char *joined = NULL;
	if (asprintf(&joined, "%s/%s", cwd, path) < 0)
		return NULL;
	/* Clean in place: drop "." and empty components, resolve "..". */
	char *out = joined, *w = joined;
	for (char *r = joined; *r;) {
		while (*r == '/')
			r++;
		char *end = strchrnul(r, '/');
		size_t len = (size_t)(end - r);
		if (len == 0 || (len == 1 && r[0] == '.')) {
			/* nothing */
		} else if (len == 2 && r[0] == '.' && r[1] == '.') {
			while (w > out && *--w != '/')
				;
		} else {
			*w++ = '/';
			memmove(w, r, len);
			w += len;
		}
		r = end;
	}
	if (w == out)
		*w++ = '/';
	*w = 0;
	free(path);
	return joined;
}

/* `cstor --version`: one line, wherever the flag is. */
static void print_version(void)
{
	printf("%s version %s\n", cli_program, cstor_version());
}

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if !defined(__SANITIZE_ADDRESS__) && !__has_feature(address_sanitizer)
/* The store of the command that ran, kept reachable until exit (main). */
static cstor_store *cli_store_at_exit;
#endif

int main(int argc, char **argv)
{
	int n = argc - 1;
	char **a = argv + 1;
	char *errmsg = NULL;

	if (n < 1) {
		cli_usage(stdout);
		return EXIT_FAIL;
	}
	/* Hidden commands the build and the completion scripts call. */
	if (strcmp(a[0], "__man") == 0)
		return cli_man(n - 1, a + 1);
	if (strcmp(a[0], "__complete") == 0)
		return cli_complete(n - 1, a + 1);
	const struct cli_flag *const gsets[] = { cli_global_flags, NULL };
	int r = cli_parse_flags(gsets, &n, &a, &errmsg);
	if (r == 2) {
		print_version();
		return EXIT_OK;
	}
	if (r == 1) {
		cli_usage(stdout);
		return EXIT_OK;
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s while parsing arguments\n", cli_program, errmsg);
		free(errmsg);
		cli_usage(stderr);
		return EXIT_FAIL;
	}
	if (n < 1) {
		cli_usage(stdout);
		return EXIT_FAIL;
	}
	const char *name = a[0];
	if (strcmp(name, "help") == 0) {
		if (n < 2) {
			cli_usage(stdout);
			return EXIT_OK;
		}
		const struct cli_cmd *hc = cli_lookup(a[1]);
		if (!hc) {
			fprintf(stderr, "%s: help: unknown command \"%s\" (`%s help` lists them)\n",
				cli_program, a[1], cli_program);
			return EXIT_FAIL;
		}
		cli_cmd_help(stdout, hc, a[1]);
		return EXIT_OK;
	}
	const struct cli_cmd *c = cli_lookup(name);
	if (!c) {
		fprintf(stderr, "%s: unrecognized command.\n", name);
		return EXIT_FAIL;
	}
	n--;
	a++;
	/* The command's own flags and the global ones, in any order, before
	 * and (unless the command says otherwise) between its arguments. */
	const struct cli_flag *const csets[] = { cli_global_flags, c->flags, NULL };
	r = cli_parse_args(c->flags ? csets : gsets, !c->no_interspersed, &n, &a, &errmsg);
	if (r == 2) {
		print_version();
		return EXIT_OK;
	}
	if (r == 1) {
		cli_cmd_help(stdout, c, name);
		return EXIT_USAGE;
	}
	if (r < 0) {
		fprintf(stderr, "%s %s: %s (`%s %s --help` lists them)\n", cli_program, name, errmsg,
			cli_program, name);
		free(errmsg);
		return EXIT_USAGE;
	}
	_cleanup_free_ char **args = a; /* cli_parse_args' array */
	if (c->min_args > 0 && n < c->min_args) {
		fprintf(stderr, "%s: more arguments required.\n", name);
		fprintf(stderr, "Usage: %s %s %s\n", cli_program, name,
			c->args_help ? c->args_help : "");
		return EXIT_FAIL;
	}
	if (c->max_args >= 0 && n > c->max_args) {
		fprintf(stderr, "%s: too many arguments.\n", name);
		fprintf(stderr, "Usage: %s %s %s\n", cli_program, name,
			c->args_help ? c->args_help : "");
		return EXIT_FAIL;
	}

	cstor_store *store = NULL;
	if (!c->no_store) {
		if ((cli_global.graph_root &&
		     !(cli_global.graph_root = absolute(cli_global.graph_root))) ||
		    (cli_global.run_root && !(cli_global.run_root = absolute(cli_global.run_root))) ||
		    (cli_global.image_store &&
		     !(cli_global.image_store = absolute(cli_global.image_store)))) {
			fprintf(stderr, "%s: out of memory\n", cli_program);
			return EXIT_FAIL;
		}
		cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
		o.graph_root = cli_global.graph_root;
		o.run_root = cli_global.run_root;
		o.image_store = cli_global.image_store;
		o.driver = cli_global.driver;
		o.driver_options = (const char *const *)cli_global.storage_opts;
		o.transient_store = cli_global.transient_store ? 1 : -1;
		o.log = log_stderr;
		/* A command that only reads must not leave a new empty store
		 * under a mistyped path. */
		if (c->read_only)
			o.flags |= CSTOR_STORE_OPEN_EXISTING;
		if (cli_global.debug)
			o.flags |= CSTOR_STORE_DEBUG;
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
			if (cstor_store_image_store(store))
				fprintf(stderr, "%s: debug: Image Store: %s\n", cli_program,
					cstor_store_image_store(store));
			fprintf(stderr, "%s: debug: Driver Name: %s\n", cli_program,
				cstor_store_driver_name(store));
		}
	}
	int rc = c->run(store, n, args);
	/* The process ends here: freeing every record of a big store one by
	 * one (10% of `images` at 10,000 images) buys nothing the kernel does
	 * not do at exit; every lock is released already. Sanitizer builds
	 * still free, so that leak checks cover the library's own frees. */
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
	cstor_store_free(store);
#else
	cli_store_at_exit = store; /* still reachable: not a leak */
#endif
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		perror("cstor: write output");
		rc = EXIT_FAIL;
	}
	return rc;
}
