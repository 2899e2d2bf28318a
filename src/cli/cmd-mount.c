/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount, unmount (umount), mounted. Messages for failures are Go's
 * ("<error> while mounting <arg>", ...): scripts look for them. A container
 * stands for its layer (mounted with the container's recorded mount
 * options); mount -r and unmount's second try take an image's top layer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cstor/mount.h>

#include "cli.h"
#include "util/strv.h"

static bool json, readonly, force;
static char *label, *mount_opts;

static const struct cli_flag mount_flags[] = {
	/* Go accepts and ignores it; cstor honours "ro" in it (as -r does for
	 * a layer) and ignores the rest, as Go. */
	{ { "-opt", "o" }, CLI_STRING, &mount_opts, "Mount Options" },
	{ { "-label", "l" }, CLI_STRING, &label, "Mount Label" },
	{ { "-ro", "r" }, CLI_BOOL, &readonly, "Mount image readonly" },
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static const struct cli_flag unmount_flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-force", "f" }, CLI_BOOL, &force, "Force the umount" },
	{ { NULL } },
};

static bool verbose;

static const struct cli_flag mounted_flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-verbose", "v" }, CLI_BOOL, &verbose,
	  "Also print the count, the mount point and who holds it" },
	{ { NULL } },
};

struct result {
	const char *id;
	char *mountpoint;
	char *error;
};

static char *error_text(const cstor_error *err)
{
	char *s = strdup(cstor_error_message(err));
	return s ? s : strdup("out of memory");
}

/* mount -r: Go mounts an image's top layer read-only. For a layer (of the
 * primary or of a read-only store) cstor mounts that layer read-only. */
static char *mount_image(char **mp, cstor_store *store, const char *ref)
{
	static const char *const ro[] = { "ro", NULL };
	cstor_mount_options o = CSTOR_MOUNT_OPTIONS_INIT;
	o.options = ro;
	o.mount_label = label && label[0] ? label : NULL;
	o.description = "cstor mount -r";
	cstor_error err = CSTOR_ERROR_INIT;
	char *msg = NULL, *top = NULL;
	int r = cli_object_image_top_layer(&top, store, ref, &err);
	if (r < 0 && r != -ENOENT)
		msg = error_text(&err);
	cstor_error_clear(&err);
	if (!msg && cstor_store_mount(mp, store, top ? top : ref, &o, &err) < 0)
		msg = error_text(&err);
	cstor_error_clear(&err);
	free(top);
	return msg;
}

/* -o with "ro" among its comma-separated words. */
static bool opt_ro(void)
{
	char **words = mount_opts ? strv_split(mount_opts, ',') : NULL;
	bool ro = strv_contains(words, "ro");
	cstor_strv_free(words);
	return ro;
}

/* The layer an argument stands for: a container's, or the argument. */
static char *target(char ***options, cstor_store *store, const char *ref, char **error)
{
	cstor_error err = CSTOR_ERROR_INIT;
	char *layer = NULL;
	if (cli_object_mount_layer(&layer, options, store, ref, &err) < 0)
		*error = error_text(&err);
	cstor_error_clear(&err);
	return layer;
}

static void print_results(const struct result *res, int n, bool with_mountpoint)
{
	putchar('[');
	for (int i = 0; i < n; i++) {
		printf("%s{\"id\":", i ? "," : "");
		cli_json_string(stdout, res[i].id);
		if (with_mountpoint) {
			fputs(",\"mountpoint\":", stdout);
			cli_json_string(stdout, res[i].mountpoint ? res[i].mountpoint : "");
		}
		fputs(",\"error\":", stdout);
		cli_json_string(stdout, res[i].error ? res[i].error : "");
		putchar('}');
	}
	puts("]");
}

static void free_results(struct result *res, int n)
{
	for (int i = 0; i < n; i++) {
		free(res[i].mountpoint);
		free(res[i].error);
	}
	free(res);
}

static struct result *alloc_results(int n, const char *what)
{
	struct result *res = calloc((size_t)n, sizeof(*res));
	if (!res)
		fprintf(stderr, "%s: %s: out of memory\n", cli_program, what);
	return res;
}

