/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.conf resolution, as containers/storage 1.43 does it (docs/formats.md
 * §7), with one deliberate difference: every caller option overrides only its
 * own setting. The Go CLI ignores the whole file's driver and options as soon
 * as any of -g/-R/-s/--storage-opt is given, which silently drops e.g.
 * additionalimagestores and mountopt.
 */
#include <ctype.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/config.h"
#include "drivers/driver.h"
#include "util/error-internal.h"
#include "util/gojson.h"
#include "util/toml.h"
#include "util/cleanup.h"
#include "util/strv.h"


#define SYSTEM_CONF "/etc/containers/storage.conf"
#define DISTRO_CONF "/usr/share/containers/storage.conf"

void cstor_config_done(struct cstor_config *c)
{
	free(c->graph_root);
	free(c->run_root);
	free(c->image_store);
	free(c->driver);
	free(c->rootless_storage_path);
	strv_free(c->driver_opts);
	free(c->config_file);
	strv_free(c->ignored_keys);
	json_decref(c->file_root);
	memset(c, 0, sizeof(*c));
}

static bool file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	if (h && h[0])
		return h;
	struct passwd *pw = getpwuid(geteuid());
	return pw ? pw->pw_dir : "/";
}

static char *xdg_path(const char *env, const char *fallback_rel, const char *rest)
{
	const char *base = getenv(env);
	char *r = NULL;
	if (base && base[0]) {
		if (asprintf(&r, "%s/%s", base, rest) < 0)
			return NULL;
	} else if (asprintf(&r, "%s/%s/%s", home_dir(), fallback_rel, rest) < 0)
		return NULL;
	return r;
}

/* The file containers/storage would read, or NULL for none. */
static int pick_config_file(char **out, const cstor_store_options *o, bool rootless)
{
	*out = NULL;
	if (o && o->config_file) {
		if (o->config_file[0] && !(*out = strdup(o->config_file)))
			return -ENOMEM;
		return 0;
	}
	const char *env = getenv("CONTAINERS_STORAGE_CONF");
	if (env && env[0])
		return (*out = strdup(env)) ? 0 : -ENOMEM;
	_cleanup_free_ char *user = xdg_path("XDG_CONFIG_HOME", ".config", "containers/storage.conf");
	if (!user)
		return -ENOMEM;
	if (file_exists(user)) {
		*out = TAKE_PTR(user);
		return 0;
	}
	const char *sys = file_exists(SYSTEM_CONF) ? SYSTEM_CONF : DISTRO_CONF;
	(void)rootless;
	if (file_exists(sys))
		return (*out = strdup(sys)) ? 0 : -ENOMEM;
	return 0;
}

/* Fetch a string value at a key of a table; -EBADMSG when present with
 * another type. */
static int conf_string(const json_t *tbl, const char *key, const char **out, const char *file,
		       const char *section, cstor_error *err)
{
	*out = NULL;
	json_t *v = tbl ? json_object_get(tbl, key) : NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return cstor_error_set(err, EBADMSG, "%s: [%s] %s must be a string", file, section,
				       key);
	*out = json_string_value(v);
	return 0;
}

static int add_opt(char ***v, const char *driver, const char *key, const char *val)
{
	char *s;
	if (asprintf(&s, "%s.%s=%s", driver ? driver : "", key, val) < 0)
		return -ENOMEM;
	return strv_consume(v, s);
}

struct file_settings {
	const char *driver, *run_root, *graph_root, *rootless_storage_path, *image_store;
	int transient; /* -1 unset */
	bool disable_volatile;
};

