/* SPDX-License-Identifier: Apache-2.0 */
/* The public container API on top of the container store (objstore.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cstor/container.h>
#include <cstor/layer.h>

#include "archive/digest.h"
#include "records/bigdata.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "store/objects-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"
#include "util/strv.h"
#include "util/failpoint.h"

static char *const none[] = { NULL };

/* Containers are also found by their layer's ID. */
static const char *layer_key(const struct cstor_obj_head *h)
{
	return CSTOR_CONTAINER_REC(h)->layer;
}

const struct cstor_objstore_ops cstor_container_store_ops = {
	.kind = "container",
	.json_name = "containers.json",
	.lock_name = "containers.lock",
	.codec = &cstor_container_rec_codec,
	.alt_key = layer_key,
};

/* Snapshots */

void cstor_container_free(cstor_container *c)
{
	if (!c)
		return;
	cstor_rec_unref(&cstor_container_rec_codec, c->rec ? &c->rec->h : NULL);
	strv_free(c->mount_options);
	free(c);
}

void cstor_container_list_free(cstor_container **list)
{
	for (size_t i = 0; list && list[i]; i++)
		cstor_container_free(list[i]);
	free(list);
}

int cstor_container_snapshot(cstor_container **out, struct cstor_objstore *cs,
			     const struct cstor_container_rec *rec)
{
	cstor_container *c = calloc(1, sizeof(*c));
	struct cstor_obj_head *h = NULL;
	int r = c ? cstor_objstore_copy(cs, &rec->h, &h) : -ENOMEM;
	if (r < 0) {
		free(c);
		return r;
	}
	c->rec = CSTOR_CONTAINER_REC(h);
	json_t *opts = rec->h.flags ? json_object_get(rec->h.flags, CSTOR_CONTAINER_FLAG_MOUNT_OPTS)
				    : NULL;
	size_t i;
	json_t *o;
	c->mount_options = calloc(1, sizeof(char *));
	json_array_foreach(opts, i, o)
	{
		if (c->mount_options && json_is_string(o) &&
		    strv_append(&c->mount_options, json_string_value(o)) < 0) {
			strv_free(c->mount_options);
			c->mount_options = NULL;
		}
	}
	if (!c->mount_options) {
		cstor_container_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

const char *const *cstor_container_mount_options(const cstor_container *c)
{
	return (const char *const *)c->mount_options;
}

const char *cstor_container_id(const cstor_container *c)
{
	return c->rec->h.id;
}

const char *const *cstor_container_names(const cstor_container *c)
{
	return (const char *const *)(c->rec->h.names ? c->rec->h.names : (char **)none);
}

const char *cstor_container_image(const cstor_container *c)
{
	return c->rec->image[0] ? c->rec->image : NULL;
}

const char *cstor_container_layer(const cstor_container *c)
{
	return c->rec->layer;
}

const char *cstor_container_metadata(const cstor_container *c)
{
	return c->rec->h.metadata;
}

const char *cstor_container_created(const cstor_container *c)
{
	return c->rec->h.created;
}

const char *const *cstor_container_big_data_names(const cstor_container *c)
{
	return (const char *const *)(c->rec->h.bd.names ? c->rec->h.bd.names : (char **)none);
}

const char *cstor_container_mount_label(const cstor_container *c)
{
	const char *l = cstor_container_rec_flag_str(c->rec, CSTOR_CONTAINER_FLAG_MOUNT_LABEL);
	return l ? l : "";
}

const char *cstor_container_process_label(const cstor_container *c)
{
	const char *l = cstor_container_rec_flag_str(c->rec, CSTOR_CONTAINER_FLAG_PROCESS_LABEL);
	return l ? l : "";
}

char *cstor_container_to_json(const cstor_container *c)
{
	cstor_buf b = { 0 };
	cstor_container_rec_write(&b, c->rec);
	return cstor_buf_steal(&b, NULL);
}

/* Listing and lookup */

int cstor_store_containers(cstor_container ***out, cstor_store *s, cstor_error *err)
{
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	cstor_container **list = calloc(cs->n + 1, sizeof(*list));
	for (size_t i = 0; list && i < cs->n && r == 0; i++)
		r = cstor_container_snapshot(&list[i], cs, CSTOR_CONTAINER_REC(cs->recs[i]));
	cstor_objstore_done(cs);
	if (!list || r < 0) {
		cstor_container_list_free(list);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*out = list;
	return 0;
}

int cstor_store_container(cstor_container **out, cstor_store *s, const char *ref,
			  cstor_error *err)
{
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	bool amb = false;
	struct cstor_obj_head *h = cstor_objstore_lookup(cs, ref, &amb);
	if (!h)
		r = cstor_obj_not_found(err, "container", ref, amb);
	else if (cstor_container_snapshot(out, cs, CSTOR_CONTAINER_REC(h)) < 0)
		r = cstor_error_set(err, ENOMEM, "out of memory");
	cstor_objstore_done(cs);
	return r;
}

/* Creation */

static int set_flag(struct cstor_container_rec *rec, const char *key, json_t *v)
{
	if (!v || (!rec->h.flags && !(rec->h.flags = json_object()))) {
		json_decref(v);
		return -ENOMEM;
	}
	return json_object_set_new(rec->h.flags, key, v) < 0 ? -ENOMEM : 0;
}

static struct cstor_container_rec *new_record(const cstor_container_options *o, const char *id,
					      char **names, const char *image, const char *layer)
{
	struct cstor_container_rec *rec = calloc(1, sizeof(*rec));
	if (!rec || !(rec->h.id = strdup(id)) || !(rec->h.created = cstor_time_now_json()) ||
	    !(rec->image = strdup(image ? image : "")) || !(rec->layer = strdup(layer)) ||
	    (o->metadata && o->metadata[0] && !(rec->h.metadata = strdup(o->metadata))) ||
	    !(rec->h.names = strv_copy(names)))
		goto oom;
	/* Both labels are always recorded, "" without SELinux, as Go does. */
	if (set_flag(rec, CSTOR_CONTAINER_FLAG_MOUNT_LABEL,
		     json_string(o->mount_label ? o->mount_label : "")) < 0 ||
	    set_flag(rec, CSTOR_CONTAINER_FLAG_PROCESS_LABEL,
		     json_string(o->process_label ? o->process_label : "")) < 0)
		goto oom;
	if (o->mount_options) {
		json_t *a = json_array();
		for (size_t i = 0; a && o->mount_options[i]; i++)
			if (json_array_append_new(a, json_string(o->mount_options[i])) < 0) {
				json_decref(a);
				a = NULL;
			}
		if (set_flag(rec, CSTOR_CONTAINER_FLAG_MOUNT_OPTS, a) < 0)
			goto oom;
	}
	if (o->is_volatile && set_flag(rec, CSTOR_CONTAINER_FLAG_VOLATILE, json_true()) < 0)
		goto oom;
	return rec;
oom:
	cstor_container_rec_free(rec);
	return NULL;
}

struct create {
	const cstor_container_options *o;
	const char *image_id; /* NULL: no image */
	const char *top;      /* the parent layer's ID, NULL: none */
	const char *ro_parent; /* = top when it lives in a read-only store */
	char *id_out;
};

/* Whether @id and @names are free in the container store. */
static int check_free(struct cstor_objstore *cs, const char *id, char *const *names,
		      cstor_error *err) CSTOR_REQUIRES_SHARED(&cs->lock)
{
	if (cstor_objstore_by_id(cs, id))
		return cstor_error_set(err, EEXIST, "a container with ID \"%s\" already exists", id);
	for (size_t i = 0; names[i]; i++) {
		struct cstor_obj_head *other = cstor_objstore_by_name(cs, names[i]);
		if (other)
			return cstor_error_set(err, EEXIST,
					       "the container name \"%s\" is already in use by %s",
					       names[i], other->id);
	}
	return 0;
}

/* Record the container (the layer exists): the container store held. */
static int add_record(struct create *c, struct cstor_objstore *cs, const char *id,
		      char *const *names, const char *layer, cstor_error *err)
	CSTOR_REQUIRES(&cs->lock)
{
	/* Checked again: another writer may have come between. */
	int r = check_free(cs, id, names, err);
	if (r < 0)
		return r;
	struct cstor_container_rec *rec = new_record(c->o, id, (char **)names, c->image_id, layer);
	if (!rec || cstor_objstore_add(cs, &rec->h) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = cstor_objstore_save(cs, err)) < 0) {
		cstor_objstore_remove(cs, &rec->h);
		/* A save can fail after its rename (syncing the directory):
		 * the file may hold the record, whose layer our caller now
		 * removes. Written again without it, best effort, as a
		 * failed layer creation does (found by the crash-point walk:
		 * "container layer is missing"). */
		cstor_objstore_save(cs, NULL);
	}
	return r;
}

/* With the primary layer store (and the image's store) held: the ID and
 * names are checked first (so that a refused container costs no layer), the
 * layer is made (its parent check reads the container store), then the
 * record. Without a record the layer is removed again. */
static int create_locked(struct create *c, struct cstor_store *s, struct cstor_objstore *ls,
			 cstor_error *err) CSTOR_REQUIRES(&ls->lock)
{
	struct cstor_objstore *cs = s->containers;
	char rid[65];
	const char *id = c->o->id;
	_cleanup_strv_free_ char **names = cstor_names_dedup((char *const *)c->o->names);
	_cleanup_free_ char *layer = NULL;
	if (!names)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	if (!id && (r = cstor_objstore_new_id(cs, rid, err)) == 0)
		id = rid;
	if (r == 0)
		r = check_free(cs, id, names, err);
	cstor_objstore_done(cs);
	if (r < 0)
		return r;

	cstor_layer_options lo = CSTOR_LAYER_OPTIONS_INIT;
	lo.parent = c->top;
	lo.mount_label = c->o->mount_label;
	lo.writeable = 1;
	if ((r = cstor_layer_create_locked(&layer, s, ls, &lo, c->ro_parent, NULL, err)) < 0)
		return r;
	r = cstor_failpoint_err(err, "container-create:after-layer", NULL,
				"record the container");
	if (r == 0) {
		r = cstor_objstore_start_writing(cs, err);
		if (r == 0) {
			r = add_record(c, cs, id, names, layer, err);
			cstor_objstore_done(cs);
		}
	}
	if (r < 0) {
		/* No container: no layer either. */
		struct cstor_layer_rec *l = cstor_layer_store_by_id(ls, layer);
		if (l)
			cstor_layer_store_delete(ls, l, NULL);
		return r;
	}
	if (!(c->id_out = strdup(id)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* With the image's store held: is the image still there, on that layer? */
static int create_with_image(struct create *c, struct cstor_store *s,
			     struct cstor_objstore *ls, struct cstor_objstore *home,
			     cstor_error *err) CSTOR_REQUIRES(&ls->lock)
{
	int r = cstor_objstore_start_reading(home, err);
	if (r != 0)
		return r;
	struct cstor_obj_head *h = cstor_objstore_by_id(home, c->image_id);
	if (!h || !streq_ptr(CSTOR_IMAGE_REC(h)->layer && CSTOR_IMAGE_REC(h)->layer[0]
				     ? CSTOR_IMAGE_REC(h)->layer
				     : NULL,
			     c->top))
		r = cstor_obj_not_found(err, "image", c->image_id, false);
	else
		r = create_locked(c, s, ls, err);
	cstor_objstore_done(home);
	return r;
}

static int resolve_parent(struct create *c, char **ro_parent, struct cstor_store *s,
			  struct cstor_objstore *ls, cstor_error *err)
	CSTOR_REQUIRES(&ls->lock)
{
	if (!c->top || cstor_layer_store_by_id(ls, c->top))
		return 0;
	/* The image's layers may live in a read-only store (later in the lock
	 * order than the primary layer store we hold). */
	for (size_t i = 0; i < s->n_ro_layers; i++) {
		struct cstor_objstore *ro = s->ro_layers[i];
		int r = cstor_objstore_start_reading(ro, err);
		if (r != 0)
			return r;
		bool found = cstor_layer_store_by_id(ro, c->top) != NULL;
		cstor_objstore_done(ro);
		if (found) {
			if (!(*ro_parent = strdup(c->top)))
				return cstor_error_set(err, ENOMEM, "out of memory");
			c->ro_parent = *ro_parent;
			return 0;
		}
	}
	return cstor_error_set(err, ENOENT, "layer not known: %s (top layer of image %s)", c->top,
			       c->image_id);
}

static bool id_ok(const char *id)
{
	return cstor_rec_id_valid(id) && !strchr(id, ' ');
}

int cstor_store_create_container(cstor_container **out, cstor_store *s,
				 const cstor_container_options *o, cstor_error *err)
{
	if (!o || o->version != CSTOR_CONTAINER_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_container_options version");
	if (o->flags)
		return cstor_error_set(err, EINVAL, "unknown container flags 0x%x", o->flags);
	if (o->id && !id_ok(o->id))
		return cstor_error_set(err, EINVAL, "invalid container ID \"%s\"", o->id);
	bool ml = o->mount_label && o->mount_label[0], pl = o->process_label && o->process_label[0];
	if (ml != pl)
		return cstor_error_set(err, EINVAL,
				       "ProcessLabel and Mountlabel must either not be specified or "
				       "both specified");

	/* The image first, with no lock held across: image stores come after
	 * the layer stores in the lock order. It is checked again below. */
	cstor_image *img = NULL;
	struct cstor_objstore *home = NULL;
	int r;
	if (o->image && o->image[0] && (r = cstor_store_find_image(&img, &home, s, o->image, err)) < 0)
		return r;
	_cleanup_free_ char *image_id = img ? strdup(cstor_image_id(img)) : NULL;
	_cleanup_free_ char *top = img && cstor_image_top_layer(img)
					   ? strdup(cstor_image_top_layer(img))
					   : NULL;
	bool oom = img && (!image_id || (cstor_image_top_layer(img) && !top));
	cstor_image_free(img);
	if (oom)
		return cstor_error_set(err, ENOMEM, "out of memory");

	struct create c = { .o = o, .image_id = image_id, .top = top };
	_cleanup_free_ char *ro_parent = NULL;
	struct cstor_objstore *ls = s->layers;
	r = cstor_objstore_start_writing(ls, err);
	if (r != 0)
		return r;
	r = resolve_parent(&c, &ro_parent, s, ls, err);
	if (r == 0)
		r = home ? create_with_image(&c, s, ls, home, err) : create_locked(&c, s, ls, err);
	cstor_objstore_done(ls);
	if (r == 0 && out)
		r = cstor_store_container(out, s, c.id_out, err);
	free(c.id_out);
	return r;
}

/* Changes */

static struct cstor_container_rec *find_locked(struct cstor_objstore *cs, const char *ref,
					       cstor_error *err) CSTOR_REQUIRES_SHARED(&cs->lock)
{
	bool amb = false;
	struct cstor_obj_head *h = cstor_objstore_lookup(cs, ref, &amb);
	if (!h)
		cstor_obj_not_found(err, "container", ref, amb);
	return h ? CSTOR_CONTAINER_REC(h) : NULL;
}

static int change_names(struct cstor_store *s, const char *ref, const char *const *names,
			enum cstor_names_op op, cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_change_names(&set, NULL, ref, names, op, NULL, err);
}

int cstor_container_set_names(cstor_store *s, const char *ref, const char *const *names,
			      cstor_error *err)
{
	return change_names(s, ref, names, CSTOR_NAMES_SET, err);
}

int cstor_container_add_names(cstor_store *s, const char *ref, const char *const *names,
			      cstor_error *err)
{
	return change_names(s, ref, names, CSTOR_NAMES_ADD, err);
}

int cstor_container_remove_names(cstor_store *s, const char *ref, const char *const *names,
				 cstor_error *err)
{
	return change_names(s, ref, names, CSTOR_NAMES_REMOVE, err);
}

int cstor_container_set_metadata(cstor_store *s, const char *ref, const char *metadata,
				 cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_set_metadata(&set, ref, metadata, NULL, err);
}

/* Big data */

int cstor_container_get_big_data(void **data, size_t *len, cstor_store *s, const char *ref,
				 const char *key, cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_get_big_data(data, len, &set, ref, key, err);
}

/* Go computes (and records) what an older record lacks. */
int cstor_container_big_data_size(int64_t *size, cstor_store *s, const char *ref,
				  const char *key, cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_big_data_info(size, NULL, &set, ref, key, true, err);
}

int cstor_container_big_data_digest(char **digest, cstor_store *s, const char *ref,
				    const char *key, cstor_error *err)
{
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_big_data_info(NULL, digest, &set, ref, key, true, err);
}

int cstor_container_set_big_data(cstor_store *s, const char *ref, const char *key,
				 const void *data, size_t len, cstor_error *err)
{
	if (!key || !key[0])
		return cstor_error_set(err, EINVAL, "a data item needs a non-empty name");
	char digest[CSTOR_DIGEST_STRING_MAX];
	int r = cstor_digest_buffer(digest, data, len, err);
	if (r < 0)
		return r;
	struct cstor_objset set = cstor_store_container_set(s);
	return cstor_objset_set_big_data(&set, NULL, ref, key, data, len, digest, NULL, err);
}

/* Directories */

char *cstor_container_graph_dir(struct cstor_store *s, const char *id)
{
	return cstor_path_join(s->containers_dir, id);
}

char *cstor_container_run_dir_path(struct cstor_store *s, const char *id)
{
	char *p;
	return asprintf(&p, "%s/%s-containers/%s", s->cfg.run_root, s->driver_ops->name, id) < 0
		       ? NULL
		       : p;
}

int cstor_container_remove_dirs(struct cstor_store *s, const char *id, cstor_error *err)
{
	_cleanup_free_ char *g = cstor_container_graph_dir(s, id);
	_cleanup_free_ char *rd = cstor_container_run_dir_path(s, id);
	if (!g || !rd)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_rm_rf_at(AT_FDCWD, g, err);
	if (r == 0)
		r = cstor_rm_rf_at(AT_FDCWD, rd, err);
	return r;
}

static int userdata_dir(char **path, struct cstor_store *s, const char *ref, bool run,
			cstor_error *err)
{
	/* Shared: the directory belongs to the container, created under the
	 * lock so that it cannot be deleted meanwhile. */
	struct cstor_objstore *cs = s->containers;
	int r = cstor_objstore_start_reading(cs, err);
	if (r != 0)
		return r;
	struct cstor_container_rec *rec = find_locked(cs, ref, err);
	_cleanup_free_ char *base = NULL, *p = NULL;
	if (!rec)
		r = cstor_objset_fail_code(err);
	else if (!(base = run ? cstor_container_run_dir_path(s, rec->h.id)
			      : cstor_container_graph_dir(s, rec->h.id)) ||
		 !(p = cstor_path_join(base, "userdata")))
		r = cstor_error_set(err, ENOMEM, "out of memory");
	else if ((r = cstor_mkdir_p(p, 0700, err)) == 0)
		*path = TAKE_PTR(p);
	cstor_objstore_done(cs);
	return r;
}

int cstor_container_dir(char **path, cstor_store *s, const char *ref, cstor_error *err)
{
	return userdata_dir(path, s, ref, false, err);
}

int cstor_container_run_dir(char **path, cstor_store *s, const char *ref, cstor_error *err)
{
	return userdata_dir(path, s, ref, true, err);
}

/* Go's directory.Size: the sizes of everything but directories, each inode
 * once, not following symlinks. */
struct inodes {
	ino_t *v;
	size_t n, cap;
};

static bool seen_inode(struct inodes *in, ino_t ino)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i] == ino)
			return true;
	if (in->n == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 64;
		ino_t *v = realloc(in->v, cap * sizeof(*v));
		if (!v)
			return false;
		in->v = v;
		in->cap = cap;
	}
	in->v[in->n++] = ino;
	return false;
}

static int dir_size(int64_t *total, int dfd, const char *what, struct inodes *in, int depth,
		    cstor_error *err)
{
	if (depth > 1024)
		return cstor_error_set(err, ELOOP, "%s: directory tree too deep", what);
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return cstor_error_errno(err, errno, "%s", what);
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return cstor_error_errno(err, errno, "%s", what);
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return cstor_error_errno(err, errno, "%s/%s", what, de->d_name);
		}
		if (seen_inode(in, st.st_ino))
			continue;
		if (!S_ISDIR(st.st_mode)) {
			*total += st.st_size;
			continue;
		}
		_cleanup_close_ int sub =
			openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno == ENOENT)
				continue;
			return cstor_error_errno(err, errno, "%s/%s", what, de->d_name);
		}
		int r = dir_size(total, sub, what, in, depth + 1, err);
		if (r < 0)
			return r;
	}
	if (errno)
		return cstor_error_errno(err, errno, "%s", what);
	return 0;
}

