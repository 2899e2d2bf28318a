/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstor/check.h>

#include "cstor-config.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/debug.h"
#include "util/strv.h"

const char *cstor_version(void)
{
	return CSTOR_VERSION;
}

void cstor_strv_free(char **v)
{
	strv_free(v);
}

void cstor_store_log(struct cstor_store *s, int level, const char *fmt, ...)
{
	if (!s->log)
		return;
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n >= 0)
		s->log(s->log_ctx, level, msg);
}

void cstor_store_free(cstor_store *s)
{
	if (!s)
		return;
	if (s->debug_sink)
		cstor_debug_unset_sink(s->log, s->log_ctx);
	cstor_store_free_objects(s);
	cstor_mounts_free(s->mounts);
	cstor_objstore_free(s->layers);
	for (size_t i = 0; i < s->n_ro_layers; i++)
		cstor_objstore_free(s->ro_layers[i]);
	free(s->ro_layers);
	strv_free(s->image_stores);
	strv_free(s->collected);
	if (s->driver)
		s->driver_ops->free(s->driver);
	if (s->image_driver)
		s->driver_ops->free(s->image_driver);
	free(s->image_driver_home);
	free(s->image_layers_dir);
	free(s->graph_images_dir);
	free(s->run_containers_dir);
	if (s->graph_lock.file)
		cstor_lock_close(&s->graph_lock);
	cstor_config_done(&s->cfg);
	free(s->driver_home);
	free(s->layers_dir);
	free(s->images_dir);
	free(s->containers_dir);
	free(s->run_layers_dir);
	strv_free(s->driver_opts_for_driver);
	free(s);
}

static void store_freep(struct cstor_store **s)
{
	cstor_store_free(*s);
}

/* In a transient store's <runroot>/<driver>-containers: made by the first
 * writer after the run root was emptied, once it collected what the
 * containers of the last boot left on the graph root. */
#define TRANSIENT_COLLECTED "cstor-collected"

