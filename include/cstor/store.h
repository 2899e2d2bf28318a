/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening a store: the graph root (persistent data), the run root (state that
 * must not outlive a reboot: mount records, feature probes) and a driver.
 *
 * Settings come from storage.conf (found as containers/storage finds it:
 * $CONTAINERS_STORAGE_CONF, then the user's and the system's files), then the
 * environment (STORAGE_DRIVER, STORAGE_OPTS), then the fields of
 * cstor_store_options. Each option overrides only its own setting: giving a
 * graph root does not drop the configured driver options (the Go CLI drops
 * them; cstor does not copy that).
 */
#ifndef CSTOR_STORE_H
#define CSTOR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>

CSTOR_BEGIN_DECL

typedef struct cstor_store cstor_store;

/** Log levels passed to cstor_store_options.log. */
enum {
	CSTOR_LOG_ERROR = 0,
	CSTOR_LOG_WARNING = 1,
	CSTOR_LOG_DEBUG = 2,
};

/* 2 added image_store; version 1 structures are still accepted. */
#define CSTOR_STORE_OPTIONS_VERSION 2

typedef struct cstor_store_options {
	unsigned int version; /* CSTOR_STORE_OPTIONS_VERSION */
	const char *graph_root; /* NULL: from configuration or the default */
	const char *run_root;   /* NULL: from configuration or the default */
	const char *driver;     /* NULL: configured, else detected */
	/* NULL-terminated "driver.key=value" strings. Each replaces the
	 * configured option with the same key; additional image stores
	 * ("imagestore") add to the configured ones. */
	const char *const *driver_options;
	/* storage.conf to read instead of the default search; "" reads none. */
	const char *config_file;
	int transient_store; /* -1: configured value; 0 or 1 to override */
	/* Called with library diagnostics (the library never prints). */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
	uint32_t flags; /* CSTOR_STORE_OPEN_* */
	/* Since version 2: the root of a split image store (images and
	 * their layers; docs/split-store.md), absolute; NULL: imagestore of
	 * storage.conf, else none. "" for none whatever is configured. */
	const char *image_store;
} cstor_store_options;

/** Open only a store whose graph root exists: -ENOENT, creating nothing,
 *  when it does not (for callers that only read; a mistyped path must not
 *  become a new empty store). Since: 0.1 (flag added with the CLI's
 *  first-hour work; older libraries reject it with -EINVAL). */
#define CSTOR_STORE_OPEN_EXISTING (1u << 0)

/** Send debug messages to the log callback (CSTOR_LOG_DEBUG): each
 *  setting and where it came from, lock files taken and how long they
 *  were waited for, mounts made, overlay probes run or found cached.
 *  Lock files and probes are per process: their messages go to the last
 *  store opened with this flag, until it is freed. Since: 0.1 (added with
 *  the CLI's -D; older libraries reject it with -EINVAL). */
#define CSTOR_STORE_DEBUG (1u << 1)

#define CSTOR_STORE_OPTIONS_INIT                                               \
	{ CSTOR_STORE_OPTIONS_VERSION, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0 }

/**
 * Open (creating its directories if needed) the store described by @opts.
 *
 * @param[out] out the store, freed with cstor_store_free()
 * @param opts  options, or NULL for all defaults
 * @return 0, -EINVAL (bad option), -EBADMSG (unparsable storage.conf),
 *         -ENOTSUP (unknown or unusable driver), or an I/O error.
 * Since: 0.1
 */
CSTOR_PUBLIC int cstor_store_open(cstor_store **out, const cstor_store_options *opts,
				  cstor_error *err);

/** Release the store. Accepts NULL. */
CSTOR_PUBLIC void cstor_store_free(cstor_store *store);

CSTOR_PUBLIC const char *cstor_store_graph_root(const cstor_store *store);
CSTOR_PUBLIC const char *cstor_store_run_root(const cstor_store *store);
CSTOR_PUBLIC const char *cstor_store_driver_name(const cstor_store *store);
/** The effective driver options, NULL-terminated, owned by the store. */
CSTOR_PUBLIC const char *const *cstor_store_driver_options(const cstor_store *store);
/** The split image store's root, or NULL when there is none. Since: 0.4 */
CSTOR_PUBLIC const char *cstor_store_image_store(const cstor_store *store);
/** Whether the store is transient: containers kept on the run root
 *  (docs/transient-store.md). Since: 0.4 */
CSTOR_PUBLIC int cstor_store_transient(const cstor_store *store);
/** The storage.conf that was read, or NULL when none was. */
CSTOR_PUBLIC const char *cstor_store_config_file(const cstor_store *store);

/**
 * The store options that storage.conf, the environment ($STORAGE_DRIVER,
 * $STORAGE_OPTS, $CONTAINERS_STORAGE_CONF) and @opts (its config_file,
 * roots, driver and driver options) resolve to, without opening a store:
 * one line of JSON in the shape of containers/storage's StoreOptions
 * (`containers-storage config`), keys as its encoding/json writes them.
 *
 * @param[out] json the JSON text and its newline, freed with free()
 * @return 0, -EBADMSG (unparsable storage.conf), -EINVAL, -ENOMEM.
 * Since: 0.4
 */
CSTOR_PUBLIC int cstor_store_options_json(char **json, const cstor_store_options *opts,
					  cstor_error *err);

/**
 * For an unprivileged caller: move the calling process (which must have
 * one thread) into a new user namespace and mount namespace in which it
 * is root, as containers/storage's rootless commands do: its own IDs map
 * to 0 and, when /etc/subuid and /etc/subgid give the user ranges and
 * newuidmap/newgidmap accept them, those ranges map to 1 and up. Sets
 * _CONTAINERS_USERNS_CONFIGURED, _CONTAINERS_ROOTLESS_UID and _GID in the
 * environment. Does nothing for root, or when that variable is set.
 *
 * @return 0, or -errno (e.g. -EPERM where user namespaces are disabled).
 * Since: 0.4
 */
CSTOR_PUBLIC int cstor_enter_user_namespace(cstor_error *err);

/**
 * Status as (key, value) pairs, the keys containers-storage's `status`
 * prints: "Root", "Run Root", "Driver Name", "Driver Options", then the
 * driver's own.
 *
 * @param[out] out NULL-terminated array alternating keys and values; free
 *             with cstor_strv_free().
 */
CSTOR_PUBLIC int cstor_store_status(char ***out, cstor_store *store, cstor_error *err);

/** Free a NULL-terminated string array returned by the library. */
CSTOR_PUBLIC void cstor_strv_free(char **v);

/** The library version, "MAJOR.MINOR.PATCH". */
CSTOR_PUBLIC const char *cstor_version(void);

CSTOR_END_DECL

#endif
