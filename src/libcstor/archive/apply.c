/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer extraction (see apply.h). The flow per member is Go's UnpackLayer
 * (EXECUTE) or Unpack (OVERLAY, KEEP) step by step; the comments point out
 * where we differ and why.
 *
 * Differences from containers/storage 1.43, all on archives no layer tool
 * writes:
 *   - A whiteout whose target is "", "." or ".." (".wh.", ".wh..",
 *     ".wh...") is an error; Go would remove the directory holding it or
 *     the parent (in the chroot, the whole layer).
 *   - A member that resolves to the root ("..", "/", "./") with a type
 *     other than directory is an error; Go removes the layer's content and
 *     then fails.
 *   - Directory times restored at the end do not follow a symlink that
 *     replaced the directory in the meantime, and a directory that was
 *     removed by a later member is skipped; Go follows the symlink (inside
 *     the chroot) and fails with ENOENT respectively.
 *   - The root keeps the times of its "./" member; Go's chroot helper
 *     creates and removes a temporary directory in it afterwards, so there
 *     the root's mtime is the time of the apply.
 *   - OVERLAY: an opaque marker whose directory is not a directory (a file,
 *     a whiteout device) is an error; Go sets the xattr on that inode.
 *   - Missing parents are 0755 root-owned in every mode; Go's Unpack makes
 *     them 0777 minus the umask and chowns them to 0:0 explicitly (same
 *     result under the usual umask 022, except below a setgid directory).
 * Everything else, quirks included, is Go's: type '7' is refused, a pax
 * global header ('g') removes an existing file of its name, hard links
 * take their own header's owner, mode and times (shared with the target),
 * xattrs come from SCHILY.xattr.* only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/cleanup.h"

#include "apply-internal.h"
#include "tar-internal.h"

static bool valid_whiteout_target(const char *t)
{
	return t[0] && !streq(t, ".") && !streq(t, "..");
}

/* ---- bookkeeping ---- */

