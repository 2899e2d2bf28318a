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

static void print_plain(const cstor_check_report *rep)
{
	size_t n = cstor_check_report_count(rep);
	bool *done = calloc(n + 1, sizeof(bool));
	for (size_t i = 0; i < n; i++) {
		if (done && done[i])
			continue;
		const cstor_check_problem *p = cstor_check_report_problem(rep, i);
		printf("%s %s:\n", object_name(p), p->id);
		for (size_t k = i; k < n; k++) {
			const cstor_check_problem *q = cstor_check_report_problem(rep, k);
			if (q->object != p->object || q->read_only != p->read_only ||
			    strcmp(q->id, p->id) != 0)
				continue;
			printf(" %s\n", q->message);
			if (done)
				done[k] = true;
		}
	}
	free(done);
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
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		printf("%s\"%s\":{", g ? "," : "", groups[g].key);
		bool first_id = true;
		for (size_t i = 0; i < n; i++) {
			const cstor_check_problem *p = cstor_check_report_problem(rep, i);
			if (p->object != groups[g].object || !!p->read_only != groups[g].ro)
				continue;
			bool seen = false;
			for (size_t k = 0; k < i && !seen; k++) {
				const cstor_check_problem *q = cstor_check_report_problem(rep, k);
				seen = q->object == p->object && !!q->read_only == !!p->read_only &&
				       strcmp(q->id, p->id) == 0;
			}
			if (seen)
				continue;
			printf("%s", first_id ? "" : ",");
			first_id = false;
			cli_json_string(stdout, p->id);
			printf(":[");
			bool first = true;
			for (size_t k = i; k < n; k++) {
				const cstor_check_problem *q = cstor_check_report_problem(rep, k);
				if (q->object != p->object || !!q->read_only != !!p->read_only ||
				    strcmp(q->id, p->id) != 0)
					continue;
				printf("%s", first ? "" : ",");
				first = false;
				cli_json_string(stdout, q->message);
			}
			printf("]");
		}
		printf("}");
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
