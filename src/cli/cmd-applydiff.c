/* SPDX-License-Identifier: Apache-2.0 */
/* applydiff [-f FILE] LAYER, and import-layer [options] [-f FILE] [PARENT] */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstor/layer.h>

#include "cli.h"

static char *file;
static bool json, readonly;
static char *id, *label;
static char **names;
static struct cli_idmap_args idmap;

/* The input, counted for the progress line a terminal gets. */
struct input {
	int fd;
	struct cli_progress p;
	cstor_progress pr;
};

static long fd_read(void *ctx, void *buf, size_t len)
{
	struct input *in = ctx;
	for (;;) {
		ssize_t n = read(in->fd, buf, len);
		if (n > 0) {
			in->pr.layer_done += (uint64_t)n;
			in->pr.bytes_done += (uint64_t)n;
			cli_progress_cb(&in->p, &in->pr);
		}
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static void input_start(struct input *in, const char *verb)
{
	struct stat st;
	cli_progress_init(&in->p, verb, false);
	in->pr = (cstor_progress){ .n_layers = 1 };
	if (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode))
		in->pr.layer_total = in->pr.bytes_total = (uint64_t)st.st_size;
}

static void input_end(struct input *in)
{
	cli_progress_end(&in->p, false);
	cli_progress_free(&in->p);
	if (in->fd > 0)
		close(in->fd);
}

/* The input: the file of -f, else stdin. */
static int open_input(const char *what)
{
	if (!file || !file[0])
		return 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "%s: %s: open %s: %m\n", cli_program, what, file);
	return fd;
}

static const struct cli_flag apply_flags[] = {
	{ { "-file", "f" }, CLI_STRING, &file, "Read from file instead of stdin" },
	{ { NULL } },
};

static int applydiff(cstor_store *store, int argc, char **argv)
{
	struct input in = { .fd = open_input("applydiff") };
	if (in.fd < 0)
		return EXIT_FAIL;
	input_start(&in, "Applying");
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_store_apply_diff(NULL, store, argv[0], fd_read, &in, &err);
	input_end(&in);
	if (r < 0) {
		cli_error("applydiff", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

const struct cli_cmd cmd_applydiff = {
	.names = { "applydiff", "apply-diff" },
	.args_help = "layerNameOrID [referenceLayerNameOrID]",
	.usage = "Apply a diff to a layer",
	.min_args = 1,
	.max_args = 2,
	.flags = apply_flags,
	.examples = CLI_EXAMPLES("cstor applydiff -f layer.tar mylayer", "gzip -dc layer.tar.gz | cstor applydiff mylayer"),
	.complete = CLI_OBJ_LAYER,
	.run = applydiff,
};

static const struct cli_flag import_flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-file", "f" }, CLI_STRING, &file, "Read from file instead of stdin" },
	{ { "-id", "i" }, CLI_STRING, &id, "Layer ID" },
	{ { "-name", "n" }, CLI_LIST, &names, "Layer name" },
	{ { "-label", "l" }, CLI_STRING, &label, "Mount Label" },
	{ { "-readonly", "r" }, CLI_BOOL, &readonly, "Mark as read-only" },
	CLI_IDMAP_FLAGS(idmap),
	{ { NULL } },
};

static int import_layer(cstor_store *store, int argc, char **argv)
{
	struct cli_idmaps maps;
	if (cli_idmaps_from_args(&maps, &idmap, "import-layer") < 0)
		return EXIT_FAIL;
	struct input in = { .fd = open_input("import-layer") };
	if (in.fd < 0) {
		cli_idmaps_free(&maps);
		return EXIT_FAIL;
	}
	cstor_layer_options o = CSTOR_LAYER_OPTIONS_INIT;
	o.uidmap = maps.uids, o.n_uidmap = maps.n_uids;
	o.gidmap = maps.gids, o.n_gidmap = maps.n_gids;
	o.host_uidmap = idmap.host_uid, o.host_gidmap = idmap.host_gid;
	o.id = id;
	o.parent = argc > 0 ? argv[0] : NULL;
	o.names = (const char *const *)names;
	o.mount_label = label;
	o.writeable = !readonly;
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_layer *layer = NULL;
	input_start(&in, "Importing");
	int r = cstor_store_import_layer(&layer, store, &o, fd_read, &in, &err);
	input_end(&in);
	cli_idmaps_free(&maps);
	if (r < 0) {
		cli_error("import-layer", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	int rc = cli_print_new_layer(layer, json);
	cstor_layer_free(layer);
	return rc;
}

static int applydiff_staged(cstor_store *store, int argc, char **argv)
{
	if (argc > 1) {
		/* The newest Go CLI's form: a directory, archived. */
		if (file && file[0]) {
			fprintf(stderr, "%s: applydiff-using-staging-dir: -f and a directory both given\n",
				cli_program);
			return EXIT_FAIL;
		}
		cstor_error err = CSTOR_ERROR_INIT;
		if (cstor_store_apply_dir_staged(NULL, store, argv[0], argv[1], &err) < 0) {
			cli_error("applydiff-using-staging-dir", &err);
			cstor_error_clear(&err);
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	struct input in = { .fd = open_input("applydiff-using-staging-dir") };
	if (in.fd < 0)
		return EXIT_FAIL;
	input_start(&in, "Applying");
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_store_apply_diff_staged(NULL, store, argv[0], fd_read, &in, &err);
	input_end(&in);
	if (r < 0) {
		cli_error("applydiff-using-staging-dir", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

const struct cli_cmd cmd_applydiff_staged = {
	.names = { "applydiff-using-staging-dir" },
	.args_help = "layerNameOrID [directory]",
	.usage = "Apply a diff to a layer using a staging directory",
	.description = "Applies a tarball (-f FILE, else stdin), or the contents of a host "
		       "DIRECTORY as the newest containers-storage does, to an empty overlay layer: "
		       "extracted into a staging directory with no store lock held, then made the "
		       "layer's content in one rename.",
	.min_args = 1,
	.max_args = 2,
	.flags = apply_flags,
	.examples = CLI_EXAMPLES("cstor applydiff-using-staging-dir -f layer.tar mylayer",
				 "zcat layer.tar.gz | cstor applydiff-using-staging-dir mylayer",
				 "cstor applydiff-using-staging-dir mylayer ./rootfs\t# a directory's contents"),
	.complete = CLI_OBJ_LAYER | CLI_ARG_FILE,
	.run = applydiff_staged,
};

const struct cli_cmd cmd_import_layer = {
	.names = { "import-layer", "importlayer" },
	.args_help = "[parentLayerNameOrID]",
	.usage = "Import a new layer",
	.max_args = 1,
	.flags = import_flags,
	.examples = CLI_EXAMPLES("cstor import-layer -f layer.tar -n base", "cstor import-layer -f layer.tar base"),
	.complete = CLI_OBJ_LAYER,
	.run = import_layer,
};
