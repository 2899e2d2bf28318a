/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Feature probes of the overlay driver, run with real test mounts in a
 * scratch directory of the driver home and cached in the run home as
 * containers/storage caches them (docs/formats.md §5.7: "<feature>-true" /
 * "<feature>-false" files, the false ones holding the reason), so a Go
 * process and cstor share the results and the probes re-run after reboot.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "drivers/overlay-internal.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/cleanup.h"
#include "util/debug.h"
#include "util/mountopt.h"
#include "util/rm.h"

/* The cache file of @feature with @value ("true"/"false") in @p; false when
 * the path does not fit: a cut path would name another file, so such a
 * result is neither read nor written and the probe simply runs. */
static bool cache_path(char *p, size_t size, struct cstor_driver *d, const char *feature,
		       const char *value)
{
	int n = snprintf(p, size, "%s/%s-%s", d->run_home, feature, value);
	return n >= 0 && (size_t)n < size;
}

/* 1: cached true, 0: cached false, -ENOENT: not cached. */
static int cache_get(struct cstor_driver *d, const char *feature)
{
	char p[4096];
	if (cache_path(p, sizeof(p), d, feature, "true") && access(p, F_OK) == 0) {
		cstor_debug("overlay probe %s: true, cached in %s", feature, p);
		return 1;
	}
	if (cache_path(p, sizeof(p), d, feature, "false") && access(p, F_OK) == 0) {
		cstor_debug("overlay probe %s: false, cached in %s", feature, p);
		return 0;
	}
	cstor_debug("overlay probe %s: not cached in %s, running it", feature, d->run_home);
	return -ENOENT;
}

static void cache_put(struct cstor_driver *d, const char *feature, bool value, const char *text)
{
	cstor_debug("overlay probe %s: %s%s%s", feature, value ? "true" : "false", text && *text ? ": " : "",
		    text ? text : "");
	char p[4096];
	if (!cache_path(p, sizeof(p), d, feature, value ? "true" : "false"))
		return;
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0 && text && text[0])
		(void)cstor_write_all(fd, text, strlen(text));
}

/* A scratch directory in the home, removed (with anything mounted on its
 * "merged") by scratch_done. */
struct scratch {
	char path[4096];
	int fd;
};

static int scratch_new(struct scratch *s, struct cstor_driver *d, const char *prefix,
		       cstor_error *err)
{
	snprintf(s->path, sizeof(s->path), "%s/%sXXXXXX", d->home, prefix);
	s->fd = -1;
	if (!mkdtemp(s->path))
		return cstor_error_errno(err, errno, "create probe directory in %s", d->home);
	s->fd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->fd < 0)
		return cstor_error_errno(err, errno, "open %s", s->path);
	return 0;
}

static void scratch_done(struct scratch *s, struct cstor_driver *d)
{
	char m[4200];
	snprintf(m, sizeof(m), "%s/merged", s->path);
	umount2(m, MNT_DETACH);
	if (s->fd >= 0)
		close(s->fd);
	const char *base = strrchr(s->path, '/') + 1;
	cstor_rm_rf_at(d->home_fd, base, NULL);
}

static int mkdirs(int dirfd, const char *const *names)
{
	for (size_t i = 0; names[i]; i++)
		if (mkdirat(dirfd, names[i], 0755) < 0)
			return -errno;
	return 0;
}

static int probe_mount(struct scratch *s, const char *lowers, const char *upper,
		       const char *mountopt, char *why, size_t why_len)
{
	unsigned long flags = 0;
	_cleanup_free_ char *data = NULL;
	if (cstor_mount_options_parse(mountopt, &flags, &data) < 0)
		return -ENOMEM;
	char opts[16384], target[4200];
	int n;
	if (upper)
		n = snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/%s,workdir=%s/work%s%s",
			     lowers, s->path, upper, s->path, data[0] ? "," : "", data);
	else
		n = snprintf(opts, sizeof(opts), "lowerdir=%s%s%s", lowers, data[0] ? "," : "", data);
	if (n < 0 || (size_t)n >= sizeof(opts))
		return -E2BIG;
	snprintf(target, sizeof(target), "%s/merged", s->path);
	if (mount("overlay", target, "overlay", flags, opts) < 0) {
		int e = errno;
		snprintf(why, why_len, "mount overlay with \"%.900s\": %s", opts, strerror(e));
		return -e;
	}
	return 0;
}

