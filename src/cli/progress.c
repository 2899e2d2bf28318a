/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Progress of import/export on a terminal: one line rewritten in place
 * (the layer's own bytes and size, all bytes, throughput), a line per
 * finished layer ("already stored" ones without a rate: nothing was read),
 * and a summary line at the end. Nothing when stderr is not a terminal or
 * --quiet was given, so logs and pipes stay clean. The layers are recorded
 * either way, for --json.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(char *buf, size_t len, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/*
 * What Ctrl-C says, written by the signal handler: kept up to date by the
 * progress callback in one of two buffers, the other being the one the
 * handler may read (so it never sees a half-written text).
 */
static char interrupt_text[2][768];
static volatile sig_atomic_t interrupt_cur = -1;
static volatile sig_atomic_t interrupt_line_open;

static void interrupt_update(const struct cli_progress *p, bool in_layer)
{
	unsigned made = 0, reused = 0;
	for (unsigned i = 0; i < p->n_layers; i++)
		if (p->layers[i].finished) {
			if (p->layers[i].reused)
				reused++;
			else
				made++;
		}
	int next = interrupt_cur == 0 ? 1 : 0;
	char *b = interrupt_text[next];
	size_t len = sizeof(interrupt_text[0]);
	char where[96] = "";
	if (in_layer)
		snprintf(where, sizeof(where), " in layer %u/%u (%.19s)", p->cur + 1, p->n_layers,
			 p->layers[p->cur].digest ? p->layers[p->cur].digest : "?");
	if (!in_layer && made + reused == 0)
		snprintf(b, len, "%s: %s interrupted before any layer was stored: nothing was kept, "
			 "the store is unchanged\n", cli_program, p->what);
	else
		snprintf(b, len,
			 "%s: %s interrupted%s: no image was made; kept: %u layer%s it stored and "
			 "%u already there (importing again reuses them; `cstor gc` removes unused "
			 "ones)%s\n",
			 cli_program, p->what, where, made, made == 1 ? "" : "s", reused,
			 in_layer ? "; the partial layer is removed by the next import or `cstor gc`"
				  : "");
	interrupt_cur = next;
}

static void on_interrupt(int sig)
{
	int cur = interrupt_cur;
	if (interrupt_line_open && write(STDERR_FILENO, "\n", 1) < 0) {
		/* nothing to do: we are dying anyway */
	}
	if (cur >= 0) {
		const char *t = interrupt_text[cur];
		size_t len = strlen(t);
		if (write(STDERR_FILENO, t, len) < 0) {
			/* idem */
		}
	}
	/* Die of the signal, so the caller sees it (the shell: 130). */
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int caught[] = { SIGINT, SIGTERM, SIGHUP };

/* cli_progress_catch_cancel: the first signal sets the flag, which the
 * library sees between chunks and layers; a second one dies at once. */
static volatile int *cancel_flag;
static volatile sig_atomic_t cancel_sig;
static char cancel_text[640];

static void on_cancel(int sig)
{
	if (cancel_flag && !cancel_sig) {
		cancel_sig = sig;
		*cancel_flag = 1;
		return;
	}
	if (interrupt_line_open && write(STDERR_FILENO, "\n", 1) < 0) {
		/* nothing to do: we are dying anyway */
	}
	if (write(STDERR_FILENO, cancel_text, strlen(cancel_text)) < 0) {
		/* idem */
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_progress_catch_cancel(struct cli_progress *p, volatile int *flag)
{
	snprintf(cancel_text, sizeof(cancel_text),
		 "%s: %s interrupted twice: stopped at once; what it left half made is "
		 "removed by the next writer of the store or `cstor gc`\n",
		 cli_program, p->what);
	cancel_flag = flag;
	cancel_sig = 0;
	struct sigaction sa = { .sa_handler = on_cancel };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaction(caught[i], &sa, NULL);
}

void cli_progress_die_of_cancel(void)
{
	int sig = cancel_sig;
	if (!sig)
		return;
	fflush(stdout);
	fflush(stderr);
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_progress_catch_interrupt(struct cli_progress *p)
{
	interrupt_update(p, false);
	struct sigaction sa = { .sa_handler = on_interrupt };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaction(caught[i], &sa, NULL);
}

void cli_progress_release_interrupt(void)
{
	cancel_flag = NULL;
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		signal(caught[i], SIG_DFL);
	interrupt_cur = -1;
}

void cli_progress_init(struct cli_progress *p, const char *verb, bool quiet)
{
	*p = (struct cli_progress){ .verb = verb, .what = "the operation" };
	p->enabled = !quiet && isatty(STDERR_FILENO);
	p->start = p->layer_start = now();
}

static bool record(struct cli_progress *p, const cstor_progress *pr)
{
	if (!p->layers && pr->n_layers) {
		p->layers = calloc(pr->n_layers, sizeof(*p->layers));
		if (!p->layers)
			return false;
		p->n_layers = pr->n_layers;
	}
	if (pr->layer >= p->n_layers)
		return false;
	struct cli_progress_layer *l = &p->layers[pr->layer];
	bool changed = pr->layer != p->cur || !l->digest || (pr->layer_finished && !l->finished);
	p->cur = pr->layer;
	if (!l->digest && pr->digest)
		l->digest = strdup(pr->digest);
	l->size = pr->layer_total;
	l->reused = pr->reused;
	if (pr->layer_finished)
		l->finished = true;
	return changed;
}

void cli_progress_cb(void *ctx, const cstor_progress *pr)
{
	struct cli_progress *p = ctx;
	if (record(p, pr) && interrupt_cur >= 0)
		interrupt_update(p, !pr->layer_finished);
	if (!p->enabled)
		return;
	double t = now();
	/* A line per finished layer; the running line at most 10 times a second. */
	if (!pr->layer_finished && t - p->last < 0.1)
		return;
	p->last = t;
	char ldone[32], ltotal[32], done[32], total[32], rate[32];
	human(ldone, sizeof(ldone), (double)pr->layer_done);
	human(ltotal, sizeof(ltotal), (double)pr->layer_total);
	human(done, sizeof(done), (double)pr->bytes_done);
	human(total, sizeof(total), (double)pr->bytes_total);
	fprintf(stderr, "\r\033[K%s layer %u/%u%s%.19s  ", p->verb, pr->layer + 1, pr->n_layers,
		pr->digest ? " " : "", pr->digest ? pr->digest : "");
	if (pr->reused) {
		/* Nothing was read: no rate to show. */
		fprintf(stderr, "%s  already stored", ltotal);
	} else {
		double el = t - p->layer_start;
		human(rate, sizeof(rate), el > 0 ? (double)pr->layer_done / el : 0);
		/* Input of unknown size (a pipe) shows what was read so far. */
		fprintf(stderr, "%s%s%s  (all: %s%s%s)  %s/s", ldone, pr->layer_total ? " / " : "",
			pr->layer_total ? ltotal : "", done, pr->bytes_total ? " / " : "",
			pr->bytes_total ? total : "", rate);
	}
	if (pr->layer_finished) {
		fputc('\n', stderr);
		/* The next layer's time starts now: its first report comes
		 * only after some of it was read. */
		p->layer_start = t;
	}
	fflush(stderr);
	interrupt_line_open = !pr->layer_finished;
	p->shown = true;
}

void cli_progress_end(struct cli_progress *p, bool ok)
{
	interrupt_line_open = 0;
	if (!p->enabled)
		return;
	if (p->shown)
		fprintf(stderr, "\r\033[K");
	if (!ok || !p->done_verb)
		return;
	unsigned made = 0, reused = 0;
	uint64_t made_bytes = 0, reused_bytes = 0;
	for (unsigned i = 0; i < p->n_layers; i++) {
		if (p->layers[i].reused) {
			reused++;
			reused_bytes += p->layers[i].size;
		} else {
			made++;
			made_bytes += p->layers[i].size;
		}
	}
	char mb[32], rb[32];
	human(mb, sizeof(mb), (double)made_bytes);
	human(rb, sizeof(rb), (double)reused_bytes);
	fprintf(stderr, "%s %u layer%s in %.1f s: %u fetched (%s), %u already stored (%s)\n",
		p->done_verb, p->n_layers, p->n_layers == 1 ? "" : "s", now() - p->start, made, mb,
		reused, rb);
}

void cli_progress_free(struct cli_progress *p)
{
	for (unsigned i = 0; i < p->n_layers; i++)
		free(p->layers[i].digest);
	free(p->layers);
	p->layers = NULL;
	p->n_layers = 0;
}

void cli_progress_layers_json(const struct cli_progress *p, FILE *f)
{
	fputc('[', f);
	for (unsigned i = 0; i < p->n_layers; i++) {
		const struct cli_progress_layer *l = &p->layers[i];
		fprintf(f, "%s{\"digest\":", i ? "," : "");
		cli_json_string(f, l->digest ? l->digest : "");
		fprintf(f, ",\"size\":%llu,\"reused\":%s}", (unsigned long long)l->size,
			l->reused ? "true" : "false");
	}
	fputc(']', f);
}

/* {"id", "names", "layers": [{"id", "digest", "size", "reused"}], "fetched",
 * "reused", "seconds"}: the layers base first, as in the manifest. */
int cli_print_image_json(cstor_store *store, const char *id, const struct cli_progress *p,
			 const char *what, double seconds)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_image *img = NULL;
	if (cstor_store_image(&img, store, id, &err) < 0) {
		cli_error(what, &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	/* The layer IDs, top first, then printed base first. */
	char **ids = calloc(p->n_layers + 1, sizeof(char *));
	unsigned n = 0;
	char *next = cstor_image_top_layer(img) ? strdup(cstor_image_top_layer(img)) : NULL;
	while (ids && next && n < p->n_layers) {
		cstor_layer *l = NULL;
		int r = cstor_store_layer(&l, store, next, &err);
		free(next);
		next = NULL;
		if (r < 0) {
			cstor_error_clear(&err);
			break;
		}
		ids[n++] = strdup(cstor_layer_id(l));
		if (cstor_layer_parent(l))
			next = strdup(cstor_layer_parent(l));
		cstor_layer_free(l);
	}
	free(next);
	unsigned fetched = 0, reused = 0;
	printf("{\"id\":");
	cli_json_string(stdout, id);
	printf(",\"names\":[");
	const char *const *nm = cstor_image_names(img);
	for (size_t i = 0; nm && nm[i]; i++) {
		if (i)
			putchar(',');
		cli_json_string(stdout, nm[i]);
	}
	printf("],\"layers\":[");
	for (unsigned i = 0; i < p->n_layers; i++) {
		const struct cli_progress_layer *l = &p->layers[i];
		const char *lid = n == p->n_layers && ids[n - 1 - i] ? ids[n - 1 - i] : "";
		printf("%s{\"id\":", i ? "," : "");
		cli_json_string(stdout, lid);
		printf(",\"digest\":");
		cli_json_string(stdout, l->digest ? l->digest : "");
		printf(",\"size\":%llu,\"reused\":%s}", (unsigned long long)l->size,
		       l->reused ? "true" : "false");
		if (l->reused)
			reused++;
		else
			fetched++;
	}
	printf("],\"fetched\":%u,\"reused\":%u,\"seconds\":%.3f}\n", fetched, reused, seconds);
	for (unsigned i = 0; ids && i < n; i++)
		free(ids[i]);
	free(ids);
	cstor_image_free(img);
	return EXIT_OK;
}