static int tree_size(int64_t *total, const char *path, cstor_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "%s", path);
	struct inodes in = { 0 };
	int r = dir_size(total, fd, path, &in, 0, err);
	free(in.v);
	return r;
}

int cstor_store_container_size(int64_t *size, cstor_store *s, const char *ref, cstor_error *err)
{
	cstor_container *c = NULL;
	int r = cstor_store_container(&c, s, ref, err);
	if (r < 0)
		return r;
	int64_t total = 0, n = 0;
	_cleanup_free_ char *dir = NULL, *run = NULL;
	if ((r = cstor_store_diff_size(&n, s, NULL, cstor_container_layer(c), err)) < 0)
		goto out;
	total += n;
	for (const char *const *k = cstor_container_big_data_names(c); *k; k++) {
		if ((r = cstor_container_big_data_size(&n, s, cstor_container_id(c), *k, err)) < 0)
			goto out;
		total += n;
	}
	if ((r = cstor_container_dir(&dir, s, cstor_container_id(c), err)) < 0 ||
	    (r = tree_size(&total, dir, err)) < 0 ||
	    (r = cstor_container_run_dir(&run, s, cstor_container_id(c), err)) < 0 ||
	    (r = tree_size(&total, run, err)) < 0)
		goto out;
	*size = total;
out:
	cstor_container_free(c);
	return r;
}
