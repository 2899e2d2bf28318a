/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Progress of import/export on a terminal: one line rewritten in place
 * (layers done, bytes done, throughput). Nothing when stderr is not a
 * terminal or --quiet was given, so logs and pipes stay clean.
 */
#include <stdio.h>
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

void cli_progress_init(struct cli_progress *p, const char *verb, bool quiet)
{
	*p = (struct cli_progress){ .verb = verb };
	p->enabled = !quiet && isatty(STDERR_FILENO);
	p->start = now();
}

void cli_progress_cb(void *ctx, const cstor_progress *pr)
{
	struct cli_progress *p = ctx;
	if (!p->enabled)
		return;
	double t = now();
	/* A line per finished layer; the running line at most 10 times a second. */
	if (!pr->layer_finished && t - p->last < 0.1)
		return;
	p->last = t;
	char done[32], total[32], rate[32];
	human(done, sizeof(done), (double)pr->bytes_done);
	human(total, sizeof(total), (double)pr->bytes_total);
	double el = t - p->start;
	human(rate, sizeof(rate), el > 0 ? (double)pr->bytes_done / el : 0);
	/* Input of unknown size (a pipe) shows what was read so far. */
	fprintf(stderr, "\r\033[K%s layer %u/%u%s%.19s%s  %s%s%s  %s/s", p->verb, pr->layer + 1,
		pr->n_layers, pr->digest ? " " : "", pr->digest ? pr->digest : "",
		pr->reused ? " (already stored)" : "",
		done, pr->bytes_total ? " / " : "", pr->bytes_total ? total : "", rate);
	if (pr->layer_finished)
		fputc('\n', stderr);
	p->shown = true;
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->enabled && p->shown)
		fprintf(stderr, "\r\033[K");
}