static int mount(cstor_store *store, int argc, char **argv)
{
	struct result *res = alloc_results(argc, "mount");
	if (!res)
		return EXIT_FAIL;
	int rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		cstor_mount_options o = CSTOR_MOUNT_OPTIONS_INIT;
		o.mount_label = label && label[0] ? label : NULL;
		o.description = "cstor mount";
		/* A layer of a read-only store can only be mounted read-only:
		 * that is the mount asked for. */
		o.flags = CSTOR_MOUNT_READ_ONLY_IF_NEEDED;
		res[i].id = argv[i];
		char **opts = NULL, *layer = NULL;
		if (readonly)
			res[i].error = mount_image(&res[i].mountpoint, store, argv[i]);
		else if ((layer = target(&opts, store, argv[i], &res[i].error))) {
			if (opt_ro() && !strv_contains(opts, "ro") && strv_append(&opts, "ro") < 0)
				res[i].error = strdup("out of memory");
			o.options = (const char *const *)opts;
			if (!res[i].error &&
			    cstor_store_mount(&res[i].mountpoint, store, layer, &o, &err) < 0)
				res[i].error = error_text(&err);
		}
		free(layer);
		cstor_strv_free(opts);
		if (res[i].error)
			rc = EXIT_FAIL;
		cstor_error_clear(&err);
	}
	if (json)
		print_results(res, argc, true);
	else
		for (int i = 0; i < argc; i++) {
			if (res[i].error) {
				fflush(stdout);
				fprintf(stderr, "%s while mounting %s\n", res[i].error, res[i].id);
			}
			printf("%s\n", res[i].mountpoint ? res[i].mountpoint : "");
		}
	free_results(res, argc);
	return rc;
}

static int unmount(cstor_store *store, int argc, char **argv)
{
	struct result *res = alloc_results(argc, "unmount");
	if (!res)
		return EXIT_FAIL;
	int rc = EXIT_OK;
	bool tell = isatty(STDERR_FILENO);
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		int still = 0;
		res[i].id = argv[i];
		char *layer = target(NULL, store, argv[i], &res[i].error), *top = NULL;
		/* Unmounting what is not mounted succeeds as in Go, with Go's
		 * output for scripts; a person at a terminal is told. */
		int64_t count = -1;
		if (layer && tell && cstor_store_mounted(&count, store, layer, &err) == 0 &&
		    count == 0)
			fprintf(stderr, "%s: unmount: %s was not mounted\n", cli_program, argv[i]);
		cstor_error_clear(&err);
		if (layer && cstor_store_unmount(&still, store, layer, force, &err) < 0) {
			/* Go tries the argument as an image next, and says
			 * nothing when that works. */
			cstor_error e2 = CSTOR_ERROR_INIT;
			if (cli_object_image_top_layer(&top, store, argv[i], &e2) < 0 ||
			    cstor_store_unmount(&still, store, top, force, &e2) < 0)
				res[i].error = error_text(&err);
			cstor_error_clear(&e2);
		} else if (layer && !still)
			printf("%s mountpoint unmounted\n", argv[i]);
		if (res[i].error)
			rc = EXIT_FAIL;
		free(layer);
		free(top);
		cstor_error_clear(&err);
	}
	if (json)
		print_results(res, argc, false);
	else
		for (int i = 0; i < argc; i++)
			if (res[i].error) {
				fflush(stdout);
				fprintf(stderr, "%s while unmounting %s\n", res[i].error, res[i].id);
			}
	free_results(res, argc);
	return rc;
}

static const char *const holder_kinds[] = { "persistent", "process", "foreign" };

static void print_holders_plain(const cstor_mount_holder *h, size_t n, int64_t count,
				const char *mp)
{
	printf("\tcount: %lld\n", (long long)count);
	if (mp)
		printf("\tmountpoint: %s\n", mp);
	for (size_t i = 0; i < n; i++) {
		printf("\tholder: %s", holder_kinds[h[i].kind < 3 ? h[i].kind : 0]);
		if (h[i].kind == CSTOR_HOLDER_FOREIGN)
			printf(" x%lld (containers-storage or another Go program)", (long long)h[i].count);
		else {
			printf(" pid %lld", (long long)h[i].pid);
			if (h[i].since) {
				char t[64];
				time_t ts = (time_t)h[i].since;
				struct tm tm;
				strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&ts, &tm));
				printf(" since %s", t);
			}
			if (h[i].description)
				printf(" (%s)", h[i].description);
		}
		putchar('\n');
	}
}

