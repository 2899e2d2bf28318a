/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check [-q] [-j] [-r [-f]] [-m AGE]: report what is wrong with the store,
 * and with -r repair it (docs/check.md). The plain output is Go's: each
 * object with problems on a line of its own, each problem indented under
 * it; with -r, what was done follows, one line each. The exit status is 0
 * when nothing is (left) wrong that the command was asked to fix.
 */
#include <stdlib.h>
#include <string.h>

#include <cstor/check.h>

#include "cli.h"
#include "util/cleanup.h"

static bool json, repair, force, quick;
static char *max_age;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { "-max", "m" }, CLI_STRING, &max_age, "Maximum allowed age for unreferenced layers (a Go duration: 24h, 90m, 0)", "24h", "AGE" },
	{ { "-repair", "r" }, CLI_BOOL, &repair, "Repair: rebuild damaged layers, remove what cannot be rebuilt" },
	{ { "-force", "f" }, CLI_BOOL, &force, "Also remove damaged containers (implies -r)" },
	{ { "-quick", "q" }, CLI_BOOL, &quick, "Perform only quick checks (no file-by-file comparison)" },
	{ { NULL } },
};

/* A Go duration ("24h", "1h30m", "90s", "0"), in whole seconds. */
static int parse_duration(const char *s, int64_t *out)
{
	double total = 0;
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		if (end == s || v < 0)
			return -1;
		s = end;
		static const struct {
			const char *unit;
			double secs;
		} units[] = { { "ns", 1e-9 }, { "us", 1e-6 }, { "\xc2\xb5s", 1e-6 }, { "ms", 1e-3 },
			      { "s", 1 },     { "m", 60 },    { "h", 3600 } };
		size_t best = 0, best_len = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);
			if (strncmp(s, units[i].unit, l) == 0 && l > best_len) {
				best = i;
				best_len = l;
			}
		}
		if (!best_len)
			return -1;
		total += v * units[best].secs;
		s += best_len;
	}
	*out = (int64_t)total;
	return 0;
}

static const char *object_name(const cstor_check_problem *p)
{
	if (p->object == CSTOR_CHECK_IMAGE)
		return p->read_only ? "read-only image" : "image";
	if (p->object == CSTOR_CHECK_CONTAINER)
		return "container";
	return p->read_only ? "read-only layer" : "layer";
}

/* The report's problems grouped by object: sorted by kind, store and ID
 * (Go's JSON report is maps keyed by ID, which encoding/json prints
 * sorted), each object's problems in the order check found them. One sort
 * instead of a scan of the report per object. */
static const cstor_check_report *sort_rep;

static int by_object(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, k = *(const size_t *)b;
	const cstor_check_problem *p = cstor_check_report_problem(sort_rep, i);
	const cstor_check_problem *q = cstor_check_report_problem(sort_rep, k);
	if (p->object != q->object)
		return p->object < q->object ? -1 : 1;
	if (!!p->read_only != !!q->read_only)
		return p->read_only ? 1 : -1;
	int c = strcmp(p->id, q->id);
	return c ? c : (i < k ? -1 : i > k);
}

static size_t *grouped(const cstor_check_report *rep, size_t n)
{
	size_t *order = malloc((n + 1) * sizeof(*order));
	if (!order)
		return NULL;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_rep = rep;
	qsort(order, n, sizeof(*order), by_object);
	return order;
}

static bool same_object(const cstor_check_problem *p, const cstor_check_problem *q)
{
	return p->object == q->object && !!p->read_only == !!q->read_only &&
	       strcmp(p->id, q->id) == 0;
}

static void print_plain(const cstor_check_report *rep)
{
	size_t n = cstor_check_report_count(rep);
	_cleanup_free_ size_t *order = grouped(rep, n);
	if (!order) {
		fprintf(stderr, "%s: check: out of memory\n", cli_program);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const cstor_check_problem *p = cstor_check_report_problem(rep, order[i]);
		if (i == 0 || !same_object(cstor_check_report_problem(rep, order[i - 1]), p))
			printf("%s %s:\n", object_name(p), p->id);
		printf(" %s\n", p->message);
	}
}

/* {"Layers":{id:[msg...]},"ROLayers":...,"Images":...,"ROImages":...,
 *  "Containers":...}: Go's CheckReport, with the errors as their texts. */
