/* SPDX-License-Identifier: Apache-2.0 */
/*
 * with-mount [-r] [-l LABEL] LAYER|CONTAINER|IMAGE [--] COMMAND [ARGS...]
 *
 * Mounts, runs COMMAND with the mount point in $CSTOR_MOUNTPOINT, and
 * releases the hold when COMMAND exits. The hold is process-bound and its
 * fd is inherited by COMMAND: it lives while cstor or COMMAND (or any child
 * of it that kept the fd) is alive, and when all of them are gone, by any
 * signal, the next operation on the layer reclaims it. Exit status is
 * COMMAND's (128+N when a signal N killed it).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstor/mount.h>

#include "cli.h"
#include "util/strv.h"

static bool readonly, json;
static char *label;
static volatile sig_atomic_t child_pid;

static const struct cli_flag flags[] = {
	{ { "-ro", "r" }, CLI_BOOL, &readonly, "Mount read-only" },
	{ { "-label", "l" }, CLI_STRING, &label, "Mount Label" },
	{ { "-json", "j" }, CLI_BOOL, &json,
	  "After COMMAND, print {layer, mountpoint, exit_status} on stdout (COMMAND's stdout goes "
	  "to stderr)" },
	{ { NULL } },
};

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int resolve(char **layer, char ***opts, cstor_store *store, const char *ref,
		   cstor_error *err)
{
	unsigned kind = 0;
	char *id = NULL;
	int r = cli_object_lookup(&kind, &id, store, ref, err);
	if (r < 0)
		return r;
	if (kind == CLI_OBJ_CONTAINER)
		r = cli_object_mount_layer(layer, opts, store, id, err);
	else if (kind == CLI_OBJ_IMAGE)
		r = cli_object_image_top_layer(layer, store, id, err);
	else if (!(*layer = strdup(id)))
		r = -ENOMEM;
	free(id);
	return r;
}

static int run(cstor_store *store, int argc, char **argv)
{
	const char *ref = argv[0];
	argc--;
	argv++;
	if (argc > 0 && strcmp(argv[0], "--") == 0) {
		argc--;
		argv++;
	}
	if (argc < 1) {
		fprintf(stderr, "%s: with-mount: no command given\n", cli_program);
		return EXIT_FAIL;
	}

	/* What `mounted` shows as the holder. */
	char desc[256];
	size_t used = (size_t)snprintf(desc, sizeof(desc), "cstor with-mount");
	for (int i = 0; i < argc && used < sizeof(desc) - 1; i++)
		used += (size_t)snprintf(desc + used, sizeof(desc) - used, " %s", argv[i]);

	/* What to mount: the layer itself, a container's layer (with the
	 * container's mount options), or an image's top layer. */
	cstor_error err = CSTOR_ERROR_INIT;
	char *layer = NULL, **opts = NULL;
	if (resolve(&layer, &opts, store, ref, &err) < 0 ||
	    (readonly && !strv_contains(opts, "ro") && strv_append(&opts, "ro") < 0)) {
		fprintf(stderr, "%s: with-mount: %s\n", cli_program,
			cstor_error_message(&err)[0] ? cstor_error_message(&err) : "out of memory");
		cstor_error_clear(&err);
		free(layer);
		cstor_strv_free(opts);
		return EXIT_FAIL;
	}
	cstor_mount_options o = CSTOR_MOUNT_OPTIONS_INIT;
	o.options = (const char *const *)opts;
	o.mount_label = label && label[0] ? label : NULL;
	o.description = desc;
	/* A layer of a read-only store mounts read-only without -r: it is
	 * the only mount it can have. */
	o.flags = CSTOR_MOUNT_HOLD_INHERIT | CSTOR_MOUNT_READ_ONLY_IF_NEEDED;
	cstor_mount_hold *hold = NULL;
	char *mp = NULL;
	int r = cstor_store_mount_hold(&hold, &mp, store, layer, &o, &err);
	cstor_strv_free(opts);
	if (r < 0) {
		fprintf(stderr, "%s: with-mount: %s\n", cli_program, cstor_error_message(&err));
		cstor_error_clear(&err);
		free(layer);
		return EXIT_FAIL;
	}
	if (setenv("CSTOR_MOUNTPOINT", mp, 1) < 0) {
		fprintf(stderr, "%s: with-mount: setenv: %m\n", cli_program);
		cstor_mount_hold_release(hold, store, NULL);
		free(mp);
		free(layer);
		return EXIT_FAIL;
	}

	struct sigaction sa = { .sa_handler = forward };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);

	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: with-mount: fork: %m\n", cli_program);
		cstor_mount_hold_release(hold, store, NULL);
		free(mp);
		free(layer);
		return EXIT_FAIL;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		/* --json: stdout is cstor's one JSON document. */
		if (json && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(126);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: with-mount: run %s: %m\n", cli_program, argv[0]);
		_exit(errno == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	int rc = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : EXIT_FAIL;
	if (cstor_mount_hold_release(hold, store, &err) < 0) {
		fprintf(stderr, "%s: with-mount: release the mount: %s\n", cli_program,
			cstor_error_message(&err));
		cstor_error_clear(&err);
		if (rc == 0)
			rc = EXIT_FAIL;
	}
	if (json) {
		printf("{\"layer\":");
		cli_json_string(stdout, layer);
		printf(",\"mountpoint\":");
		cli_json_string(stdout, mp);
		printf(",\"exit_status\":%d", WIFEXITED(st) ? WEXITSTATUS(st) : rc);
		if (WIFSIGNALED(st))
			printf(",\"signal\":%d", WTERMSIG(st));
		printf("}\n");
	}
	free(mp);
	free(layer);
	return rc;
}

const struct cli_cmd cmd_with_mount = {
	.names = { "with-mount" },
	.args_help = "LayerOrContainerNameOrID [--] COMMAND [ARG...]",
	.usage = "Run a command with a layer mounted, for as long as it runs",
	.description = "Mounts the layer (or the container's layer), runs COMMAND with the mount point in "
		       "$CSTOR_MOUNTPOINT, and releases the mount when COMMAND exits, however it ends. "
		       "The exit status is COMMAND's (128+N when signal N killed it). With --json, COMMAND's "
		       "stdout goes to stderr and stdout holds one JSON document: the layer, the mount "
		       "point and COMMAND's exit status (and signal).",
	.min_args = 2,
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor with-mount web -- sh -c 'ls $CSTOR_MOUNTPOINT'",
				  "cstor with-mount -r busybox -- sh -c 'tar -C \"$CSTOR_MOUNTPOINT\" -cf - . > rootfs.tar'",
				  "cstor with-mount --json web -- true | jq -r .mountpoint"),
	.complete = CLI_OBJ_LAYER | CLI_OBJ_IMAGE | CLI_OBJ_CONTAINER,
	.no_interspersed = true,
	.run = run,
};
