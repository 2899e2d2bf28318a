/* SPDX-License-Identifier: Apache-2.0 */
/* list-tags: the tags of a registry repository (include/cstor/registry.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool json, tls_verify = true;
static char *creds, *authfile, *cert_dir;

static const struct cli_flag flags[] = {
	CLI_REGISTRY_FLAGS(creds, authfile, cert_dir, tls_verify),
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int run(cstor_store *store, int argc, char **argv)
{
	(void)store;
	(void)argc;
	cstor_pull_options o = CSTOR_PULL_OPTIONS_INIT;
	o.creds = creds;
	o.authfile = authfile;
	o.cert_dir = cert_dir;
	o.flags = tls_verify ? 0 : CSTOR_REGISTRY_NO_TLS_VERIFY;
	cstor_error err = CSTOR_ERROR_INIT;
	char **tags = NULL;
	int r = cstor_registry_list_tags(&tags, argv[0], &o, &err);
	if (r < 0) {
		cli_error("list-tags", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	if (json) {
		/* skopeo list-tags' shape; the repository as given, without
		 * transport, tag or digest. */
		const char *in = argv[0];
		if (strncmp(in, "docker://", 9) == 0)
			in += 9;
		char repo[1024];
		snprintf(repo, sizeof(repo), "%s", in);
		char *at = strchr(repo, '@'), *slash = strrchr(repo, '/');
		if (at)
			*at = 0;
		char *colon = strrchr(slash ? slash : repo, ':');
		if (colon && slash)
			*colon = 0;
		json_t *t = json_array();
		for (size_t i = 0; t && tags[i]; i++)
			json_array_append_new(t, json_string(tags[i]));
		json_t *j = json_pack("{s:s, s:o}", "Repository", repo, "Tags", t);
		char *s = j ? json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(j);
		if (!s) {
			cstor_strv_free(tags);
			fprintf(stderr, "cstor: list-tags: out of memory\n");
			return EXIT_FAIL;
		}
		printf("%s\n", s);
		free(s);
	} else
		for (size_t i = 0; tags[i]; i++)
			printf("%s\n", tags[i]);
	cstor_strv_free(tags);
	return EXIT_OK;
}

const struct cli_cmd cmd_list_tags = {
	.names = { "list-tags" },
	.args_help = "[docker://]REPOSITORY",
	.usage = "List the tags of a registry repository",
	.description = "Prints every tag of the repository, one a line, in the registry's order, "
		       "following the registry's pages (Link headers). A tag or digest in the "
		       "reference is ignored. Credentials and registries.conf as for pull. See "
		       "docs/registries.md.",
	.examples = CLI_EXAMPLES("cstor list-tags docker://quay.io/podman/stable",
				 "cstor list-tags --tls-verify=false localhost:5000/app",
				 "cstor list-tags --json registry.example.com/team/app | jq -r '.Tags[]'"),
	.min_args = 1,
	.max_args = 1,
	.flags = flags,
	.no_store = true,
	.run = run,
};