static void print_json_report(const cstor_check_report *rep)
{
	static const struct {
		const char *key;
		int object, ro;
	} groups[] = {
		{ "Layers", CSTOR_CHECK_LAYER, 0 },   { "ROLayers", CSTOR_CHECK_LAYER, 1 },
		{ "Images", CSTOR_CHECK_IMAGE, 0 },   { "ROImages", CSTOR_CHECK_IMAGE, 1 },
		{ "Containers", CSTOR_CHECK_CONTAINER, 0 },
	};
	size_t n = cstor_check_report_count(rep);
	_cleanup_free_ size_t *order = grouped(rep, n);
	if (!order) {
		fprintf(stderr, "%s: check: out of memory\n", cli_program);
		return;
	}
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		printf("%s\"%s\":{", g ? "," : "", groups[g].key);
		const cstor_check_problem *prev = NULL;
		for (size_t i = 0; i < n; i++) {
			const cstor_check_problem *p = cstor_check_report_problem(rep, order[i]);
			if (p->object != groups[g].object || !!p->read_only != groups[g].ro)
				continue;
			if (!prev || !same_object(prev, p)) {
				printf("%s", prev ? "]," : "");
				cli_json_string(stdout, p->id);
				printf(":[");
			} else {
				printf(",");
			}
			cli_json_string(stdout, p->message);
			prev = p;
		}
		printf("%s}", prev ? "]" : "");
	}
}

static void print_json_list(const char *key, char **v)
{
	printf(",\"%s\":[", key);
	for (size_t i = 0; v && v[i]; i++) {
		printf("%s", i ? "," : "");
		cli_json_string(stdout, v[i]);
	}
	printf("]");
}

static int check(cstor_store *store, int argc, char **argv)
{
	cstor_error err = CSTOR_ERROR_INIT;
	cstor_check_options o = CSTOR_CHECK_OPTIONS_INIT;
	if (force)
		repair = true;
	if (quick)
		o.flags |= CSTOR_CHECK_QUICK;
	if (max_age && parse_duration(max_age, &o.max_unreferenced_age) < 0) {
		fprintf(stderr, "%s: check: invalid duration for -m/--max: %s\n", cli_program,
			max_age);
		return EXIT_USAGE;
	}
	cstor_check_report *rep = NULL;
	if (cstor_store_check(&rep, store, &o, &err) < 0) {
		cli_error("check", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	size_t n = cstor_check_report_count(rep);
	size_t ro = 0, containers = 0;
	for (size_t i = 0; i < n; i++) {
		const cstor_check_problem *p = cstor_check_report_problem(rep, i);
		ro += p->read_only != 0;
		containers += p->object == CSTOR_CHECK_CONTAINER;
	}
	if (json) {
		printf("{");
		print_json_report(rep);
	} else {
		print_plain(rep);
	}
	int rc = EXIT_OK;
	if (!repair) {
		if (n > 0) {
			fprintf(stderr, "%s: check: %zu problems found (run check -r to repair)\n",
				cli_program, n);
			rc = EXIT_FAIL;
		}
	} else {
		char **done = NULL, **failed = NULL;
		cstor_repair_options ro_opts = CSTOR_REPAIR_OPTIONS_INIT;
		if (force)
			ro_opts.flags |= CSTOR_REPAIR_REMOVE_CONTAINERS;
		int r = n ? cstor_store_repair(&done, &failed, store, rep, &ro_opts, &err) : 0;
		if (json) {
			print_json_list("Repaired", done);
			print_json_list("Failed", failed);
		} else {
			for (size_t i = 0; done && done[i]; i++)
				printf("repaired: %s\n", done[i]);
		}
		for (size_t i = 0; failed && failed[i]; i++)
			fprintf(stderr, "%s: check: could not repair %s\n", cli_program, failed[i]);
		if (r < 0 && !failed)
			cli_error("check", &err);
		if (r < 0)
			rc = EXIT_FAIL;
		/* What a repair may not touch stays a problem. */
		if (ro || (!force && containers)) {
			fprintf(stderr,
				"%s: check: %zu problems in read-only stores and %zu container problems remain%s\n",
				cli_program, ro, force ? 0 : containers,
				force || !containers ? "" : " (check -r -f removes damaged containers)");
			rc = EXIT_FAIL;
		}
		cstor_strv_free(done);
		cstor_strv_free(failed);
	}
	if (json)
		printf("}\n");
	cstor_check_report_free(rep);
	cstor_error_clear(&err);
	return rc;
}

const struct cli_cmd cmd_check = {
	.names = { "check" },
	.usage = "Check storage consistency",
	.description = "Checks every layer (its diff against its recorded digest and size, and, "
		       "unless -q, its files against its diffs), image and container of the store and "
		       "of its read-only image stores, and the driver's directories. Prints each object "
		       "with its problems and exits 1 when there are any. With -r, damaged layers are "
		       "rebuilt in place from their kept blobs or identical layers, so their images "
		       "survive; what cannot be rebuilt is removed, and the output says what that cost. "
		       "Read-only stores are never changed. See docs/check.md.",
	.examples = CLI_EXAMPLES("cstor check\t# everything; exit 1 when something is wrong",
				 "cstor check -q --json\t# quick checks, one JSON report",
				 "cstor check -r -m 1h\t# repair; unused layers older than an hour go"),
	.max_args = 0,
	.flags = flags,
	.run = check,
};
