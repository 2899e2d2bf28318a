/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Torture test of the mount contract (docs/mounts.md), through the library:
 * many processes take and release process-bound mount holds on the same and
 * on different layers, some are killed with SIGKILL at random moments, a
 * Diff/Changes loop runs alongside. At the end some workers keep one hold
 * each and the counts must equal exactly those holds; then all are killed
 * and every count must drop to zero with nothing left mounted.
 *
 *   cstor-torture -g G -R R -s DRIVER [-o OPT]... -w WORKERS -t SECONDS
 *                 -k KILLS_PER_SECOND -d DIFF_LAYER LAYER...
 *
 * Layers given as "ro:ID" live in a read-only store and are mounted
 * read-only. Prints TAP-free progress; exit 0 when every check held.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstor/cstor.h>

#include "util/mountinfo.h"

#define MAX_WORKERS 64
#define MAX_LAYERS 64

static const char *graph, *run, *driver;
static const char *opts[16];
static int nopts;
static const char *layers[MAX_LAYERS];
static bool layer_ro[MAX_LAYERS];
static int nlayers;

static volatile sig_atomic_t finishing;
/* Another program (the Go CLI) mounts the same layers meanwhile: its
 * holds are counted as foreign and left out of the comparisons. */
static bool foreign_ok;

static void on_usr1(int sig)
{
	(void)sig;
	finishing = 1;
}

static cstor_store *open_store(void)
{
	cstor_store_options o = CSTOR_STORE_OPTIONS_INIT;
	o.graph_root = graph;
	o.run_root = run;
	o.driver = driver;
	o.config_file = "";
	opts[nopts] = NULL;
	o.driver_options = opts;
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_store *s = NULL;
	if (cstor_store_open(&s, &o, &err) < 0) {
		fprintf(stderr, "open store: %s\n", cstor_error_message(&err));
		exit(2);
	}
	return s;
}

static int take(cstor_store *s, int li, cstor_mount_hold **h, char **mp, cstor_error *err)
{
	static const char *const ro[] = { "ro", NULL };
	cstor_mount_options o = CSTOR_MOUNT_OPTIONS_INIT;
	o.options = layer_ro[li] ? ro : NULL;
	o.description = "torture worker";
	return cstor_store_mount_hold(h, mp, s, layers[li], &o, err);
}

/* Worker: hold/release in a loop; on SIGUSR1 take one last hold, report
 * which layer on @report_fd, and wait to be killed. */
static void worker(int id, int report_fd)
{
	srand((unsigned)(getpid() ^ time(NULL)));
	alarm(0);
	cstor_store *s = open_store();
	for (;;) {
		/* Half the time the layer everybody shares, else one of ours. */
		int li = rand() % 2 ? 0 : (id % nlayers);
		cstor_error err = CSTOR_ERROR_INIT;
		cstor_mount_hold *h = NULL;
		char *mp = NULL;
		if (take(s, li, &h, &mp, &err) < 0) {
			fprintf(stderr, "worker %d: mount %s: %s\n", id, layers[li],
				cstor_error_message(&err));
			_exit(3);
		}
		struct stat st;
		if (stat(mp, &st) < 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "worker %d: mount point %s of %s is not there\n", id, mp,
				layers[li]);
			_exit(4);
		}
		free(mp);
		if (finishing) {
			char line[32];
			int n = snprintf(line, sizeof(line), "%d\n", li);
			if (write(report_fd, line, (size_t)n) != n)
				_exit(5);
			for (;;)
				pause();
		}
		usleep((useconds_t)(rand() % 2000));
		if (cstor_mount_hold_release(h, s, &err) < 0) {
			fprintf(stderr, "worker %d: release %s: %s\n", id, layers[li],
				cstor_error_message(&err));
			_exit(6);
		}
	}
}

static int discard(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return 0;
}

static void differ(const char *layer)
{
	cstor_store *s = open_store();
	for (;;) {
		cstor_error err = CSTOR_ERROR_INIT;
		if (cstor_store_diff(s, NULL, layer, CSTOR_DIFF_UNCOMPRESSED, discard, NULL, &err) < 0) {
			fprintf(stderr, "diff %s: %s\n", layer, cstor_error_message(&err));
			_exit(7);
		}
		cstor_change *c = NULL;
		size_t n = 0;
		if (cstor_store_changes(&c, &n, s, NULL, layer, &err) < 0) {
			fprintf(stderr, "changes %s: %s\n", layer, cstor_error_message(&err));
			_exit(8);
		}
		cstor_changes_free(c, n);
	}
}

static pid_t spawn_worker(int id, int report_fd)
{
	pid_t p = fork();
	if (p == 0)
		worker(id, report_fd);
	return p;
}

static int64_t count_of(cstor_store *s, int li)
{
	cstor_error err = CSTOR_ERROR_INIT;
	int64_t c = -1;
	if (cstor_store_mounted(&c, s, layers[li], &err) < 0) {
		fprintf(stderr, "mounted %s: %s\n", layers[li], cstor_error_message(&err));
		return -1;
	}
	if (foreign_ok) {
		/* Go mounts and unmounts meanwhile: count ours from one
		 * listing of the holders, not the total of one call minus the
		 * foreign holds of another (Go may mount in between). */
		cstor_mount_holder *h = NULL;
		size_t n = 0;
		if (cstor_store_mount_holders(NULL, &h, &n, s, layers[li], &err) < 0) {
			fprintf(stderr, "holders of %s: %s\n", layers[li], cstor_error_message(&err));
			cstor_error_clear(&err);
			return -1;
		}
		c = 0;
		for (size_t i = 0; i < n; i++)
			if (h[i].kind != CSTOR_HOLDER_FOREIGN)
				c += h[i].count;
		cstor_mount_holders_free(h, n);
	}
	return c;
}

