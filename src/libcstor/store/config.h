/* SPDX-License-Identifier: Apache-2.0 */
/* Where a store lives and how it is configured (storage.conf, environment,
 * caller options), resolved once at open. */
#ifndef CSTOR_CONFIG_H
#define CSTOR_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include <cstor/store.h>

struct cstor_config {
	char *graph_root;
	char *run_root;
	char *image_store; /* NULL: no split image store */
	char *driver; /* NULL: detect */
	char *rootless_storage_path;
	char **driver_opts; /* strv, "driver.key=value" */
	bool transient_store;
	bool disable_volatile;
	char *config_file; /* the file that was read, NULL if none */
	/* The file's tables and keys cstor accepts without acting on them
	 * ("storage.pull_options", "storage.options.thinpool"), for -D. */
	char **ignored_keys;
	/* The parsed file (NULL if none), for `cstor config`. */
	json_t *file_root;
	bool rootless;
	/* Where each setting came from, for -D: "the caller", "$STORAGE_DRIVER",
	 * "the config file", "the default", ... (static strings). */
	const char *src_graph_root, *src_run_root, *src_driver, *src_opts, *src_transient,
		*src_image_store;
};

int cstor_config_resolve(struct cstor_config *c, const cstor_store_options *o, cstor_error *err);
void cstor_config_done(struct cstor_config *c);

/* "overlay.mountopt=x" -> key "mountopt", value "x"; the prefix (driver name,
 * "overlay2" or empty) is returned in *prefix. Keys are lowercased like the
 * Go drivers do. Returns -EINVAL on a string without '='. */
int cstor_driver_opt_split(const char *opt, char **prefix, char **key, char **value);

#endif