int overlay_check_support(struct cstor_driver *d, cstor_error *err)
{
	struct statfs sfs;
	if (statfs(d->home, &sfs) < 0)
		return cstor_error_errno(err, errno, "statfs %s", d->home);
	/* containers/storage records whether this home uses a mount program
	 * (its layers keep AUFS whiteouts, which kernel overlay would show as
	 * files): one that did never reverts to native overlay, and without
	 * a configured program Go then uses fuse-overlayfs from $PATH. */
	char flag[16] = "";
	_cleanup_close_ int ff = openat(d->home_fd, ".has-mount-program", O_RDONLY | O_CLOEXEC);
	if (ff >= 0) {
		ssize_t n = read(ff, flag, sizeof(flag) - 1);
		flag[n > 0 ? n : 0] = 0;
	}
	if (!d->mount_program && streq(flag, "true") && geteuid() == 0) {
		_cleanup_free_ char *prog = NULL;
		int r = overlay_program_lookup("fuse-overlayfs", &prog);
		if (r == -ENOENT)
			return cstor_error_set(err, ENOTSUP,
					       "%s was set up with a mount program (fuse-overlayfs), "
					       "which is not installed",
					       d->home);
		if (r < 0)
			return cstor_error_set(err, -r, "out of memory");
		if ((r = overlay_program_set(d, prog, err)) < 0)
			return r;
	}
	if (d->mount_program) {
		if (geteuid() != 0)
			return cstor_error_set(err, ENOTSUP,
					       "rootless overlay (with mount_program %s) is not supported "
					       "by cstor yet",
					       d->mount_program);
		/* No kernel probes with a mount program, as in Go. */
		if (streq(flag, "true"))
			return 0;
		return cstor_atomic_write_at(d->home_fd, ".has-mount-program", "true", 4, 0600, 0,
					     ".has-mount-program", err);
	}

	/* Overlay cannot use these as upper/work directories. */
	static const struct {
		unsigned long magic;
		const char *name;
	} bad[] = { { 0x61756673, "aufs" }, { 0x2fc12fc1, "zfs" }, { 0x794C7630, "overlayfs" },
		    { 0xf15f, "ecryptfs" } };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if ((unsigned long)sfs.f_type == bad[i].magic)
			return cstor_error_set(err, ENOTSUP,
					       "'overlay' is not supported over %s (%s), a mount_program "
					       "is required",
					       bad[i].name, d->home);
	if (geteuid() != 0)
		return cstor_error_set(err, ENOTSUP,
				       "native overlay needs root or a user namespace: run "
				       "`podman unshare cstor ...` or `unshare -rm cstor ...` (kernel "
				       "overlay, or fuse-overlayfs with --storage-opt "
				       "overlay.mount_program=/usr/bin/fuse-overlayfs), or use the vfs "
				       "driver (-s vfs --storage-opt vfs.ignore_chown_errors=true)");
	if (ff < 0) {
		int r = cstor_atomic_write_at(d->home_fd, ".has-mount-program", "false", 5, 0600, 0,
					      ".has-mount-program", err);
		if (r < 0)
			return r;
	}

	int c = cache_get(d, "overlay");
	if (c == 1)
		return 0;
	if (c == 0)
		return cstor_error_set(err, ENOTSUP,
				       "kernel does not support overlay fs (cached in %s/overlay-false)",
				       d->run_home);
	struct scratch s;
	int r = scratch_new(&s, d, "compat", err);
	if (r < 0)
		return r;
	static const char *const dirs[] = { "merged", "lower1", "lower2", "upper", "work", NULL };
	char why[512] = "";
	r = mkdirs(s.fd, dirs);
	if (r == 0) {
		char lowers[9000];
		snprintf(lowers, sizeof(lowers), "%s/lower1:%s/lower2", s.path, s.path);
		r = probe_mount(&s, lowers, "upper", "", why, sizeof(why));
	} else
		snprintf(why, sizeof(why), "create probe directories: %s", strerror(-r));
	scratch_done(&s, d);
	cache_put(d, "overlay", r == 0, why);
	if (r < 0)
		return cstor_error_set(err, ENOTSUP, "kernel does not support overlay fs: %s", why);
	return 0;
}