static int add_dir_time(struct apply *a, const cstor_tar_header *h, const char *rel, size_t len)
{
	if (a->n_dirs == a->cap_dirs) {
		size_t cap = a->cap_dirs ? a->cap_dirs * 2 : 64;
		struct apply_dirtime *d = realloc(a->dirs, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		a->dirs = d;
		a->cap_dirs = cap;
	}
	struct apply_dirtime *d = &a->dirs[a->n_dirs];
	if (!(d->path = strndup(rel, len)))
		return -ENOMEM;
	/* The final Chtimes takes the header's atime as is: 1970 when
	 * absent. */
	d->atime = apply_go_clamp(h->has_atime ? h->atime : (struct timespec){ 0, 0 });
	d->mtime = apply_go_clamp(h->mtime);
	a->n_dirs++;
	return 0;
}

static int id_insert(uint32_t **v, size_t *n, uint32_t id)
{
	size_t lo = 0, hi = *n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if ((*v)[mid] == id)
			return 0;
		if ((*v)[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t *nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	memmove(nv + lo + 1, nv + lo, (*n - lo) * sizeof(*nv));
	nv[lo] = id;
	*v = nv;
	(*n)++;
	return 0;
}

/* containers/storage's uidset/gidset logger: every header but those whose
 * path.Base() starts with ".wh.". */
static int log_ids(struct apply *a, const cstor_tar_header *h)
{
	struct cstor_apply_stats *st = a->stats;
	if (!st)
		return 0;
	st->bytes += (uint64_t)h->size;
	size_t n = strlen(h->name);
	while (n > 0 && h->name[n - 1] == '/')
		n--;
	size_t b = n;
	while (b > 0 && h->name[b - 1] != '/')
		b--;
	if (n - b >= 4 && memcmp(h->name + b, WH_PREFIX, 4) == 0)
		return 0;
	if (id_insert(&st->uids, &st->n_uids, (uint32_t)h->uid) < 0 ||
	    id_insert(&st->gids, &st->n_gids, (uint32_t)h->gid) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- one member ---- */

static int apply_root(struct apply *a, const cstor_tar_header *h, cstor_error *err)
{
	int r = apply_root_meta(a, h, err);
	if (r < 0)
		return r;
	if (add_dir_time(a, h, "", 0) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (a->stats)
		a->stats->files++;
	return 0;
}

static int apply_member(struct apply *a, const cstor_tar_header *h, cstor_error *err)
{
	const bool execute = a->o->whiteouts == CSTOR_WHITEOUT_EXECUTE;
	size_t glen, rlen;
	_cleanup_free_ char *gclean = cstor_tar__path_clean(h->name, strlen(h->name), &glen);
	if (!gclean)
		return cstor_error_set(err, ENOMEM, "out of memory");
	const char *rel = apply_confine(gclean, glen, &rlen);
	int r = apply_check_name(rel, rlen, "name", err);
	if (r < 0)
		return r;
	const char *base;
	size_t dlen = apply_split(rel, rlen, &base);

	/* Go first makes the parent directory of every member but the root,
	 * whatever the member turns out to be. */
	int pfd = -1, pr = 0;
	if (rlen > 0)
		pr = apply_parent(a, rel, dlen, true, &pfd, err);

	if (execute && startswith(gclean, WH_META_PREFIX)) {
		/* These members are not written into the tree, so a parent
		 * that cannot be opened does not matter (Go only fails when
		 * it cannot make one, and we are laxer there). */
		if (pr < 0)
			cstor_error_clear(err);
		if (startswith(gclean, WH_LINK_DIR) && h->typeflag == '0') {
			const char *lbase;
			apply_split(gclean, glen, &lbase);
			r = apply_plnk_save(a, h, lbase, err);
			if (r < 0)
				return r;
		}
		if (!streq(gclean, WH_OPAQUE))
			return 0;
	}

	if (rlen == 0) {
		if (a->o->skip_existing_root && streq(gclean, "."))
			return 0;
		if (h->typeflag == 'g')
			return 0;
		if (h->typeflag != '5')
			return cstor_error_set(err, EBADMSG,
					       "would replace the root directory (type '%c')",
					       h->typeflag);
		return apply_root(a, h, err);
	}

	bool whiteout = startswith(base, WH_PREFIX) != NULL;
	if (execute && whiteout) {
		/* Through a dangling symlink there is nothing to remove, and
		 * Go's walk of an opaque directory does not follow it. */
		if (pr == -ENOENT) {
			cstor_error_clear(err);
			return 0;
		}
		if (pr < 0)
			return pr;
		if (streq(base, WH_OPAQUE))
			return apply_whiteout_opaque(a, rel, dlen, err);
		if (!valid_whiteout_target(base + 4))
			return cstor_error_set(err, EBADMSG, "invalid whiteout");
		return apply_whiteout_remove(a, rel, dlen, base + 4, err);
	}

	if (a->o->whiteouts == CSTOR_WHITEOUT_OVERLAY && whiteout) {
		bool opaque = streq(base, WH_OPAQUE);
		/* "rm -rf /foo/bar" gives .wh.foo, then foo/.wh.bar under the
		 * whiteout device: Go ignores the second. */
		if (pr == -ENOTDIR && !opaque) {
			cstor_error_clear(err);
			return 0;
		}
		if (pr < 0)
			return pr;
		if (!opaque && !valid_whiteout_target(base + 4))
			return cstor_error_set(err, EBADMSG, "invalid whiteout");
		/* Unpack removes what has the member's own name first. */
		struct stat st;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !(S_ISDIR(st.st_mode) && h->typeflag == '5')) {
			r = apply_remove_existing(a, pfd, base, err);
			if (r < 0)
				return r;
		}
		if (opaque)
			return apply_whiteout_opaque_xattr(a, pfd, err);
		return apply_whiteout_mknod(a, pfd, base + 4, h, err);
	}
	if (pr < 0)
		return pr;

	switch (h->typeflag) {
	case '0':
		r = apply_create_regular(a, h, pfd, base, -1, 0, 0, NULL, 0, err);
		break;
	case '5':
		r = apply_create_dir(a, h, pfd, rel, rlen, base, err);
		if (r >= 0 && add_dir_time(a, h, rel, rlen) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		break;
	case '1':
		r = apply_create_hardlink(a, h, pfd, base, err);
		break;
	case '2':
		r = apply_create_symlink(a, h, pfd, base, err);
		break;
	case '3':
	case '4':
	case '6':
		r = apply_create_node(a, h, pfd, base, err);
		break;
	case 'g': {
		/* Go ignores the header only after removing what has its
		 * name. */
		struct stat st;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
			r = apply_remove_existing(a, pfd, base, err);
		if (r >= 0 && execute && apply_pathset_add(&a->unpacked, rel, rlen) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		return r;
	}
	default:
		return cstor_error_set(err, ENOTSUP, "unhandled tar header type %d",
				       (unsigned char)h->typeflag);
	}
	if (r < 0)
		return r;
	if (execute && apply_pathset_add(&a->unpacked, rel, rlen) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (a->stats)
		a->stats->files++;
	return 0;
}

static int restore_dir_times(struct apply *a, cstor_error *err)
{
	for (size_t i = 0; i < a->n_dirs; i++) {
		const struct apply_dirtime *d = &a->dirs[i];
		struct timespec ts[2] = { d->atime, d->mtime };
		size_t len = strlen(d->path);
		int pfd = a->root_fd;
		const char *base = ".";
		if (len > 0) {
			size_t dl = apply_split(d->path, len, &base);
			int r = apply_parent(a, d->path, dl, false, &pfd, err);
			if (r == -ENOENT || r == -ENOTDIR) {
				cstor_error_clear(err);
				continue;
			}
			if (r < 0)
				return cstor_error_wrap(err, r, "apply layer: directory \"%s\"",
							d->path);
		}
		if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
			return cstor_error_errno(err, errno,
						 "apply layer: directory \"%s\": set times",
						 len ? d->path : ".");
	}
	return 0;
}

int cstor_apply_tar(int root_fd, cstor_tar_reader *r, const struct cstor_apply_options *o,
		    cstor_tarsplit_packer *packer, struct cstor_apply_stats *stats,
		    cstor_error *err)
{
	static const struct cstor_apply_options defaults = { 0 };
	if (stats)
		*stats = (struct cstor_apply_stats){ 0 };
	if (root_fd < 0 || !r)
		return cstor_error_set(err, EINVAL, "apply layer: invalid arguments");
	if (!o)
		o = &defaults;
	if ((unsigned)o->whiteouts > CSTOR_WHITEOUT_KEEP)
		return cstor_error_set(err, EINVAL, "apply layer: unknown whiteout mode %d",
				       (int)o->whiteouts);

	struct apply a = {
		.root_fd = root_fd, .o = o, .r = r, .stats = stats,
		.cache_fd = -1, .in_userns = -1, .umask = apply_read_umask(), .plnk_fd = -1,
	};
	int ret;
	const cstor_tar_header *h;
	for (;;) {
		ret = cstor_tar_reader_next(r, &h, err);
		if (ret < 0) {
			/* The reader's message names the entry or the offset. */
			ret = cstor_error_wrap(err, ret, "apply layer");
			break;
		}
		if (ret == 0)
			break;
		if (log_ids(&a, h) < 0) {
			ret = cstor_error_set(err, ENOMEM, "apply layer: out of memory");
			break;
		}
		ret = apply_member(&a, h, err);
		if (ret >= 0 && packer)
			ret = cstor_tarsplit_packer_add_entry(packer, r, h, err);
		if (ret < 0) {
			ret = cstor_error_wrap(err, ret, "apply layer: entry \"%s\"", h->name);
			break;
		}
	}
	if (ret == 0)
		ret = restore_dir_times(&a, err);
	if (ret == 0 && packer) {
		ret = cstor_tarsplit_packer_finish(packer, r, err);
		if (ret < 0)
			ret = cstor_error_wrap(err, ret, "apply layer: record tar-split");
	}

	if (a.cache_fd >= 0)
		close(a.cache_fd);
	free(a.cache_path);
	for (size_t i = 0; i < a.n_dirs; i++)
		free(a.dirs[i].path);
	free(a.dirs);
	apply_pathset_free(&a.unpacked);
	apply_plnk_free(&a);
	return ret;
}

void cstor_apply_stats_done(struct cstor_apply_stats *st)
{
	if (!st)
		return;
	free(st->uids);
	free(st->gids);
	*st = (struct cstor_apply_stats){ 0 };
}