static int read_config(struct cstor_config *c, const char *file, json_t **root_out,
		       struct file_settings *fs, cstor_error *err)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	int r = cstor_toml_parse_file(&root, file, err);
	if (r == -ENOENT) {
		/* A missing file means defaults, as in containers/storage. */
		cstor_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	json_t *storage = json_object_get(root, "storage");
	if (storage && !json_is_object(storage))
		return cstor_error_set(err, EBADMSG, "%s: [storage] must be a table", file);
	if ((r = conf_string(storage, "driver", &fs->driver, file, "storage", err)) < 0 ||
	    (r = conf_string(storage, "runroot", &fs->run_root, file, "storage", err)) < 0 ||
	    (r = conf_string(storage, "graphroot", &fs->graph_root, file, "storage", err)) < 0 ||
	    (r = conf_string(storage, "rootless_storage_path", &fs->rootless_storage_path, file,
			     "storage", err)) < 0 ||
	    (r = conf_string(storage, "imagestore", &fs->image_store, file, "storage", err)) < 0)
		return r;
	json_t *t = storage ? json_object_get(storage, "transient_store") : NULL;
	if (t) {
		if (!json_is_boolean(t))
			return cstor_error_set(err, EBADMSG,
					       "%s: [storage] transient_store must be a boolean", file);
		fs->transient = json_is_true(t);
	}
	if (!(c->config_file = strdup(file)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	*root_out = TAKE_PTR(root);
	return 0;
}

/* Driver options from the file, in the order containers/storage builds
 * them (ReloadConfigurationFile + GetGraphDriverOptions). */
static int file_driver_options(char ***opts, const json_t *root, const char *file,
			       const char *prefix, const char *driver, cstor_error *err)
{
	json_t *storage = json_object_get(root, "storage");
	json_t *o = storage ? json_object_get(storage, "options") : NULL;
	if (!o)
		return 0;
	if (!json_is_object(o))
		return cstor_error_set(err, EBADMSG, "%s: [storage.options] must be a table", file);
	static const char *const lists[][2] = {
		{ "additionalimagestores", "imagestore" },
		{ "additionallayerstores", "additionallayerstore" },
	};
	for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
		json_t *a = json_object_get(o, lists[i][0]);
		if (!a)
			continue;
		if (!json_is_array(a))
			return cstor_error_set(err, EBADMSG, "%s: [storage.options] %s must be a list",
					       file, lists[i][0]);
		size_t k;
		json_t *e;
		json_array_foreach(a, k, e)
		{
			if (!json_is_string(e))
				return cstor_error_set(err, EBADMSG,
						       "%s: [storage.options] %s must hold strings",
						       file, lists[i][0]);
			if (add_opt(opts, prefix, lists[i][1], json_string_value(e)) < 0)
				return cstor_error_set(err, ENOMEM, "out of memory");
		}
	}
	/* Deprecated top-level keys, still honoured by Go with the raw
	 * configured driver name as prefix, whatever the driver: they belong
	 * to no driver's table, and the driver's init takes or refuses them
	 * like any other option. */
	static const char *const toplevel[] = { "size", "mount_program", "skip_mount_home",
						"ignore_chown_errors" };
	for (size_t i = 0; i < ELEMENTSOF(toplevel); i++) {
		const char *v;
		int r = conf_string(o, toplevel[i], &v, file, "storage.options", err);
		if (r < 0)
			return r;
		if (v && v[0] && add_opt(opts, prefix, toplevel[i], v) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	json_t *fm = json_object_get(o, "force_mask");
	if (fm && json_is_integer(fm) && json_integer_value(fm) != 0) {
		char val[32];
		snprintf(val, sizeof(val), "%llo", (unsigned long long)json_integer_value(fm));
		if (add_opt(opts, prefix, "force_mask", val) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	const char *mountopt;
	int r = conf_string(o, "mountopt", &mountopt, file, "storage.options", err);
	if (r < 0)
		return r;
	if (mountopt && mountopt[0] && add_opt(opts, prefix, "mountopt", mountopt) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");

	/* The driver's own table, with the keys the driver says it has. */
	const struct cstor_driver_ops *ops = driver ? cstor_driver_lookup(driver) : NULL;
	if (!ops || !ops->conf_keys)
		return 0;
	const char *section = ops->name;
	json_t *d = json_object_get(o, section);
	if (d && !json_is_object(d))
		return cstor_error_set(err, EBADMSG, "%s: [storage.options.%s] must be a table", file,
				       section);
	char sect[64];
	snprintf(sect, sizeof(sect), "storage.options.%s", section);
	for (size_t i = 0; d && ops->conf_keys[i]; i++) {
		const char *v;
		if ((r = conf_string(d, ops->conf_keys[i], &v, file, sect, err)) < 0)
			return r;
		if (v && v[0] && add_opt(opts, section, ops->conf_keys[i], v) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* Tables and keys of storage.conf that cstor accepts and does not act on:
 * newer containers/storage has more of them (pull_options,
 * driver_priority, the thinpool table, composefs), and Go ignores what it
 * does not know, so they are never an error; -D names each one. */
static int note_ignored(struct cstor_config *c, const char *table, const char *key)
{
	char *s;
	if (asprintf(&s, "%s%s%s", table, table[0] ? "." : "", key) < 0)
		return -ENOMEM;
	return strv_consume(&c->ignored_keys, s);
}

static bool in_list(const char *const *list, const char *key)
{
	for (size_t i = 0; list && list[i]; i++)
		if (streq(list[i], key))
			return true;
	return false;
}

static int collect_ignored(struct cstor_config *c, const json_t *root)
{
	static const char *const storage_keys[] = { "driver", "runroot", "graphroot",
						    "rootless_storage_path", "transient_store", "imagestore",
						    "options", NULL };
	static const char *const option_keys[] = { "additionalimagestores", "additionallayerstores",
						   "size", "mount_program", "skip_mount_home",
						   "ignore_chown_errors", "force_mask", "mountopt",
						   NULL };
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)root, key, v)
	{
		if (!streq(key, "storage") && note_ignored(c, "", key) < 0)
			return -ENOMEM;
	}
	json_t *storage = json_object_get(root, "storage");
	if (!json_is_object(storage))
		return 0;
	json_object_foreach(storage, key, v)
	{
		if (!in_list(storage_keys, key) && note_ignored(c, "storage", key) < 0)
			return -ENOMEM;
	}
	json_t *o = json_object_get(storage, "options");
	if (!json_is_object(o))
		return 0;
	const struct cstor_driver_ops *ops = c->driver ? cstor_driver_lookup(c->driver) : NULL;
	json_object_foreach(o, key, v)
	{
		if (in_list(option_keys, key))
			continue;
		if (ops && streq(key, ops->name) && json_is_object(v)) {
			const char *dk;
			json_t *dv;
			char sect[64];
			snprintf(sect, sizeof(sect), "storage.options.%s", key);
			json_object_foreach(v, dk, dv)
			{
				if (!in_list(ops->conf_keys, dk) && note_ignored(c, sect, dk) < 0)
					return -ENOMEM;
			}
			continue;
		}
		if (note_ignored(c, "storage.options", key) < 0)
			return -ENOMEM;
	}
	return 0;
}

int cstor_driver_opt_split(const char *opt, char **prefix, char **key, char **value)
{
	const char *eq = strchr(opt, '=');
	if (!eq)
		return -EINVAL;
	const char *dot = memchr(opt, '.', (size_t)(eq - opt));
	const char *k = dot ? dot + 1 : opt;
	_cleanup_free_ char *p = strndup(opt, dot ? (size_t)(dot - opt) : 0);
	_cleanup_free_ char *kk = strndup(k, (size_t)(eq - k));
	_cleanup_free_ char *v = strdup(eq + 1);
	if (!p || !kk || !v)
		return -ENOMEM;
	for (char *s = kk; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (char *s = p; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	if (prefix)
		*prefix = TAKE_PTR(p);
	if (key)
		*key = TAKE_PTR(kk);
	if (value)
		*value = TAKE_PTR(v);
	return 0;
}

static bool multi_valued(const char *key)
{
	return streq(key, "imagestore") || streq(key, "additionalimagestore") ||
	       streq(key, "additionallayerstore");
}

/* Apply caller options over configured ones, key by key. */
static int merge_options(char ***opts, const char *const *over, cstor_error *err)
{
	for (size_t i = 0; over && over[i]; i++) {
		_cleanup_free_ char *key = NULL;
		int r = cstor_driver_opt_split(over[i], NULL, &key, NULL);
		if (r == -EINVAL)
			return cstor_error_set(err, EINVAL,
					       "storage option \"%s\" is not of the form key=value",
					       over[i]);
		if (r < 0)
			return r;
		if (!multi_valued(key)) {
			for (size_t j = 0; (*opts) && (*opts)[j];) {
				_cleanup_free_ char *k2 = NULL;
				if (cstor_driver_opt_split((*opts)[j], NULL, &k2, NULL) >= 0 &&
				    streq(k2, key)) {
					free((*opts)[j]);
					memmove(&(*opts)[j], &(*opts)[j + 1],
						(strv_length(*opts) - j) * sizeof(char *));
					continue;
				}
				j++;
			}
		}
		if (strv_append(opts, over[i]) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* @p without repeated slashes, "." components and a trailing slash (as
 * Go's filepath.Clean, short of resolving ".."): "/x/is/" and "/x/is"
 * name one image store. */
static char *clean_path(const char *p)
{
	char *out = malloc(strlen(p) + 2);
	if (!out)
		return NULL;
	size_t o = 0;
	for (const char *c = p; *c;) {
		if (*c == '/') {
			while (*c == '/')
				c++;
			if (c[0] == '.' && (c[1] == '/' || !c[1])) {
				c++;
				continue;
			}
			out[o++] = '/';
			continue;
		}
		out[o++] = *c++;
	}
	if (o > 1 && out[o - 1] == '/')
		o--;
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return out;
}

static int rootless_runtime_dir(char **out)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	if (x && x[0])
		return (*out = strdup(x)) ? 0 : -ENOMEM;
	uid_t uid = geteuid();
	char p[64];
	snprintf(p, sizeof(p), "/run/user/%u", (unsigned)uid);
	struct stat st;
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid &&
	    (st.st_mode & 0777) == 0700)
		return (*out = strdup(p)) ? 0 : -ENOMEM;
	const char *tmp = getenv("TMPDIR");
	if (asprintf(out, "%s/containers-user-%u", tmp && tmp[0] ? tmp : "/tmp", (unsigned)uid) < 0)
		return -ENOMEM;
	return 0;
}

int cstor_config_resolve(struct cstor_config *c, const cstor_store_options *o, cstor_error *err)
{
	memset(c, 0, sizeof(*c));
	c->rootless = geteuid() != 0;

	_cleanup_free_ char *file = NULL;
	if (pick_config_file(&file, o, c->rootless) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");

	struct file_settings fs = { .transient = -1 };
	_cleanup_(json_decrefp) json_t *root = NULL;
	int r;
	if (file && (r = read_config(c, file, &root, &fs, err)) < 0)
		return r;

	/* The driver: file, then $STORAGE_DRIVER, then the caller. */
	const char *driver = fs.driver;
	c->src_driver = driver ? "the config file" : "none: detected";
	const char *envd = getenv("STORAGE_DRIVER");
	if (envd && envd[0]) {
		driver = envd;
		c->src_driver = "$STORAGE_DRIVER";
	}
	if (o && o->driver && o->driver[0]) {
		driver = o->driver;
		c->src_driver = "the caller (cstor: --storage-driver)";
	}
	/* An alias ("overlay2") is its driver. */
	const struct cstor_driver_ops *ops = driver ? cstor_driver_lookup(driver) : NULL;
	if (ops)
		driver = ops->name;
	if (driver && driver[0] && !(c->driver = strdup(driver)))
		return cstor_error_set(err, ENOMEM, "out of memory");

	/* Go prefixes store-wide options (additionalimagestores, ...) with the
	 * driver named in the file; use the driver actually chosen, or a
	 * driver-neutral "." prefix, so that -s does not orphan them. */
	const char *prefix = c->driver ? c->driver : "";
	if (root && (r = file_driver_options(&c->driver_opts, root, c->config_file, prefix,
					     c->driver, err)) < 0)
		return r;
	if (root) {
		if (collect_ignored(c, root) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		c->file_root = json_incref(root);
	}
	c->src_opts = "the config file";
	const char *envo = getenv("STORAGE_OPTS");
	if (envo) {
		c->src_opts = "$STORAGE_OPTS (which replaces the config file's)";
		/* Go replaces the file's options with $STORAGE_OPTS. */
		strv_free(c->driver_opts);
		c->driver_opts = NULL;
		if (envo[0] && !(c->driver_opts = strv_split(envo, ',')))
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (o && (r = merge_options(&c->driver_opts, o->driver_options, err)) < 0)
		return r;


	if (fs.rootless_storage_path && !(c->rootless_storage_path = strdup(fs.rootless_storage_path)))
		return cstor_error_set(err, ENOMEM, "out of memory");

	/* Roots: caller, else file, else defaults. Rootless users never get
	 * the system roots from the system file. */
	const char *gr = o && o->graph_root && o->graph_root[0] ? o->graph_root : NULL;
	const char *rr = o && o->run_root && o->run_root[0] ? o->run_root : NULL;
	c->src_graph_root = gr ? "the caller (cstor: --graph)" : "the default";
	c->src_run_root = rr ? "the caller (cstor: --run)" : "the default";
	bool user_file = c->config_file && !streq(c->config_file, SYSTEM_CONF) &&
			 !streq(c->config_file, DISTRO_CONF);
	if (!c->rootless || user_file) {
		if (!gr && (gr = fs.graph_root))
			c->src_graph_root = "the config file";
		if (!rr && (rr = fs.run_root))
			c->src_run_root = "the config file";
	}
	if (gr)
		c->graph_root = strdup(gr);
	else if (!c->rootless)
		c->graph_root = strdup("/var/lib/containers/storage");
	else if (c->rootless_storage_path) {
		c->graph_root = strdup(c->rootless_storage_path);
		c->src_graph_root = "the config file's rootless_storage_path";
	}
	else
		c->graph_root = xdg_path("XDG_DATA_HOME", ".local/share", "containers/storage");
	if (!c->graph_root)
		return cstor_error_set(err, ENOMEM, "out of memory");

	if (rr)
		c->run_root = strdup(rr);
	else if (!c->rootless)
		c->run_root = strdup("/run/containers/storage");
	else {
		_cleanup_free_ char *rt = NULL;
		if (rootless_runtime_dir(&rt) < 0 || asprintf(&c->run_root, "%s/containers", rt) < 0)
			c->run_root = NULL;
	}
	if (!c->run_root)
		return cstor_error_set(err, ENOMEM, "out of memory");

	/* Say where a bad root came from: the caller, or which file. */
	bool gr_file = gr && gr == fs.graph_root, rr_file = rr && rr == fs.run_root;
	if (c->graph_root[0] != '/')
		return cstor_error_set(err, EINVAL, "%s%sgraph root \"%s\" is not an absolute path",
				       gr_file ? c->config_file : "", gr_file ? ": graphroot: " : "",
				       c->graph_root);
	if (c->run_root[0] != '/')
		return cstor_error_set(err, EINVAL, "%s%srun root \"%s\" is not an absolute path",
				       rr_file ? c->config_file : "", rr_file ? ": runroot: " : "",
				       c->run_root);

	/* The split image store: caller ("" for none), else the file's.
	 * Go reads it from every file, rootless or not. */
	bool v2 = o && o->version >= 2;
	const char *is = v2 && o->image_store ? o->image_store : fs.image_store;
	c->src_image_store = v2 && o->image_store ? "the caller (cstor: --image-store)"
			     : fs.image_store    ? "the config file"
						 : "the default";
	if (is && is[0]) {
		bool is_file = is == fs.image_store;
		if (is[0] != '/')
			return cstor_error_set(err, EINVAL,
					       "%s%simage store \"%s\" is not an absolute path",
					       is_file ? c->config_file : "",
					       is_file ? ": imagestore: " : "", is);
		if (!(c->image_store = clean_path(is)))
			return cstor_error_set(err, ENOMEM, "out of memory");
		_cleanup_free_ char *g = clean_path(c->graph_root);
		if (!g)
			return cstor_error_set(err, ENOMEM, "out of memory");
		/* As Go: one root cannot be both. */
		if (streq(g, c->image_store))
			return cstor_error_set(err, EINVAL,
					       "%s%simage store %s must either be not set or be "
					       "different from the graph root",
					       is_file ? c->config_file : "", is_file ? ": " : "",
					       c->image_store);
	}

	c->transient_store = fs.transient > 0;
	c->src_transient = fs.transient >= 0 ? "the config file" : "the default";
	if (o && o->transient_store >= 0) {
		c->transient_store = o->transient_store != 0;
		c->src_transient = "the caller (cstor: --transient-store)";
	}
	return 0;
}

/* A [storage] or [storage.options] string-list key, for `config`. */
static const json_t *file_key(const struct cstor_config *c, const char *table, const char *key)
{
	const json_t *t = c->file_root ? json_object_get(c->file_root, "storage") : NULL;
	if (t && table)
		t = json_object_get(t, table);
	return json_is_object(t) ? json_object_get(t, key) : NULL;
}

static void json_kv_uint_omit(cstor_buf *b, bool *first, const json_t *v, const char *key)
{
	if (json_is_integer(v) && json_integer_value(v) > 0)
		cstor_json_kv_int_omit(b, first, key, json_integer_value(v));
}

int cstor_store_options_json(char **json, const cstor_store_options *opts, cstor_error *err)
{
	_cleanup_(cstor_config_done) struct cstor_config c = { 0 };
	int r = cstor_config_resolve(&c, opts, err);
	if (r < 0)
		return r;
	cstor_buf b = { 0 };
	bool first = true;
	const json_t *v;
	/* The fields in StoreOptions' order; RootlessStoragePath and
	 * PullOptions have no JSON tag, so Go writes them under their Go
	 * names and always. */
	cstor_buf_putc(&b, '{');
	cstor_json_kv_str_omit(&b, &first, "runroot", c.run_root);
	cstor_json_kv_str_omit(&b, &first, "root", c.graph_root);
	v = file_key(&c, NULL, "imagestore");
	cstor_json_kv_str_omit(&b, &first, "imagestore", json_is_string(v) ? json_string_value(v) : NULL);
	cstor_json_kv_str(&b, &first, "RootlessStoragePath",
			  c.rootless_storage_path ? c.rootless_storage_path : "");
	cstor_json_kv_str_omit(&b, &first, "driver", c.driver);
	v = file_key(&c, NULL, "driver_priority");
	if (json_is_array(v) && json_array_size(v) > 0) {
		cstor_json_key(&b, &first, "driver-priority");
		cstor_json_value(&b, v);
	}
	cstor_json_kv_strv_omit(&b, &first, "driver-options", c.driver_opts);
	v = file_key(&c, "options", "root-auto-userns-user");
	cstor_json_kv_str_omit(&b, &first, "root_auto_ns_user",
			       json_is_string(v) ? json_string_value(v) : NULL);
	json_kv_uint_omit(&b, &first, file_key(&c, "options", "auto-userns-min-size"),
			  "auto_userns_min_size");
	json_kv_uint_omit(&b, &first, file_key(&c, "options", "auto-userns-max-size"),
			  "auto_userns_max_size");
	v = file_key(&c, "options", "pull_options");
	cstor_json_key(&b, &first, "PullOptions");
	if (json_is_object(v))
		cstor_json_value(&b, v);
	else
		cstor_buf_puts(&b, "null");
	v = file_key(&c, "options", "disable-volatile");
	if (json_is_true(v)) {
		cstor_json_key(&b, &first, "disable-volatile");
		cstor_buf_puts(&b, "true");
	}
	if (c.transient_store) {
		cstor_json_key(&b, &first, "transient_store");
		cstor_buf_puts(&b, "true");
	}
	cstor_buf_puts(&b, "}\n");
	if (!(*json = cstor_buf_steal(&b, NULL)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}
