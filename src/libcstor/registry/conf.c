/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registries.conf (conf.h). Version 1 files ([registries.search] and
 * friends) are not read: Debian 12's podman writes version 2.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/conf.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/macro.h"
#include "util/strv.h"
#include "util/toml.h"

struct cstor_reg_conf {
	json_t *registries; /* prefix -> [[registry]] table */
	json_t *aliases;    /* short name -> "host/repo" */
	char **search;
};

void cstor_reg_conf_free(struct cstor_reg_conf *c)
{
	if (!c)
		return;
	json_decref(c->registries);
	json_decref(c->aliases);
	strv_free(c->search);
	free(c);
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int merge_file(struct cstor_reg_conf *c, const char *path, cstor_error *err)
{
	json_t *root = NULL;
	int r = cstor_toml_parse_file(&root, path, err);
	if (r < 0)
		return r;
	json_t *v = json_object_get(root, "unqualified-search-registries"), *e;
	size_t i;
	if (json_is_array(v)) {
		strv_free(c->search);
		c->search = calloc(1, sizeof(char *));
		json_array_foreach(v, i, e) if (json_is_string(e) && c->search &&
						strv_append(&c->search, json_string_value(e)) < 0)
		{
			strv_free(c->search);
			c->search = NULL;
		}
		if (!c->search)
			r = cstor_error_set(err, ENOMEM, "out of memory");
	}
	json_array_foreach(json_object_get(root, "registry"), i, e)
	{
		if (r < 0)
			break;
		const char *prefix = str(e, "prefix");
		if (!prefix || !prefix[0])
			prefix = str(e, "location");
		if (!prefix || !prefix[0]) {
			r = cstor_error_set(err, EINVAL, "%s: a [[registry]] without prefix or location",
					    path);
			break;
		}
		if (json_object_set(c->registries, prefix, e) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
	}
	const char *k;
	json_object_foreach(json_object_get(root, "aliases"), k, e)
	{
		if (r == 0 && json_is_string(e) && json_object_set(c->aliases, k, e) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
	}
	json_decref(root);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.conf files of @dir in name order. */
static int merge_dropins(struct cstor_reg_conf *c, const char *dir, cstor_error *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	_cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
	struct dirent *e;
	int r = names ? 0 : -ENOMEM;
	while (r == 0 && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 5 && streq(e->d_name + l - 5, ".conf"))
			r = strv_append(&names, e->d_name);
	}
	closedir(d);
	if (r < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	qsort(names, strv_length(names), sizeof(char *), cmp_str);
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, names[i]) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if ((r = merge_file(c, p, err)) < 0)
			return r;
	}
	return 0;
}

int cstor_reg_conf_load(struct cstor_reg_conf **out, cstor_error *err)
{
	struct cstor_reg_conf *c = calloc(1, sizeof(*c));
	if (!c || !(c->registries = json_object()) || !(c->aliases = json_object()) ||
	    !(c->search = calloc(1, sizeof(char *)))) {
		cstor_reg_conf_free(c);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	const char *env = getenv("CONTAINERS_REGISTRIES_CONF"), *home = getenv("HOME");
	_cleanup_free_ char *user = NULL, *file = NULL, *dropins = NULL;
	if (home && home[0] && asprintf(&user, "%s/.config/containers/registries.conf", home) < 0)
		user = NULL;
	if (env && env[0])
		file = strdup(env);
	else if (user && access(user, F_OK) == 0)
		file = strdup(user);
	else
		file = strdup("/etc/containers/registries.conf");
	int r = 0;
	if (!file || asprintf(&dropins, "%s.d", file) < 0) {
		dropins = NULL;
		r = cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (r == 0 && (access(file, F_OK) == 0 || (env && env[0])))
		r = merge_file(c, file, err);
	/* The system's drop-ins apply to the user's file too, as in
	 * containers/image; $CONTAINERS_REGISTRIES_CONF has only its own. */
	if (r == 0 && !(env && env[0]) && !streq(file, "/etc/containers/registries.conf"))
		r = merge_dropins(c, "/etc/containers/registries.conf.d", err);
	if (r == 0)
		r = merge_dropins(c, dropins, err);
	if (r < 0) {
		cstor_reg_conf_free(c);
		return cstor_error_wrap(err, r, "registries.conf");
	}
	*out = c;
	return 0;
}

/* How much of "host/repo" @prefix covers (0: no match); a wildcard
 * "*.domain" prefix matches hosts under the domain, after any exact one. */
static size_t prefix_match(const char *prefix, const char *host, const char *name)
{
	if (strncmp(prefix, "*.", 2) == 0) {
		size_t hl = strlen(host), pl = strlen(prefix + 1);
		return hl > pl && streq(host + hl - pl, prefix + 1) ? 1 : 0;
	}
	size_t pl = strlen(prefix);
	if (strncmp(name, prefix, pl) != 0 || (name[pl] && name[pl] != '/'))
		return 0;
	return 1 + pl;
}

static int add_endpoint(struct cstor_reg_endpoint **out, size_t *n, const char *location,
			const char *suffix, bool insecure, bool mirror)
{
	_cleanup_free_ char *full = NULL;
	if (asprintf(&full, "%s%s", location, suffix) < 0)
		return -ENOMEM;
	const char *slash = strchr(full, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	struct cstor_reg_endpoint *ne = realloc(*out, (*n + 1) * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	*out = ne;
	struct cstor_reg_endpoint *e = &ne[*n];
	*e = (struct cstor_reg_endpoint){ strndup(full, (size_t)(slash - full)), strdup(slash + 1),
					  insecure, mirror };
	(*n)++;
	return e->host && e->repo ? 0 : -ENOMEM;
}

void cstor_reg_endpoints_free(struct cstor_reg_endpoint *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].host);
		free(e[i].repo);
	}
	free(e);
}

int cstor_reg_conf_endpoints(struct cstor_reg_endpoint **out, size_t *n,
			     const struct cstor_reg_conf *c, const char *host, const char *repo,
			     bool by_digest, bool push, cstor_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_free_ char *name = NULL;
	if (asprintf(&name, "%s/%s", host, repo) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	json_t *best = NULL, *reg;
	const char *prefix, *best_prefix = NULL;
	size_t best_len = 0;
	json_object_foreach(c ? c->registries : NULL, prefix, reg)
	{
		size_t m = prefix_match(prefix, host, name);
		if (m > best_len) {
			best_len = m;
			best = reg;
			best_prefix = prefix;
		}
	}
	if (best && json_is_true(json_object_get(best, "blocked")))
		return cstor_error_set(err, EACCES, "%s is blocked by registries.conf (prefix %s)", name,
				       best_prefix);
	int r = 0;
	bool wild = best_prefix && strncmp(best_prefix, "*.", 2) == 0;
	const char *suffix = best && !wild ? name + strlen(best_prefix) : "";
	if (best && !push) {
		bool digest_only = json_is_true(json_object_get(best, "mirror-by-digest-only"));
		json_t *m;
		size_t i;
		json_array_foreach(json_object_get(best, "mirror"), i, m)
		{
			const char *loc = str(m, "location"), *pfm = str(m, "pull-from-mirror");
			bool ok = by_digest ? !(pfm && streq(pfm, "tag-only"))
					    : !digest_only && !(pfm && streq(pfm, "digest-only"));
			if (!loc || !ok || r < 0)
				continue;
			r = add_endpoint(out, n, loc, wild ? name + strlen(host) : suffix,
					 json_is_true(json_object_get(m, "insecure")), true);
		}
	}
	const char *loc = best && !wild ? str(best, "location") : NULL;
	if (r == 0)
		r = loc && loc[0] ? add_endpoint(out, n, loc, suffix, false, false)
				  : add_endpoint(out, n, host, name + strlen(host), false, false);
	if (r == 0 && best)
		(*out)[*n - 1].insecure = json_is_true(json_object_get(best, "insecure"));
	if (r < 0) {
		cstor_reg_endpoints_free(*out, *n);
		*out = NULL;
		*n = 0;
		return r == -EINVAL ? cstor_error_set(err, EINVAL,
						      "registries.conf: prefix %s: a location "
						      "without a repository",
						      best_prefix ? best_prefix : "")
				    : cstor_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

const char *cstor_reg_conf_alias(const struct cstor_reg_conf *c, const char *name)
{
	return c ? json_string_value(json_object_get(c->aliases, name)) : NULL;
}

char *const *cstor_reg_conf_search(const struct cstor_reg_conf *c)
{
	return c->search;
}

int cstor_reg_primary_endpoints(struct cstor_reg_endpoint **out, size_t *n, const char *host,
				const char *repo, cstor_error *err)
{
	*out = NULL;
	*n = 0;
	struct cstor_reg_conf *conf = NULL;
	int r = cstor_reg_conf_load(&conf, err);
	if (r < 0)
		return r;
	r = cstor_reg_conf_endpoints(out, n, conf, host, repo, false, true, err);
	cstor_reg_conf_free(conf);
	return r;
}
