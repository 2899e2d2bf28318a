/* SPDX-License-Identifier: Apache-2.0 */
/* layer [--json] layerNameOrID [...] */
#include <jansson.h>
#include <stdlib.h>

#include <cstor/layer.h>

#include "cli.h"

static bool json;

static const struct cli_flag flags[] = {
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

/* The public API has no ID-map getter; the record's JSON has the maps. */
static void print_idmap(json_t *rec, const char *key, const char *label)
{
	json_t *arr = json_object_get(rec, key);
	size_t i;
	json_t *m;
	json_array_foreach(arr, i, m)
	{
		printf("%s mapping: (container=%lld, host=%lld, size=%lld)\n", label,
		       (long long)json_integer_value(json_object_get(m, "container_id")),
		       (long long)json_integer_value(json_object_get(m, "host_id")),
		       (long long)json_integer_value(json_object_get(m, "size")));
	}
}

static void print_layer(const cstor_layer *l)
{
	printf("ID: %s\n", cstor_layer_id(l));
	char *j = cstor_layer_to_json(l);
	json_t *rec = j ? json_loads(j, JSON_ALLOW_NUL, NULL) : NULL;
	free(j);
	if (rec) {
		print_idmap(rec, "uidmap", "UID");
		print_idmap(rec, "gidmap", "GID");
		json_decref(rec);
	}
	if (cstor_layer_parent(l))
		printf("Parent: %s\n", cstor_layer_parent(l));
	for (const char *const *n = cstor_layer_names(l); *n; n++)
		printf("Name: %s\n", *n);
	if (cstor_layer_read_only(l))
		printf("Read Only: true\n");
}

static int run(cstor_store *store, int argc, char **argv)
{
	cstor_layer **matched = calloc((size_t)argc + 1, sizeof(*matched));
	if (!matched) {
		fprintf(stderr, "%s: layer: out of memory\n", cli_program);
		return EXIT_FAIL;
	}
	size_t n = 0;
	int rc = EXIT_OK;
	for (int i = 0; i < argc; i++) {
		cstor_error err = CSTOR_ERROR_INIT;
		if (cstor_store_layer(&matched[n], store, argv[i], &err) < 0) {
			/* The Go CLI only exits 1; cstor also says why. */
			cli_error("layer", &err);
			cstor_error_clear(&err);
			rc = EXIT_FAIL;
			continue;
		}
		n++;
	}
	if (json) {
		putchar('[');
		for (size_t i = 0; i < n; i++) {
			char *j = cstor_layer_to_json(matched[i]);
			printf("%s%s", i ? "," : "", j ? j : "null");
			free(j);
		}
		puts("]");
	} else {
		for (size_t i = 0; i < n; i++)
			print_layer(matched[i]);
	}
	cstor_layer_list_free(matched);
	return rc;
}

const struct cli_cmd cmd_layer = {
	.names = { "layer" },
	.args_help = "layerNameOrID [...]",
	.usage = "Examine a layer",
	.min_args = 1,
	.max_args = -1,
	.flags = flags,
	.examples = CLI_EXAMPLES("cstor layer mylayer", "cstor layer --json mylayer"),
	.complete = CLI_OBJ_LAYER,
	.read_only = true,
	.run = run,
};
