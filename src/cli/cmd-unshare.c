/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unshare [COMMAND [ARG...]]: run a command (default $SHELL) as root of a
 * user namespace, as containers-storage does for rootless users; root runs
 * it as it is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static int run(cstor_store *store, int argc, char **argv)
{
	(void)store;
	cstor_error err = CSTOR_ERROR_INIT;
	if (cstor_enter_user_namespace(&err) < 0) {
		cli_error("unshare", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	const char *shell = getenv("SHELL");
	char *def[] = { (char *)(shell && shell[0] ? shell : "/bin/sh"), NULL };
	char **cmd = argc > 0 ? argv : def;
	fflush(stdout);
	/* A child, not exec: the command's failure is reported and exits 1,
	 * as the Go CLI reports exec.Cmd's error. */
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: unshare: fork: %s\n", cli_program, strerror(errno));
		return EXIT_FAIL;
	}
	if (pid == 0) {
		execvp(cmd[0], cmd);
		fprintf(stderr, "%s: unshare: exec: \"%s\": %s\n", cli_program, cmd[0],
			strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "%s: unshare: wait: %s\n", cli_program, strerror(errno));
			return EXIT_FAIL;
		}
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return EXIT_OK;
	if (WIFEXITED(st) && WEXITSTATUS(st) != 127)
		fprintf(stderr, "%s: exit status %d\n", cli_program, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		fprintf(stderr, "%s: signal: %s\n", cli_program, strsignal(WTERMSIG(st)));
	return EXIT_FAIL;
}

const struct cli_cmd cmd_unshare = {
	.names = { "unshare" },
	.args_help = "[command [...]]",
	.usage = "Run a command in a user namespace",
	.description = "Runs COMMAND (default: $SHELL, else /bin/sh) as root of a new user and "
		       "mount namespace, the caller's IDs mapped to 0 and its ranges of /etc/subuid "
		       "and /etc/subgid (through newuidmap and newgidmap) to 1 and up, as "
		       "containers-storage does for rootless users. As root, runs COMMAND as it is. "
		       "A command that fails makes cstor exit 1, as the Go CLI.",
	.examples = CLI_EXAMPLES("cstor unshare cat /proc/self/uid_map\t# 0 mapped to the caller",
				 "cstor unshare sh -c 'cstor mount LAYER'"),
	.max_args = -1,
	.no_store = true,
	.no_interspersed = true,
	.run = run,
};