struct mounted_result {
	int64_t count;
	char *mountpoint;
	cstor_mount_holder *holders;
	size_t n;
};

static int mounted(cstor_store *store, int argc, char **argv)
{
	struct result *res = alloc_results(argc, "mounted");
	struct mounted_result *mr = calloc((size_t)argc, sizeof(*mr));
	if (!res || !mr) {
		free(res);
		free(mr);
		return EXIT_FAIL;
	}
	int rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		res[i].id = argv[i];
		char *layer = target(NULL, store, argv[i], &res[i].error);
		if (!layer)
			rc = EXIT_FAIL;
		else if (cstor_store_mount_holders(&mr[i].mountpoint, &mr[i].holders, &mr[i].n,
						   store, layer, &err) < 0) {
			res[i].error = error_text(&err);
			rc = EXIT_FAIL;
		} else {
			for (size_t k = 0; k < mr[i].n; k++)
				mr[i].count += mr[i].holders[k].count;
			if (mr[i].count > 0) {
				/* Go's line, alone: scripts compare it. */
				printf("%s mounted\n", argv[i]);
				if (!json && verbose)
					print_holders_plain(mr[i].holders, mr[i].n, mr[i].count,
							    mr[i].mountpoint);
			}
		}
		free(layer);
		cstor_error_clear(&err);
	}
	/* Go prints the plain lines above with --json too; cstor adds the
	 * count, mount point and holders to each JSON entry. */
	if (json) {
		putchar('[');
		for (int i = 0; i < argc; i++) {
			printf("%s{\"id\":", i ? "," : "");
			cli_json_string(stdout, res[i].id);
			fputs(",\"error\":", stdout);
			cli_json_string(stdout, res[i].error ? res[i].error : "");
			printf(",\"count\":%lld,\"mountpoint\":", (long long)mr[i].count);
			cli_json_string(stdout, mr[i].mountpoint ? mr[i].mountpoint : "");
			fputs(",\"holders\":[", stdout);
			for (size_t k = 0; k < mr[i].n; k++) {
				const cstor_mount_holder *h = &mr[i].holders[k];
				printf("%s{\"kind\":\"%s\",\"pid\":%lld,\"since\":%lld,\"count\":%lld,"
				       "\"description\":",
				       k ? "," : "", holder_kinds[h->kind < 3 ? h->kind : 0],
				       (long long)h->pid, (long long)h->since, (long long)h->count);
				cli_json_string(stdout, h->description ? h->description : "");
				putchar('}');
			}
			fputs("]}", stdout);
		}
		puts("]");
	} else
		for (int i = 0; i < argc; i++)
			if (res[i].error) {
				fflush(stdout);
				fprintf(stderr, "%s checking if %s is mounted\n", res[i].error,
					res[i].id);
			}
	for (int i = 0; i < argc; i++) {
		free(mr[i].mountpoint);
		cstor_mount_holders_free(mr[i].holders, mr[i].n);
	}
	free(mr);
	free_results(res, argc);
	return rc;
}

const struct cli_cmd cmd_mount = {
	.names = { "mount" },
	.args_help = "LayerOrContainerNameOrID",
	.usage = "Mount a layer or container",
	.min_args = 1,
	.max_args = -1,
	.flags = mount_flags,
	.examples = CLI_EXAMPLES("cstor mount web", "cstor mount -r mylayer", "cstor mount --json web"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_CONTAINER,
	.run = mount,
};

const struct cli_cmd cmd_unmount = {
	.names = { "unmount", "umount" },
	.args_help = "LayerOrContainerNameOrID",
	.usage = "Unmount an image, layer or container",
	.min_args = 1,
	.max_args = -1,
	.flags = unmount_flags,
	.examples = CLI_EXAMPLES("cstor unmount web", "cstor unmount --force mylayer"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_CONTAINER,
	.run = unmount,
};

const struct cli_cmd cmd_mounted = {
	.names = { "mounted" },
	.args_help = "LayerOrContainerNameOrID",
	.usage = "Check if a file system is mounted",
	.min_args = 1,
	.max_args = -1,
	.flags = mounted_flags,
	.examples = CLI_EXAMPLES("cstor mounted web", "cstor mounted --json web mylayer"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_CONTAINER,
	.read_only = true,
	.run = mounted,
};
