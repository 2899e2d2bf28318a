/* SPDX-License-Identifier: Apache-2.0 */
/* Opens (creating) a vfs store under the directory given as argv[1] and
 * prints its status: the smallest program using the installed libcstor. */
#include <stdio.h>

#include <cstor/cstor.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	char graph[4096], run[4096];
	snprintf(graph, sizeof(graph), "%s/graph", argv[1]);
	snprintf(run, sizeof(run), "%s/run", argv[1]);

	cstor_store_options opts = CSTOR_STORE_OPTIONS_INIT;
	opts.graph_root = graph;
	opts.run_root = run;
	opts.driver = "vfs";
	opts.config_file = "";

	cstor_error err = CSTOR_ERROR_INIT;
	cstor_store *store = NULL;
	if (cstor_store_open(&store, &opts, &err) < 0) {
		fprintf(stderr, "open store: %s\n", cstor_error_message(&err));
		cstor_error_clear(&err);
		return 1;
	}
	char **status = NULL;
	if (cstor_store_status(&status, store, &err) < 0) {
		fprintf(stderr, "status: %s\n", cstor_error_message(&err));
		cstor_error_clear(&err);
		cstor_store_free(store);
		return 1;
	}
	for (size_t i = 0; status[i] && status[i + 1]; i += 2)
		printf("%s: %s\n", status[i], status[i + 1]);
	cstor_strv_free(status);
	printf("cstor %s\n", cstor_version());
	cstor_store_free(store);
	return 0;
}
