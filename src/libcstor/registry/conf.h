/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registries.conf (containers-registries.conf(5), version 2): which
 * registries a name may be pulled from (mirrors, the location a prefix
 * is rewritten to), which are insecure or blocked, and how short names
 * resolve (aliases, unqualified-search-registries). Read from
 * $CONTAINERS_REGISTRIES_CONF when set (that file only, with its
 * drop-ins), else ~/.config/containers/registries.conf when it exists,
 * else /etc/containers/registries.conf; then the *.conf drop-ins of the
 * matching registries.conf.d directories, in name order, each replacing
 * the [[registry]] entries of the same prefix, the aliases it names and
 * the lists it sets.
 */
#ifndef CSTOR_REGISTRY_CONF_H
#define CSTOR_REGISTRY_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include <cstor/error.h>

struct cstor_reg_conf;

int cstor_reg_conf_load(struct cstor_reg_conf **out, cstor_error *err);
void cstor_reg_conf_free(struct cstor_reg_conf *c);

/* Where to get "host/repo": for a pull, the mirrors first (those that
 * serve tags when !@by_digest), then the primary location; for a push,
 * the primary only. */
struct cstor_reg_endpoint {
	char *host;
	char *repo;
	bool insecure;
	bool mirror;
};
/* -EACCES when the name's registry is blocked. */
int cstor_reg_conf_endpoints(struct cstor_reg_endpoint **out, size_t *n,
			     const struct cstor_reg_conf *c, const char *host, const char *repo,
			     bool by_digest, bool push, cstor_error *err);
void cstor_reg_endpoints_free(struct cstor_reg_endpoint *e, size_t n);
/* The same from the registries.conf files read now, without mirrors (a
 * push, a tags list: mirrors need not have every tag): the primary
 * location, rewritten, or -EACCES when blocked. */
int cstor_reg_primary_endpoints(struct cstor_reg_endpoint **out, size_t *n, const char *host,
				const char *repo, cstor_error *err);

/* The alias of short name @name ("busybox", "org/app"), or NULL. */
const char *cstor_reg_conf_alias(const struct cstor_reg_conf *c, const char *name);
/* unqualified-search-registries (NULL-terminated, may be empty). */
char *const *cstor_reg_conf_search(const struct cstor_reg_conf *c);

#endif