int overlay_uses_metacopy(struct cstor_driver *d, bool *out, cstor_error *err)
{
	char feature[4200];
	snprintf(feature, sizeof(feature), "metacopy(%s)", d->mountopt ? d->mountopt : "");
	int c = cache_get(d, feature);
	if (c >= 0) {
		*out = c == 1;
		return 0;
	}
	struct scratch s;
	int r = scratch_new(&s, d, "metacopy-check", err);
	if (r < 0)
		return r;
	static const char *const dirs[] = { "l1", "l2", "work", "merged", NULL };
	char why[512] = "";
	bool meta = false;
	if ((r = mkdirs(s.fd, dirs)) < 0) {
		scratch_done(&s, d);
		return cstor_error_errno(err, r, "create metacopy probe directories");
	}
	_cleanup_close_ int f = openat(s.fd, "l1/f", O_WRONLY | O_CREAT | O_CLOEXEC, 0700);
	if (f < 0 || write(f, "\xff", 1) != 1) {
		r = cstor_error_errno(err, errno, "create metacopy probe file");
		scratch_done(&s, d);
		return r;
	}
	char lowers[4200];
	snprintf(lowers, sizeof(lowers), "%s/l1", s.path);
	r = probe_mount(&s, lowers, "l2", d->mountopt, why, sizeof(why));
	if (r == -EINVAL) {
		/* The kernel refused the options: no metacopy. */
		r = 0;
	} else if (r == 0) {
		char mf[4200], uf[4200];
		snprintf(mf, sizeof(mf), "%s/merged/f", s.path);
		snprintf(uf, sizeof(uf), "%s/l2/f", s.path);
		if (chmod(mf, 0600) < 0)
			r = cstor_error_errno(err, errno, "metacopy probe: chmod");
		else
			meta = lgetxattr(uf, "trusted.overlay.metacopy", NULL, 0) >= 0;
	} else
		r = cstor_error_set(err, -r, "metacopy probe: %s", why);
	scratch_done(&s, d);
	if (r < 0)
		return r;
	cache_put(d, feature, meta, "");
	*out = meta;
	return 0;
}

bool overlay_native_diff(struct cstor_driver *d)
{
	char feature[4200];
	snprintf(feature, sizeof(feature), "native-diff(%s)", d->mountopt ? d->mountopt : "");
	int c = cache_get(d, feature);
	if (c >= 0)
		return c == 1;
	struct scratch s;
	if (scratch_new(&s, d, "opaque-bug-check", NULL) < 0)
		return false;
	static const char *const dirs[] = { "l1", "l1/d", "l1/d1", "l2", "l2/d", "l3", "work",
					    "merged", NULL };
	char why[1024] = "";
	int r = mkdirs(s.fd, dirs);
	char p[4300];
	if (r == 0) {
		snprintf(p, sizeof(p), "%s/l2/d", s.path);
		if (lsetxattr(p, "trusted.overlay.opaque", "y", 1, 0) < 0) {
			r = -errno;
			snprintf(why, sizeof(why), "failed to set opaque flag on middle layer: %s",
				 strerror(errno));
		}
	}
	if (r == 0) {
		char lowers[9000];
		snprintf(lowers, sizeof(lowers), "%s/l2:%s/l1", s.path, s.path);
		r = probe_mount(&s, lowers, "l3", d->mountopt, why, sizeof(why));
	}
	if (r == 0) {
		snprintf(p, sizeof(p), "%s/merged/d/f", s.path);
		_cleanup_close_ int f = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		char v[8];
		snprintf(p, sizeof(p), "%s/l3/d", s.path);
		ssize_t n = f < 0 ? -1 : lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v));
		if (f < 0) {
			r = -EIO;
			snprintf(why, sizeof(why), "failed to write to merged directory");
		} else if (n == 1 && v[0] == 'y') {
			r = -ENOTSUP;
			snprintf(why, sizeof(why), "opaque flag erroneously copied up");
		}
	}
	if (r == 0) {
		char from[4300], to[4300];
		snprintf(from, sizeof(from), "%s/merged/d1", s.path);
		snprintf(to, sizeof(to), "%s/merged/d2", s.path);
		if (rename(from, to) == 0) {
			char v[8];
			snprintf(p, sizeof(p), "%s/l3/d2", s.path);
			ssize_t n = lgetxattr(p, "trusted.overlay.redirect", v, sizeof(v));
			if (n == 2 && memcmp(v, "d1", 2) == 0) {
				r = -ENOTSUP;
				snprintf(why, sizeof(why), "kernel has CONFIG_OVERLAY_FS_REDIRECT_DIR enabled");
			}
		} else if (errno != EXDEV) {
			r = -errno;
			snprintf(why, sizeof(why), "failed to rename dir in merged directory: %s",
				 strerror(errno));
		}
	}
	scratch_done(&s, d);
	char text[1200] = "";
	if (r < 0)
		snprintf(text, sizeof(text),
			 "Not using native diff for overlay, this may cause degraded performance for "
			 "building images: %s",
			 why);
	cache_put(d, feature, r == 0, text);
	return r == 0;
}

