/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credentials from auth.json files (containers-auth.json(5)): the files
 * podman login and docker login write. Only "auth" (base64 of
 * "user:password") is read; credential helpers are not run.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/client.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/macro.h"

/* A key of "auths" names @host (and maybe a repository prefix of @repo):
 * the length of the match, or 0. "https://host/v1/" URLs (docker login
 * writes them) name the host. */
static size_t key_match(const char *key, const char *host, const char *repo)
{
	if (strncmp(key, "https://", 8) == 0)
		key += 8;
	else if (strncmp(key, "http://", 7) == 0)
		key += 7;
	/* Docker Hub's registry has other names in docker's files. */
	if (streq(host, "docker.io") &&
	    (strncmp(key, "index.docker.io", 15) == 0 || strncmp(key, "registry-1.docker.io", 20) == 0))
		key = strchrnul(key, '/'), host = "";
	size_t hl = strlen(host);
	if (hl && (strncmp(key, host, hl) != 0))
		return 0;
	const char *rest = key + hl;
	if (!rest[0] || streq(rest, "/") || strncmp(rest, "/v1", 3) == 0 ||
	    strncmp(rest, "/v2", 3) == 0)
		return 1;
	if (rest[0] != '/')
		return 0;
	rest++;
	size_t rl = strlen(rest);
	if (strncmp(repo, rest, rl) == 0 && (repo[rl] == 0 || repo[rl] == '/'))
		return 1 + rl;
	return 0;
}

static int decode(char **user, char **pass, const char *b64, const char *file, cstor_error *err)
{
	size_t n = strlen(b64);
	_cleanup_free_ unsigned char *out = malloc(n / 4 * 3 + 4);
	if (!out)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
	if (len < 0 || n % 4)
		return cstor_error_set(err, EBADMSG, "%s: an \"auth\" value is not base64", file);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (n > 0 && b64[n - 1] == '=' && len > 0)
		n--, len--;
	out[len] = 0;
	char *colon = strchr((char *)out, ':');
	if (!colon)
		return cstor_error_set(err, EBADMSG, "%s: an \"auth\" value is not user:password",
				       file);
	*colon = 0;
	if (!(*user = strdup((char *)out)) || !(*pass = strdup(colon + 1)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* 1 when @file had the host, 0 when not (or there is no such file). */
static int lookup_file(char **user, char **pass, const char *file, bool must_exist,
		       const char *host, const char *repo, cstor_error *err)
{
	if (!must_exist && access(file, F_OK) < 0)
		return 0;
	json_error_t je;
	json_t *root = json_load_file(file, 0, &je);
	if (!root)
		return cstor_error_set(err, EINVAL, "auth file %s: %s", file, je.text);
	json_t *auths = json_object_get(root, "auths"), *v;
	const char *key, *best = NULL;
	size_t best_len = 0;
	json_object_foreach(auths, key, v)
	{
		size_t m = key_match(key, host, repo);
		if (m > best_len && json_is_string(json_object_get(v, "auth"))) {
			best_len = m;
			best = json_string_value(json_object_get(v, "auth"));
		}
	}
	int r = best ? decode(user, pass, best, file, err) : 0;
	json_decref(root);
	return r < 0 ? r : best != NULL;
}

int cstor_reg_auth_lookup(char **user, char **pass, const char *authfile, const char *host,
			  const char *repo, cstor_error *err)
{
	*user = *pass = NULL;
	if (authfile) {
		int r = lookup_file(user, pass, authfile, true, host, repo, err);
		return r < 0 ? r : 0;
	}
	const char *env = getenv("REGISTRY_AUTH_FILE");
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
	if (xdg && xdg[0] && asprintf(&a, "%s/containers/auth.json", xdg) < 0)
		a = NULL;
	if (home && home[0] && asprintf(&b, "%s/.config/containers/auth.json", home) < 0)
		b = NULL;
	if (home && home[0] && asprintf(&c, "%s/.docker/config.json", home) < 0)
		c = NULL;
	/* $REGISTRY_AUTH_FILE replaces the default (as containers/image). */
	const char *files[] = { env && env[0] ? env : NULL, env && env[0] ? NULL : a,
				env && env[0] ? NULL : b, c };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (!files[i])
			continue;
		int r = lookup_file(user, pass, files[i], false, host, repo, err);
		if (r < 0)
			return r;
		if (r > 0)
			return 0;
	}
	return 0;
}
