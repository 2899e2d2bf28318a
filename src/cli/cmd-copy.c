/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy [--chown UID[:GID]] [LAYER:]PATH... [LAYER:]PATH: files between the
 * host and layers, as containers-storage's `copy`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cstor/layer.h>

#include "cli.h"

static char *chown_spec;
static bool json;

static const struct cli_flag flags[] = {
	{ { "-chown", "o" }, CLI_STRING, &chown_spec, "Set owner on new copies",
	  "the source's owners", "UID[:GID]" },
	CLI_JSON_FLAG(json),
	{ { NULL } },
};

static int parse_id(const char *s, size_t len, uint32_t *out)
{
	if (len == 0 || len > 10)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

static int run(cstor_store *store, int argc, char **argv)
{
	cstor_copy_options o = CSTOR_COPY_OPTIONS_INIT;
	if (chown_spec && chown_spec[0]) {
		/* As Go: "UID" alone means UID:UID. */
		const char *colon = strchr(chown_spec, ':');
		size_t ul = colon ? (size_t)(colon - chown_spec) : strlen(chown_spec);
		const char *g = colon ? colon + 1 : chown_spec;
		if (parse_id(chown_spec, ul, &o.uid) < 0) {
			fprintf(stderr, "%s: bad UID in --chown \"%s\"\n", cli_program, chown_spec);
			return EXIT_FAIL;
		}
		if (parse_id(g, strlen(g), &o.gid) < 0) {
			fprintf(stderr, "%s: bad GID in --chown \"%s\"\n", cli_program, chown_spec);
			return EXIT_FAIL;
		}
		o.chown = 1;
	}
	const char *target = argv[argc - 1];
	argv[argc - 1] = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	if (cstor_store_copy(store, (const char *const *)argv, target, &o, &err) < 0) {
		cli_error("copy", &err);
		cstor_error_clear(&err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

const struct cli_cmd cmd_copy = {
	.names = { "copy" },
	.args_help = "[sourceLayerNameOrID:]/path [...] targetLayerNameOrID:/path",
	.usage = "Copy files or directories into a layer, possibly from another layer",
	.description =
		"Copies each source to the target. A source or target written LAYER:PATH is PATH "
		"inside that layer (mounted for the copy), anything else a host path. A directory's "
		"contents go into the target directory (made if missing); a file becomes the target, "
		"or TARGET/NAME when the target ends in \"/\". Owners, modes and times are kept, or "
		"owners set with --chown. Paths inside a layer never lead out of it: \"..\" and "
		"symlinks resolve inside the layer's root.",
	.examples = CLI_EXAMPLES("cstor copy ./app.conf LAYER:/etc/app.conf",
				 "cstor copy --chown 1000:1000 ./src LAYER:/home/user/src",
				 "cstor copy BASE:/etc/os-release ./os-release\t# out of a layer"),
	.min_args = 2,
	.max_args = -1,
	.flags = flags,
	.complete = CLI_OBJ_LAYER | CLI_ARG_FILE,
	.run = run,
};