/* containers/storage's supportsIdmappedLowerLayers: an overlay mount whose
 * lower is an idmapped mount (of a one-ID namespace) must work. */
static bool probe_idmapped_lowers(struct cstor_driver *d, char *why, size_t why_len)
{
	struct scratch s;
	cstor_error err = CSTOR_ERROR_INIT;
	if (scratch_new(&s, d, "compat", &err) < 0) {
		snprintf(why, why_len, "%s", cstor_error_message(&err));
		cstor_error_clear(&err);
		return false;
	}
	static const char *const dirs[] = { "merged", "lower", "lower-mapped", "upper", "work",
					    NULL };
	static const cstor_idmap one = { 0, 0, 1 };
	const struct cstor_idmaps maps = { &one, 1, &one, 1 };
	char mapped[4200];
	snprintf(mapped, sizeof(mapped), "%s/lower-mapped", s.path);
	bool ok = false, attached = false;
	int r = mkdirs(s.fd, dirs);
	_cleanup_close_ int ns = -1, lower = -1;
	if (r < 0)
		snprintf(why, why_len, "create probe directories: %s", strerror(-r));
	else if ((lower = openat(s.fd, "lower", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		snprintf(why, why_len, "open probe directory: %s", strerror(errno));
	else if (overlay_userns_open(&maps, &ns, &err) < 0 ||
		 overlay_idmapped_mount(lower, ns, mapped, &err) < 0)
		snprintf(why, why_len, "%s", cstor_error_message(&err));
	else {
		attached = true;
		ok = probe_mount(&s, mapped, "upper", "", why, why_len) == 0;
	}
	cstor_error_clear(&err);
	if (attached)
		overlay_idmapped_unmount(mapped);
	scratch_done(&s, d);
	return ok;
}

bool overlay_supports_shifting(struct cstor_driver *d)
{
	if (d->shifting)
		return d->shifting == 1;
	const char *force = getenv("CSTOR_IDMAP_FORCE_CHOWN");
	if (force && streq(force, "1")) {
		cstor_debug("overlay: idmapped mounts not used (CSTOR_IDMAP_FORCE_CHOWN=1)");
		d->shifting = 2;
		return false;
	}
	/* The mount program would have to shift on its own (fuse-overlayfs's
	 * uidmapping options), which cstor does not pass. */
	if (d->mount_program) {
		d->shifting = 2;
		return false;
	}
	int c = cache_get(d, "idmapped-lower-dir");
	if (c < 0) {
		char why[1024] = "";
		c = probe_idmapped_lowers(d, why, sizeof(why));
		cache_put(d, "idmapped-lower-dir", c == 1, why);
	}
	d->shifting = c == 1 ? 1 : 2;
	return c == 1;
}