static char *mountpoint_of(cstor_store *s, int li)
{
	char *mp = NULL;
	cstor_mount_holder *h = NULL;
	size_t n = 0;
	if (cstor_store_mount_holders(&mp, &h, &n, s, layers[li], NULL) < 0)
		return NULL;
	cstor_mount_holders_free(h, n);
	return mp;
}

int main(int argc, char **argv)
{
	int workers = 8, seconds = 10;
	double kills = 2;
	const char *diff_layer = NULL;
	int c;
	while ((c = getopt(argc, argv, "g:R:s:o:w:t:k:d:F")) != -1) {
		switch (c) {
		case 'F': foreign_ok = true; break;
		case 'g': graph = optarg; break;
		case 'R': run = optarg; break;
		case 's': driver = optarg; break;
		case 'o': if (nopts < 15) opts[nopts++] = optarg; break;
		case 'w': workers = atoi(optarg); break;
		case 't': seconds = atoi(optarg); break;
		case 'k': kills = atof(optarg); break;
		case 'd': diff_layer = optarg; break;
		default: return 2;
		}
	}
	for (int i = optind; i < argc && nlayers < MAX_LAYERS; i++) {
		layer_ro[nlayers] = strncmp(argv[i], "ro:", 3) == 0;
		layers[nlayers] = layer_ro[nlayers] ? argv[i] + 3 : argv[i];
		nlayers++;
	}
	if (!graph || !run || !driver || nlayers == 0 || workers < 1 || workers > MAX_WORKERS) {
		fprintf(stderr, "usage: %s -g G -R R -s DRIVER [-w N] [-t S] [-k K] [-d L] LAYER...\n",
			argv[0]);
		return 2;
	}
	int report[2];
	if (pipe(report) < 0)
		return 2;
	/* Inherited by every worker before it runs: a SIGUSR1 arriving before
	 * a worker set its handler must not kill it. */
	signal(SIGUSR1, on_usr1);
	/* Never hang the test suite: give up after a generous time. */
	alarm((unsigned)seconds + 60);
	pid_t pids[MAX_WORKERS];
	for (int i = 0; i < workers; i++)
		pids[i] = spawn_worker(i, report[1]);
	pid_t dpid = -1;
	if (diff_layer && (dpid = fork()) == 0) {
		alarm(0);
		differ(diff_layer);
	}

	/* Kill workers at random moments, replacing them. */
	srand((unsigned)time(NULL));
	long killed = 0, died = 0;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= seconds)
			break;
		usleep(kills > 0 ? (useconds_t)(1e6 / kills * (0.5 + (double)rand() / RAND_MAX)) : 100000);
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p == dpid) {
				fprintf(stderr, "the diff loop died (status %d)\n", st);
				return 1;
			}
			/* A worker that exits on its own found a broken mount. */
			fprintf(stderr, "worker %d exited with status %d\n", (int)p, st);
			died++;
		}
		if (died)
			return 1;
		if (kills > 0) {
			int i = rand() % workers;
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			killed++;
			pids[i] = spawn_worker(i, report[1]);
		}
	}
	if (dpid > 0) {
		kill(dpid, SIGKILL);
		waitpid(dpid, NULL, 0);
	}

	/* Let every worker end holding one mount, and count them. */
	for (int i = 0; i < workers; i++)
		kill(pids[i], SIGUSR1);
	int expect[MAX_LAYERS] = { 0 };
	FILE *rf = fdopen(report[0], "r");
	close(report[1]);
	for (int i = 0; i < workers; i++) {
		int li;
		if (fscanf(rf, "%d", &li) != 1 || li < 0 || li >= nlayers) {
			fprintf(stderr, "a worker did not report its final hold\n");
			return 1;
		}
		expect[li]++;
	}
	cstor_store *s = open_store();
	int bad = 0;
	for (int li = 0; li < nlayers; li++) {
		int64_t got = count_of(s, li);

		char *mp = mountpoint_of(s, li);
		bool in_table = mp && cstor_mountinfo_has(mp, NULL);
		bool needs_table = strcmp(driver, "overlay") == 0 || layer_ro[li];
		printf("layer %s: holders %d, count %lld, mounted %s\n", layers[li], expect[li],
		       (long long)got, mp ? mp : "-");
		if (got != expect[li]) {
			fprintf(stderr, "FAIL: layer %s: count %lld, live holders %d\n", layers[li],
				(long long)got, expect[li]);
			bad++;
		}
		if (needs_table && expect[li] > 0 && !in_table) {
			fprintf(stderr, "FAIL: layer %s is held but not in the mount table\n", layers[li]);
			bad++;
		}
		free(mp);
	}
	for (int i = 0; i < workers; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	for (int li = 0; li < nlayers; li++) {
		char *mp = mountpoint_of(s, li); /* reconciles: dead holders go */
		int64_t got = count_of(s, li);
		if (got != 0 || (mp && !foreign_ok)) {
			fprintf(stderr, "FAIL: layer %s: count %lld after every holder died (%s)\n",
				layers[li], (long long)got, mp ? mp : "-");
			bad++;
		}
		free(mp);
	}
	printf("killed %ld workers at random moments; %d checks failed\n", killed, bad);
	cstor_store_free(s);
	return bad ? 1 : 0;
}