static int driver_options(struct cstor_store *s, cstor_error *err)
{
	for (size_t i = 0; s->cfg.driver_opts && s->cfg.driver_opts[i]; i++) {
		const char *o = s->cfg.driver_opts[i];
		_cleanup_free_ char *prefix = NULL;
		if (cstor_driver_opt_split(o, &prefix, NULL, NULL) < 0)
			return cstor_error_set(err, EINVAL,
					       "storage option \"%s\" is not of the form key=value", o);
		if (!cstor_driver_option_is_for(s->driver_ops, prefix))
			return cstor_error_set(err, EINVAL,
					       "storage option \"%s\" is for driver \"%s\", not \"%s\"",
					       o, prefix, s->driver_ops->name);
		if (strv_append(&s->driver_opts_for_driver, o) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		/* Additional image stores are the store's business too: their
		 * layer records are read by the layer store. */
		_cleanup_free_ char *key = NULL, *val = NULL;
		if (cstor_driver_opt_split(o, NULL, &key, &val) == 0 &&
		    (streq(key, "imagestore") || streq(key, "additionalimagestore"))) {
			_cleanup_strv_free_ char **parts = strv_split(val, ',');
			for (size_t k = 0; parts && parts[k]; k++) {
				if (!parts[k][0] || strv_contains(s->image_stores, parts[k]))
					continue;
				if (parts[k][0] != '/')
					return cstor_error_set(err, EINVAL,
							       "image store \"%s\" is not an absolute path",
							       parts[k]);
				if (strv_append(&s->image_stores, parts[k]) < 0)
					return cstor_error_set(err, ENOMEM, "out of memory");
			}
		}
	}
	return 0;
}

static int open_layer_stores(struct cstor_store *s, cstor_error *err)
{
	/* Volatile layers' records go to the run root in a transient store;
	 * a split image store's image layers' to its own layers.json. */
	struct cstor_objstore_where w = {
		.dir = s->layers_dir,
		.aside_dir = s->cfg.transient_store ? s->run_layers_dir : NULL,
		.split_dir = s->image_layers_dir,
	};
	int r = cstor_objstore_open_at(&s->layers, &cstor_layer_store_ops, &w, false, err);
	if (r < 0)
		return r;
	/* The layer kind's hooks (removing a layer's driver files, telling a
	 * running apply from a dead one) need the store. */
	s->layers->ctx = s;
	if ((r = cstor_mounts_open(&s->mounts, s->run_layers_dir, err)) < 0)
		return r;
	size_t n = strv_length(s->image_stores);
	s->ro_layers = calloc(n + 1, sizeof(*s->ro_layers));
	if (!s->ro_layers)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *dir = NULL;
		if (asprintf(&dir, "%s/%s-layers", s->image_stores[i], s->driver_ops->name) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if ((r = cstor_layer_store_open(&s->ro_layers[i], dir, true, err)) < 0)
			return r;
		s->n_ro_layers++;
	}
	return 0;
}

/* Whether the configuration names additional image or layer stores. */
static bool has_additional_stores(const struct cstor_config *c)
{
	for (size_t i = 0; c->driver_opts && c->driver_opts[i]; i++) {
		_cleanup_free_ char *prefix = NULL, *key = NULL, *value = NULL;
		if (cstor_driver_opt_split(c->driver_opts[i], &prefix, &key, &value) < 0)
			continue;
		if (strcmp(key, "imagestore") == 0 || strcmp(key, "additionalimagestore") == 0 ||
		    strcmp(key, "additionallayerstore") == 0)
			return true;
	}
	return false;
}

int cstor_store_open(cstor_store **out, const cstor_store_options *opts, cstor_error *err)
{
	if (opts && opts->version != CSTOR_STORE_OPTIONS_VERSION && opts->version != 1)
		return cstor_error_set(err, EINVAL, "unsupported cstor_store_options version %u",
				       opts->version);
	if (opts && (opts->flags & ~(CSTOR_STORE_OPEN_EXISTING | CSTOR_STORE_DEBUG)))
		return cstor_error_set(err, EINVAL, "unknown store flags 0x%x", opts->flags);

	_cleanup_(store_freep) struct cstor_store *s = calloc(1, sizeof(*s));
	if (!s)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (opts) {
		s->log = opts->log;
		s->log_ctx = opts->log_ctx;
		if ((opts->flags & CSTOR_STORE_DEBUG) && opts->log) {
			s->debug_sink = true;
			cstor_debug_set_sink(opts->log, opts->log_ctx);
		}
	}
	int r = cstor_config_resolve(&s->cfg, opts, err);
	if (r < 0)
		return r;
	cstor_store_log(s, CSTOR_LOG_DEBUG, "config file: %s",
			s->cfg.config_file ? s->cfg.config_file : "(none)");
	if (s->debug_sink) {
		const struct cstor_config *c = &s->cfg;
		cstor_store_log(s, CSTOR_LOG_DEBUG, "config: graphroot = %s (from %s)",
				c->graph_root, c->src_graph_root);
		cstor_store_log(s, CSTOR_LOG_DEBUG, "config: runroot = %s (from %s)", c->run_root,
				c->src_run_root);
		cstor_store_log(s, CSTOR_LOG_DEBUG, "config: driver = %s (from %s)",
				c->driver ? c->driver : "(none)", c->src_driver);
		cstor_store_log(s, CSTOR_LOG_DEBUG, "config: transient_store = %s (from %s)",
				c->transient_store ? "true" : "false", c->src_transient);
		cstor_store_log(s, CSTOR_LOG_DEBUG, "config: imagestore = %s (from %s)",
				c->image_store ? c->image_store : "(none)", c->src_image_store);
		for (size_t i = 0; c->driver_opts && c->driver_opts[i]; i++) {
			bool caller = opts->driver_options &&
				      strv_contains((char *const *)opts->driver_options,
						    c->driver_opts[i]);
			cstor_store_log(s, CSTOR_LOG_DEBUG, "config: option %s (from %s)",
					c->driver_opts[i],
					caller ? "the caller (cstor: --storage-opt)" : c->src_opts);
		}
		for (size_t i = 0; c->ignored_keys && c->ignored_keys[i]; i++)
			cstor_store_log(s, CSTOR_LOG_DEBUG,
					"config: %s: %s is accepted; cstor does not act on it",
					c->config_file, c->ignored_keys[i]);
	}
	/* Checked before the driver is detected or initialised: nothing,
	 * not even a probe mount, may land under a path that is not a store.
	 * A primary store in front of additional (read-only) stores is made
	 * on first use as containers/storage makes it: that is how such
	 * setups start, not a typo. */
	if (opts && (opts->flags & CSTOR_STORE_OPEN_EXISTING) && !has_additional_stores(&s->cfg)) {
		struct stat st;
		if (stat(s->cfg.graph_root, &st) < 0) {
			int e = errno;
			if (e == ENOENT)
				return cstor_error_set(err, e, "store %s does not exist (not created: "
						       "the command only reads)", s->cfg.graph_root);
			return cstor_error_errno(err, e, "store %s", s->cfg.graph_root);
		}
		if (!S_ISDIR(st.st_mode))
			return cstor_error_set(err, ENOTDIR, "store %s is not a directory",
					       s->cfg.graph_root);
	}

	const char *name = s->cfg.driver;
	/* No driver configured: reuse the one a previous run chose, else the
	 * first usable, as containers/storage does. */
	if (!name && (r = cstor_driver_detect(&name, s->cfg.graph_root, err)) < 0)
		return r;
	s->driver_ops = cstor_driver_lookup(name);
	if (!s->driver_ops) {
		_cleanup_free_ char *known = cstor_driver_names(NULL, " or ");
		if (!known)
			return cstor_error_set(err, ENOMEM, "out of memory");
		return cstor_error_set(err, ENOTSUP, "driver \"%s\" is not supported (use %s)",
				       name, known);
	}
	if ((r = driver_options(s, err)) < 0)
		return r;

	const char *dn = s->driver_ops->name;
	if (asprintf(&s->driver_home, "%s/%s", s->cfg.graph_root, dn) < 0 ||
	    asprintf(&s->layers_dir, "%s/%s-layers", s->cfg.graph_root, dn) < 0 ||
	    asprintf(&s->images_dir, "%s/%s-images", s->cfg.graph_root, dn) < 0 ||
	    asprintf(&s->containers_dir, "%s/%s-containers", s->cfg.graph_root, dn) < 0 ||
	    asprintf(&s->run_layers_dir, "%s/%s-layers", s->cfg.run_root, dn) < 0 ||
	    asprintf(&s->run_containers_dir, "%s/%s-containers", s->cfg.run_root, dn) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	const char *is = s->cfg.image_store;
	if (is) {
		/* Newest containers/storage's split layout: the image store
		 * holds the images and their layers, the graph root the rest;
		 * the graph root's images stay readable. */
		s->graph_images_dir = TAKE_PTR(s->images_dir);
		if (asprintf(&s->images_dir, "%s/%s-images", is, dn) < 0 ||
		    asprintf(&s->image_layers_dir, "%s/%s-layers", is, dn) < 0 ||
		    asprintf(&s->image_driver_home, "%s/%s", is, dn) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}

	/* A transient store whose run root lost its containers (a reboot, or
	 * a first use): what those containers left on the graph root (their
	 * layers' directories, their directories) is garbage, collected below
	 * as podman has containers/storage do at boot. */
	_cleanup_free_ char *collected = NULL;
	bool fresh_run = false;
	if (s->cfg.transient_store) {
		/* Not the lock files: readers make those. */
		if (!(collected = cstor_path_join(s->run_containers_dir, TRANSIENT_COLLECTED)))
			return cstor_error_set(err, ENOMEM, "out of memory");
		fresh_run = access(collected, F_OK) < 0 && errno == ENOENT;
	}

	/* The skeleton containers/storage creates, so that a Go process
	 * opening this store later finds what it expects. */
	const char *dirs[] = { s->cfg.graph_root, s->cfg.run_root, s->driver_home, s->layers_dir,
			       s->images_dir, s->containers_dir, s->run_layers_dir,
			       s->run_containers_dir, is, s->image_driver_home, s->image_layers_dir };
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (dirs[i] && (r = cstor_mkdir_p(dirs[i], 0700, err)) < 0)
			return r;

	_cleanup_free_ char *graph_lock = cstor_path_join(s->cfg.graph_root, "storage.lock");
	if (!graph_lock)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = cstor_lock_open(&s->graph_lock, graph_lock, false, err)) < 0)
		return r;

	_cleanup_free_ char *run_home = NULL;
	if (asprintf(&run_home, "%s/%s", s->cfg.run_root, dn) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	struct cstor_driver_init init = {
		.home = s->driver_home,
		.run_home = run_home,
		.graph_root = s->cfg.graph_root,
		.run_root = s->cfg.run_root,
		.options = s->driver_opts_for_driver,
		.log = s->log,
		.log_ctx = s->log_ctx,
	};
	/* With a split image store, two instances of the driver: the graph
	 * root's, and the image store's (image layers). Each finds the
	 * other's layers as an additional store's: a container's parent is
	 * in the image store, lower links may point either way. */
	_cleanup_strv_free_ char **gopts = NULL, **iopts = NULL;
	if (is) {
		char *o1 = NULL, *o2 = NULL;
		if (!(gopts = strv_copy(s->driver_opts_for_driver ? s->driver_opts_for_driver
								   : (char *[]){ NULL })) ||
		    !(iopts = strv_copy(gopts)) || asprintf(&o1, "%s.imagestore=%s", dn, is) < 0 ||
		    strv_consume(&gopts, o1) < 0 ||
		    asprintf(&o2, "%s.imagestore=%s", dn, s->cfg.graph_root) < 0 ||
		    strv_consume(&iopts, o2) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		init.options = gopts;
	}
	if ((r = s->driver_ops->init(&s->driver, &init, err)) < 0)
		return cstor_error_wrap(err, r, "initialise %s driver", dn);
	if (is) {
		init.home = s->image_driver_home;
		init.options = iopts;
		if ((r = s->driver_ops->init(&s->image_driver, &init, err)) < 0)
			return cstor_error_wrap(err, r, "initialise %s driver in image store %s", dn,
						is);
	}
	if ((r = open_layer_stores(s, err)) < 0)
		return r;
	if ((r = cstor_store_open_objects(s, err)) < 0)
		return r;
	/* Only by a caller that may write: a reader leaves it to the next.
	 * Garbage is no reason to refuse the store: a failure is a warning,
	 * and the mark is not made, so the next writer tries again. */
	if (fresh_run && !(opts && (opts->flags & CSTOR_STORE_OPEN_EXISTING))) {
		_cleanup_strv_free_ char **removed = NULL;
		cstor_error e = CSTOR_ERROR_INIT;
		int g = cstor_store_gc(&removed, s, &e);
		for (size_t i = 0; removed && removed[i]; i++)
			cstor_store_log(s, CSTOR_LOG_DEBUG, "transient store, new run root: %s",
					removed[i]);
		if (g < 0)
			cstor_store_log(s, CSTOR_LOG_WARNING,
					"transient store: collecting what the last boot left: %s",
					cstor_error_message(&e));
		cstor_error_clear(&e);
		int fd = g < 0 ? -1 : open(collected, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}

	*out = TAKE_PTR(s);
	return 0;
}

const char *cstor_store_graph_root(const cstor_store *s)
{
	return s->cfg.graph_root;
}

const char *cstor_store_run_root(const cstor_store *s)
{
	return s->cfg.run_root;
}

const char *cstor_store_driver_name(const cstor_store *s)
{
	return s->driver_ops->name;
}

const char *const *cstor_store_driver_options(const cstor_store *s)
{
	static const char *const none[] = { NULL };
	return s->cfg.driver_opts ? (const char *const *)s->cfg.driver_opts : none;
}

const char *cstor_store_image_store(const cstor_store *s)
{
	return s->cfg.image_store;
}

int cstor_store_transient(const cstor_store *s)
{
	return s->cfg.transient_store;
}

const char *cstor_store_config_file(const cstor_store *s)
{
	return s->cfg.config_file;
}

int cstor_store_status(char ***out, cstor_store *s, cstor_error *err)
{
	_cleanup_strv_free_ char **v = NULL;
	/* "Driver Options" is Go's %v of a []string: "[a b c]". */
	_cleanup_free_ char *joined = strv_join(s->cfg.driver_opts, " ");
	_cleanup_free_ char *opts = NULL;
	if (!joined || asprintf(&opts, "[%s]", joined) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	const char *basics[] = { "Root",        s->cfg.graph_root,     "Run Root",
				 s->cfg.run_root, "Driver Name",         s->driver_ops->name,
				 "Driver Options", opts };
	for (size_t i = 0; i < ELEMENTSOF(basics); i++)
		if (strv_append(&v, basics[i]) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	int r = s->driver_ops->status(s->driver, &v, err);
	if (r < 0)
		return r;
	if (!v && !(v = calloc(1, sizeof(char *))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(v);
	return 0;
}
