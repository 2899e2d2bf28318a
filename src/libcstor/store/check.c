/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check (include/cstor/check.h, docs/check.md): the records are copied
 * under shared locks, one store at a time; then each layer's diff is made
 * (the public diff call takes its own locks, one layer at a time) and, for
 * a full check, each image layer is mounted read-only and its tree compared
 * with what its diffs say. No lock is held across the long steps, so the
 * store stays usable while a check runs.
 *
 * The problems and their texts follow containers/storage's check (its
 * tests match them), plus what only cstor knows: interrupted applies,
 * parent cycles, kept blobs that lost their digest, leftovers of dead
 * importers and mount records that do not match their holders.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstor/check.h>
#include <cstor/layer.h>
#include <cstor/mount.h>
#include <cstor/transfer.h>

#include "archive/digest.h"
#include "archive/tar.h"
#include "records/bigdata.h"
#include "records/container-rec.h"
#include "records/image-rec.h"
#include "records/layer-rec.h"
#include "records/pending.h"
#include "store/check-internal.h"
#include "store/engine.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/fileutil.h"
#include "util/macro.h"
#include "util/error-internal.h"
#include "util/strv.h"

/* ---- the report ------------------------------------------------------- */

int check_add_problem(struct cstor_check_report *r, int object, int code, const char *id,
		      bool ro, const char *fmt, ...)
{
	struct check_problem *n = realloc(r->problems, (r->n_problems + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->problems = n;
	struct check_problem *p = &n[r->n_problems];
	memset(p, 0, sizeof(*p));
	va_list ap;
	va_start(ap, fmt);
	int k = vasprintf(&p->msg, fmt, ap);
	va_end(ap);
	if (k < 0 || !(p->id = strdup(id))) {
		if (k >= 0)
			free(p->msg);
		return -ENOMEM;
	}
	p->p = (cstor_check_problem){ object, code, p->id, ro, p->msg };
	r->n_problems++;
	return 0;
}

bool check_has_problem(const struct cstor_check_report *r, int object, const char *id)
{
	for (size_t i = 0; i < r->n_problems; i++)
		if (r->problems[i].p.object == object && streq(r->problems[i].id, id))
			return true;
	return false;
}

size_t cstor_check_report_count(const cstor_check_report *r)
{
	return r ? r->n_problems : 0;
}

const cstor_check_problem *cstor_check_report_problem(const cstor_check_report *r, size_t i)
{
	return r && i < r->n_problems ? &r->problems[i].p : NULL;
}

static void free_hdrs(struct check_layer *l)
{
	for (size_t i = 0; i < l->n_hdrs; i++) {
		free(l->hdrs[i].name);
		free(l->hdrs[i].link);
	}
	free(l->hdrs);
	l->hdrs = NULL;
	l->n_hdrs = 0;
}

void cstor_check_report_free(cstor_check_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_layers; i++) {
		struct check_layer *l = &r->layers[i];
		free(l->id);
		free(l->parent);
		free(l->diff_id);
		free(l->blob_digest);
		free(l->created);
		free(l->data_dir);
		free(l->layers_dir);
		strv_free(l->data);
		strv_free(l->bad_blobs);
		free_hdrs(l);
	}
	free(r->layers);
	free(r->by_id);
	for (size_t i = 0; i < r->n_images; i++) {
		free(r->images[i].id);
		strv_free(r->images[i].layers);
	}
	free(r->images);
	for (size_t i = 0; i < r->n_containers; i++) {
		free(r->containers[i].id);
		free(r->containers[i].image);
		free(r->containers[i].layer);
	}
	free(r->containers);
	strv_free(r->unaccounted);
	strv_free(r->journals);
	for (size_t i = 0; i < r->n_problems; i++) {
		free(r->problems[i].id);
		free(r->problems[i].msg);
	}
	free(r->problems);
	free(r);
}

/* qsort has no context argument: the array being indexed, for the
 * comparison (set only while index_layers sorts; the library sorts no two
 * reports at once in one thread, and qsort_r is not portable enough). */
static _Thread_local const struct check_layer *sorting;

static int cmp_layer_id(const void *a, const void *b)
{
	return strcmp(sorting[*(const size_t *)a].id, sorting[*(const size_t *)b].id);
}

/* Lookups by ID stay fast in stores of many thousands of layers. */
static int index_layers(struct cstor_check_report *r)
{
	free(r->by_id);
	r->n_by_id = 0;
	if (!(r->by_id = calloc(r->n_layers + 1, sizeof(*r->by_id))))
		return -ENOMEM;
	for (size_t i = 0; i < r->n_layers; i++)
		if (!r->layers[i].shadowed)
			r->by_id[r->n_by_id++] = i;
	sorting = r->layers;
	qsort(r->by_id, r->n_by_id, sizeof(*r->by_id), cmp_layer_id);
	sorting = NULL;
	return 0;
}

struct check_layer *check_find_layer(const struct cstor_check_report *r, const char *id)
{
	if (!id)
		return NULL;
	if (r->by_id) {
		size_t lo = 0, hi = r->n_by_id;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(id, r->layers[r->by_id[mid]].id);
			if (c == 0)
				return &r->layers[r->by_id[mid]];
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		return NULL;
	}
	for (size_t i = 0; i < r->n_layers; i++)
		if (!r->layers[i].shadowed && streq(r->layers[i].id, id))
			return &r->layers[i];
	return NULL;
}

static const struct check_image *find_image(const struct cstor_check_report *r, const char *id)
{
	for (size_t i = 0; id && i < r->n_images; i++)
		if (streq(r->images[i].id, id))
			return &r->images[i];
	return NULL;
}

#define OOM(r) ((r) < 0 ? cstor_error_set(err, ENOMEM, "out of memory") : 0)

/* ---- copying the records ---------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static int copy_layers(struct cstor_check_report *rep, struct cstor_objstore *os,
		       const char *run_dir, cstor_error *err) CSTOR_REQUIRES_SHARED(&os->lock)
{
	int r = 0;
	for (size_t i = 0; i < os->n && r == 0; i++) {
		const struct cstor_layer_rec *lr = CSTOR_LAYER_REC(os->recs[i]);
		/* The first store's copy is the one used; a later copy is
		 * kept as a source for repairs. */
		bool shadowed = check_find_layer(rep, lr->h.id) != NULL;
		struct check_layer *n = realloc(rep->layers, (rep->n_layers + 1) * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		rep->layers = n;
		struct check_layer *l = &n[rep->n_layers++];
		memset(l, 0, sizeof(*l));
		l->ro = os->read_only;
		l->shadowed = shadowed;
		l->idmapped = lr->n_uidmap > 0 || lr->n_gidmap > 0;
		l->diff_size = lr->uncompressed_size;
		if (cstor_layer_rec_flag_bool(lr, "incomplete"))
			l->incomplete = CSTOR_LAYER_INCOMPLETE_REMOVING;
		else if (cstor_layer_rec_flag_bool(lr, CSTOR_FLAG_CREATING))
			l->incomplete = CSTOR_LAYER_INCOMPLETE_CREATING;
		else if (cstor_layer_rec_flag_bool(lr, CSTOR_FLAG_APPLY_INCOMPLETE))
			l->incomplete = CSTOR_LAYER_INCOMPLETE_APPLY;
		l->busy = !os->read_only && cstor_apply_in_progress(run_dir, lr->h.id);
		if (!(l->id = strdup(lr->h.id)) ||
		    (lr->parent && *lr->parent && !(l->parent = strdup(lr->parent))) ||
		    (lr->uncompressed_digest && !(l->diff_id = dup_or_null(lr->uncompressed_digest))) ||
		    (lr->compressed_digest && !(l->blob_digest = dup_or_null(lr->compressed_digest))) ||
		    (lr->h.created && !(l->created = strdup(lr->h.created))) ||
		    !(l->data_dir = cstor_objstore_data_dir(os, lr->h.id)) ||
		    !(l->layers_dir = strdup(os->file.dir)))
			r = -ENOMEM;
		for (size_t k = 0; r == 0 && lr->h.bd.names && lr->h.bd.names[k]; k++)
			r = strv_append(&l->data, lr->h.bd.names[k]);
	}
	return OOM(r);
}

static int64_t recorded_size(const struct cstor_obj_head *h, const char *key)
{
	json_t *v = h->bd.sizes ? json_object_get(h->bd.sizes, key) : NULL;
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* Big data of images and containers: present, and as big as recorded. */
static int check_data(struct cstor_check_report *rep, struct cstor_objstore *os,
		      const struct cstor_obj_head *h, int object, bool ro)
{
	const char *kind = object == CSTOR_CHECK_IMAGE ? "image" : "container";
	const char *pre = ro ? "read-only " : "";
	_cleanup_free_ char *dir = cstor_objstore_data_dir(os, h->id);
	if (!dir)
		return -ENOMEM;
	for (size_t k = 0; h->bd.names && h->bd.names[k]; k++) {
		const char *key = h->bd.names[k];
		_cleanup_free_ char *file = NULL;
		if (cstor_big_data_file_name(&file, key, NULL) < 0)
			return -ENOMEM;
		_cleanup_free_ char *path = cstor_path_join(dir, file);
		if (!path)
			return -ENOMEM;
		struct stat st;
		int r = 0;
		int64_t want = recorded_size(h, key);
		if (stat(path, &st) < 0)
			r = check_add_problem(rep, object,
					      object == CSTOR_CHECK_IMAGE ?
						      CSTOR_PROBLEM_IMAGE_DATA_MISSING :
						      CSTOR_PROBLEM_CONTAINER_DATA_MISSING,
					      h->id, ro, "%s%s %s: data item \"%s\": %s data item is missing",
					      pre, kind, h->id, key, kind);
		else if (want >= 0 && st.st_size != want)
			r = check_add_problem(rep, object,
					      object == CSTOR_CHECK_IMAGE ?
						      CSTOR_PROBLEM_IMAGE_DATA_SIZE :
						      CSTOR_PROBLEM_CONTAINER_DATA_SIZE,
					      h->id, ro,
					      "%s%s %s: data item \"%s\": %s data item has incorrect size",
					      pre, kind, h->id, key, kind);
		if (r < 0)
			return r;
	}
	return 0;
}

static int copy_images(struct cstor_check_report *rep, struct cstor_objstore *os,
		       cstor_error *err) CSTOR_REQUIRES_SHARED(&os->lock)
{
	int r = 0;
	for (size_t i = 0; i < os->n && r == 0; i++) {
		const struct cstor_image_rec *ir = CSTOR_IMAGE_REC(os->recs[i]);
		if (find_image(rep, ir->h.id))
			continue;
		struct check_image *n = realloc(rep->images, (rep->n_images + 1) * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		rep->images = n;
		struct check_image *im = &n[rep->n_images++];
		memset(im, 0, sizeof(*im));
		im->ro = os->read_only;
		if (!(im->id = strdup(ir->h.id)))
			r = -ENOMEM;
		if (r == 0 && ir->layer && *ir->layer)
			r = strv_append(&im->layers, ir->layer);
		for (size_t k = 0; r == 0 && ir->mapped_layers && ir->mapped_layers[k]; k++)
			if (!strv_contains(im->layers, ir->mapped_layers[k]))
				r = strv_append(&im->layers, ir->mapped_layers[k]);
		if (r == 0)
			r = check_data(rep, os, &ir->h, CSTOR_CHECK_IMAGE, os->read_only);
	}
	return OOM(r);
}

static int copy_containers(struct cstor_check_report *rep, struct cstor_objstore *os,
			   cstor_error *err) CSTOR_REQUIRES_SHARED(&os->lock)
{
	int r = 0;
	for (size_t i = 0; i < os->n && r == 0; i++) {
		const struct cstor_container_rec *cr = (const void *)os->recs[i];
		struct check_container *n =
			realloc(rep->containers, (rep->n_containers + 1) * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		rep->containers = n;
		struct check_container *c = &n[rep->n_containers++];
		memset(c, 0, sizeof(*c));
		if (!(c->id = strdup(cr->h.id)) || (cr->image && !(c->image = dup_or_null(cr->image)) &&
						    *cr->image) ||
		    (cr->layer && !(c->layer = dup_or_null(cr->layer)) && *cr->layer))
			r = -ENOMEM;
		if (r == 0)
			r = check_data(rep, os, &cr->h, CSTOR_CHECK_CONTAINER, false);
	}
	return OOM(r);
}

/*
 * Every record, and the driver's list of layer directories, copied under
 * the shared locks of all stores held together (taken in the lock order,
 * docs/locking.md; only for as long as the copy takes): one moment's
 * store. Copied one store at a time, an image or a container made (or a
 * layer directory created) between two copies was reported as using a
 * missing layer, or as a directory no record owns, while other processes
 * wrote the store (found by tests/interop/test-stress-mixed.sh).
 */
static int copy_records(struct cstor_check_report *rep, char ***dirs, cstor_store *s,
			cstor_error *err) CSTOR_NO_TSA
{
	struct cstor_objstore *held[256];
	size_t n = 0, want = 0;
	struct cstor_objstore *order[256];
	order[want++] = s->layers;
	for (size_t i = 0; i < s->n_ro_layers && want < 255; i++)
		order[want++] = s->ro_layers[i];
	size_t first_image = want;
	order[want++] = s->images;
	for (size_t i = 0; i < s->n_ro_images && want < 255; i++)
		order[want++] = s->ro_images[i];
	size_t containers = want;
	order[want++] = s->containers;
	int r = 0;
	for (size_t i = 0; i < want && r == 0; i++) {
		r = cstor_objstore_start_reading(order[i], err);
		if (r == 0)
			held[n++] = order[i];
		else if (r > 0)
			r = -EIO;
	}
	for (size_t i = 0; i < first_image && r == 0; i++) {
		/* Indexed after each store: the next one's copies of the
		 * same IDs are found by lookup, not by a scan of every layer
		 * so far. */
		r = copy_layers(rep, order[i], s->run_layers_dir, err);
		if (r == 0)
			r = OOM(index_layers(rep));
	}
	for (size_t i = first_image; i < containers && r == 0; i++)
		r = copy_images(rep, order[i], err);
	if (r == 0)
		r = copy_containers(rep, order[containers], err);
	if (r == 0 && s->driver_ops->list)
		r = cstor_store_driver_list(dirs, s, err);
	while (n > 0)
		cstor_objstore_done(held[--n]);
	return r;
}

/* Drop the problems added since @from: they were of a layer that another
 * process deleted (or applied to) while check looked at it. */
static void drop_problems(struct cstor_check_report *rep, size_t from, struct check_layer *l)
{
	while (rep->n_problems > from) {
		struct check_problem *p = &rep->problems[--rep->n_problems];
		free(p->id);
		free(p->msg);
	}
	l->content_bad = l->other_bad = false;
	strv_free(l->bad_blobs);
	l->bad_blobs = NULL;
}

/* ---- one layer's diff --------------------------------------------------- */

/* The diff is pushed to us (cstor_store_diff writes); its tar headers are
 * read by a thread from a pipe, so the full tar reader handles every
 * format the diff can have. */
struct diff_sink {
	cstor_digester dg;
	uint64_t size;
	int pipe_w;
	bool want_headers;
};

struct header_reader {
	int fd;
	struct check_hdr *hdrs;
	size_t n;
	int r;
	cstor_error err;
};

static ssize_t pipe_read(void *ctx, void *buf, size_t len)
{
	struct header_reader *h = ctx;
	for (;;) {
		ssize_t n = read(h->fd, buf, len);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

static void *read_headers(void *arg)
{
	struct header_reader *h = arg;
	cstor_tar_reader *tr = NULL;
	int r = cstor_tar_reader_new(&tr, pipe_read, h, 0, &h->err);
	while (r == 0) {
		const cstor_tar_header *th;
		r = cstor_tar_reader_next(tr, &th, &h->err); /* 1: an entry, 0: the end */
		if (r <= 0)
			break;
		r = 0;
		struct check_hdr *n = realloc(h->hdrs, (h->n + 1) * sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		h->hdrs = n;
		struct check_hdr *e = &n[h->n];
		*e = (struct check_hdr){
			.type = th->typeflag,
			.mode = th->mode,
			.uid = th->uid,
			.gid = th->gid,
			.size = th->size,
			.mtime = th->mtime.tv_sec,
		};
		if (!(e->name = strdup(th->name)) ||
		    (th->typeflag == '1' && th->linkname && !(e->link = strdup(th->linkname)))) {
			free(e->name);
			r = -ENOMEM;
			break;
		}
		h->n++;
	}
	cstor_tar_reader_free(tr);
	h->r = r;
	/* Whatever is left (or all of it, after an error) is drained so the
	 * writer never blocks. */
	char buf[65536];
	while (pipe_read(h, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static int sink_write(void *ctx, const void *buf, size_t len)
{
	struct diff_sink *s = ctx;
	cstor_digester_update(&s->dg, buf, len);
	s->size += len;
	const char *p = buf;
	while (s->pipe_w >= 0 && len > 0) {
		ssize_t n = write(s->pipe_w, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Layer @id looked up now: 0, -ENOENT (in no store) or another error. */
static int lookup_now(cstor_store *s, const char *id)
{
	cstor_layer *l = NULL;
	cstor_error e = CSTOR_ERROR_INIT;
	int r = cstor_store_layer(&l, s, id, &e);
	/* An ID prefix or a name could find another layer. */
	if (r == 0 && !streq(cstor_layer_id(l), id))
		r = -ENOENT;
	cstor_layer_free(l);
	cstor_error_clear(&e);
	return r;
}

/* Is layer @id no longer in any store (deleted since the copy)? */
static bool layer_gone(cstor_store *s, const char *id)
{
	return lookup_now(s, id) == -ENOENT;
}

static bool layer_exists(cstor_store *s, const char *id)
{
	return lookup_now(s, id) == 0;
}

static int check_layer_diff(struct cstor_check_report *rep, cstor_store *s,
			    struct check_layer *l, bool want_headers)
{
	const char *pre = l->ro ? "read-only " : "";
	if (strncmp(l->diff_id, "sha256:", 7) != 0 || strlen(l->diff_id) != 71)
		return check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_DIGEST, l->id,
					 l->ro, "%slayer %s: invalid recorded digest %s", pre,
					 l->id, l->diff_id);
	struct diff_sink sink = { .pipe_w = -1, .want_headers = want_headers };
	cstor_error e = CSTOR_ERROR_INIT;
	int r = cstor_digester_init(&sink.dg, CSTOR_DIGEST_SHA256, &e);
	if (r < 0) {
		cstor_error_clear(&e);
		return r;
	}
	struct header_reader hr = { .fd = -1, .err = CSTOR_ERROR_INIT };
	pthread_t th;
	bool threaded = false;
	int p[2];
	if (want_headers && pipe2(p, O_CLOEXEC) == 0) {
		hr.fd = p[0];
		sink.pipe_w = p[1];
		if (pthread_create(&th, NULL, read_headers, &hr) == 0) {
			threaded = true;
		} else {
			close(p[0]);
			close(p[1]);
			sink.pipe_w = -1;
		}
	}
	r = cstor_store_diff(s, NULL, l->id, CSTOR_DIFF_UNCOMPRESSED, sink_write, &sink, &e);
	if (threaded) {
		close(sink.pipe_w);
		pthread_join(th, NULL);
		close(hr.fd);
	}
	char got[CSTOR_DIGEST_STRING_MAX] = "";
	if (r == 0)
		r = cstor_digester_final(&sink.dg, got, &e);
	cstor_digester_done(&sink.dg);
	int q = 0;
	const char *msg = r < 0 ? cstor_error_message(&e) : NULL;
	/* Go's phrase right after the layer, where containers/storage's
	 * tests match it; where it was found follows. */
	const char *crc = msg ? strstr(msg, "file integrity checksum failed") : NULL;
	/* Deleted, or applied to, since the records were copied (no lock is
	 * held across a check, and none across the diff: it fails with
	 * ESTALE then): not a problem of the store. Found by
	 * tests/interop/test-stress-mixed.sh, which checks while others write. */
	bool gone = r == -ESTALE || (r < 0 && layer_gone(s, l->id));
	if (gone) {
		/* Neither good nor bad: the next check sees it as it is. */
	} else if (crc && crc - msg >= 2) {
		l->content_bad = true;
		q = check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_UNREADABLE, l->id,
				      l->ro, "%slayer %s: %s (%.*s)", pre, l->id, crc,
				      (int)(crc - msg - 2), msg);
	} else if (r < 0) {
		l->content_bad = true;
		q = check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_UNREADABLE, l->id,
				      l->ro, "%slayer %s: %s", pre, l->id, msg);
	} else if (!streq(got, l->diff_id)) {
		l->content_bad = true;
		q = check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_DIGEST, l->id,
				      l->ro, "%slayer %s: layer content incorrect digest", pre, l->id);
	} else if (l->diff_size >= 0 && (int64_t)sink.size != l->diff_size) {
		l->content_bad = true;
		q = check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_SIZE, l->id,
				      l->ro,
				      "%slayer %s: read %llu bytes instead of %lld bytes: layer content incorrect size",
				      pre, l->id, (unsigned long long)sink.size,
				      (long long)l->diff_size);
	} else {
		l->diff_ok = true;
		if (threaded && hr.r == 0) {
			l->hdrs = TAKE_PTR(hr.hdrs);
			l->n_hdrs = hr.n;
			hr.n = 0;
			l->have_hdrs = true;
		}
	}
	for (size_t i = 0; i < hr.n; i++) {
		free(hr.hdrs[i].name);
		free(hr.hdrs[i].link);
	}
	free(hr.hdrs);
	cstor_error_clear(&hr.err);
	cstor_error_clear(&e);
	return q;
}

/* ---- one layer's big data ------------------------------------------------ */

static int check_layer_data(struct cstor_check_report *rep, struct check_layer *l, bool quick)
{
	const char *pre = l->ro ? "read-only " : "";
	for (size_t k = 0; l->data && l->data[k]; k++) {
		const char *key = l->data[k];
		_cleanup_free_ char *file = NULL;
		if (cstor_big_data_file_name(&file, key, NULL) < 0)
			return -ENOMEM;
		_cleanup_free_ char *path = cstor_path_join(l->data_dir, file);
		if (!path)
			return -ENOMEM;
		_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		int r = 0;
		/* A kept blob is a copy of what the layer was made from: when it
		 * is lost the layer is still whole (repair forgets the blob). */
		bool blob = strncmp(key, CSTOR_KEPT_BLOB_PREFIX, strlen(CSTOR_KEPT_BLOB_PREFIX)) == 0;
		if (fd < 0 && errno == ENOENT) {
			l->other_bad |= !blob;
			if (blob && strv_append(&l->bad_blobs, key) < 0)
				return -ENOMEM;
			r = check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_DATA_MISSING,
					      l->id, l->ro,
					      "%slayer %s: data item \"%s\": layer data item is missing",
					      pre, l->id, key);
		} else if (fd < 0) {
			l->other_bad |= !blob;
			if (blob && strv_append(&l->bad_blobs, key) < 0)
				return -ENOMEM;
			r = check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_DATA_BAD,
					      l->id, l->ro, "%slayer %s: data item \"%s\": %s", pre,
					      l->id, key, strerror(errno));
		} else if (!quick && blob) {
			/* A kept blob is named by its digest: it must have it
			 * to be worth rebuilding from. */
			const char *want = key + strlen(CSTOR_KEPT_BLOB_PREFIX);
			char got[CSTOR_DIGEST_STRING_MAX];
			uint64_t size;
			if (cstor_digest_fd(got, &size, fd, NULL) < 0 || !streq(got, want)) {
				if (strv_append(&l->bad_blobs, key) < 0)
					return -ENOMEM;
				r = check_add_problem(rep, CSTOR_CHECK_LAYER,
						      CSTOR_PROBLEM_LAYER_DATA_BAD, l->id, l->ro,
						      "%slayer %s: data item \"%s\": kept blob does not have its digest",
						      pre, l->id, key);
			}
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the content walk ---------------------------------------------------- */

static int check_layer_content(struct cstor_check_report *rep, cstor_store *s,
			       struct check_layer *l)
{
	/* The expected tree needs the headers of every layer of the chain. */
	struct check_layer *chain[512];
	size_t n = 0;
	for (struct check_layer *c = l; c; c = check_find_layer(rep, c->parent)) {
		if (!c->have_hdrs || n == sizeof(chain) / sizeof(chain[0]))
			return 0;
		chain[n++] = c;
		if (!c->parent)
			break;
	}
	struct check_tree *t = NULL;
	if (check_tree_new(&t) < 0)
		return -ENOMEM;
	int r = 0;
	while (n-- > 0 && r == 0)
		r = check_tree_add_layer(t, chain[n]->hdrs, chain[n]->n_hdrs);
	if (r < 0) {
		check_tree_free(t);
		return r;
	}
	char *const ro[] = { (char *)"ro", NULL };
	cstor_mount_options mo = CSTOR_MOUNT_OPTIONS_INIT;
	mo.options = (const char *const *)ro;
	mo.description = "cstor check";
	cstor_error e = CSTOR_ERROR_INIT;
	_cleanup_free_ char *mp = NULL;
	cstor_mount_hold *hold = NULL;
	r = cstor_store_mount_hold(&hold, &mp, s, l->id, &mo, &e);
	if (r < 0) {
		/* Mounted read-write by someone else, say: nothing to
		 * compare with, and nothing wrong with the layer. */
		cstor_error_clear(&e);
		check_tree_free(t);
		return 0;
	}
	_cleanup_strv_free_ char **diffs = NULL;
	/* Owners are not compared when the driver gives up on chown errors
	 * (ignore_chown_errors): an unprivileged user's files are theirs. */
	bool owners = !l->idmapped && !(s->driver_ops->ignores_chown_errors &&
					s->driver_ops->ignores_chown_errors(s->driver));
	r = check_tree_compare(&diffs, t, mp, owners);
	check_tree_free(t);
	cstor_mount_hold_release(hold, s, &e); /* frees it */
	cstor_error_clear(&e);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_MODIFIED,
					 l->id, l->ro, "layer %s: scanning its contents: %s", l->id,
					 strerror(-r));
	for (size_t i = 0; diffs && diffs[i]; i++) {
		l->content_bad = true;
		if (check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_MODIFIED, l->id,
				      l->ro, "layer %s: %s, layer content modified", l->id,
				      diffs[i]) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- the rest ------------------------------------------------------------ */

/* Seconds since the epoch of an RFC 3339 time, or -1. */
static int64_t parse_time(const char *s)
{
	struct tm tm = { 0 };
	int n = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	int64_t t = (int64_t)timegm(&tm);
	const char *z = s + n;
	if (*z == '.')
		for (z++; *z >= '0' && *z <= '9'; z++)
			;
	int oh, om;
	if ((*z == '+' || *z == '-') && sscanf(z + 1, "%2d:%2d", &oh, &om) == 2)
		t -= (*z == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
	return t;
}

/* Mark the layers of the chain from @top as used; report those missing as
 * problems of @object @id. Returns the first damaged layer of the chain, or
 * NULL. Bounded, so a parent cycle ends. */
static int walk_chain(struct cstor_check_report *rep, const char *top, int object,
		      const char *id, bool ro, int missing_code, const char *pre,
		      const char *kind)
{
	size_t steps = 0;
	for (const char *cur = top; cur && steps <= rep->n_layers; steps++) {
		struct check_layer *l = check_find_layer(rep, cur);
		if (!l) {
			int r = object == CSTOR_CHECK_IMAGE ?
					check_add_problem(rep, object, missing_code, id, ro,
							  "%s%s %s: layer %s: image layer is missing",
							  pre, kind, id, cur) :
					check_add_problem(rep, object, missing_code, id, ro,
							  "%s %s: layer %s: container layer is missing",
							  kind, id, cur);
			return r;
		}
		l->referenced = true;
		cur = l->parent;
	}
	return 0;
}

/* The problems of the layers of a chain, repeated for the image or
 * container that uses them (containers/storage does the same). */
static int inherit(struct cstor_check_report *rep, const char *top, int object, const char *id,
		   bool ro, int code)
{
	size_t steps = 0;
	size_t n = rep->n_problems;
	for (const char *cur = top; cur && steps <= rep->n_layers; steps++) {
		struct check_layer *l = check_find_layer(rep, cur);
		if (!l)
			break;
		for (size_t i = 0; i < n; i++) {
			const struct check_problem *p = &rep->problems[i];
			if (p->p.object != CSTOR_CHECK_LAYER || !streq(p->id, l->id) ||
			    p->p.code == CSTOR_PROBLEM_LAYER_UNREFERENCED ||
			    p->p.code == CSTOR_PROBLEM_LAYER_MOUNTS)
				continue;
			/* The message is copied: the array may move. */
			_cleanup_free_ char *msg = strdup(p->msg);
			if (!msg || check_add_problem(rep, object, code, id, ro, "%s", msg) < 0)
				return -ENOMEM;
		}
		cur = l->parent;
	}
	return 0;
}

static int check_cycles(struct cstor_check_report *rep)
{
	for (size_t i = 0; i < rep->n_layers; i++) {
		struct check_layer *l = &rep->layers[i];
		const char *cur = l->parent;
		size_t steps = 0;
		if (l->shadowed)
			continue;
		while (cur && steps++ <= rep->n_layers) {
			if (streq(cur, l->id)) {
				l->other_bad = true;
				if (check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_CYCLE,
						      l->id, l->ro,
						      "%slayer %s: its parents lead back to it (a cycle)",
						      l->ro ? "read-only " : "", l->id) < 0)
					return -ENOMEM;
				break;
			}
			struct check_layer *p = check_find_layer(rep, cur);
			if (!p) {
				if (cur == l->parent) {
					l->other_bad = true;
					if (check_add_problem(rep, CSTOR_CHECK_LAYER,
							      CSTOR_PROBLEM_LAYER_PARENT_MISSING,
							      l->id, l->ro,
							      "%slayer %s: layer is missing",
							      l->ro ? "read-only " : "", cur) < 0)
						return -ENOMEM;
				}
				break;
			}
			cur = p->parent;
		}
	}
	return 0;
}

static int check_mount_records(struct cstor_check_report *rep, cstor_store *s,
			       cstor_error *err)
{
	/* Listing a layer reconciles its mount state (mount/reconcile.c),
	 * so what is left to find is records of layers that do not exist:
	 * those are never mounted from, and never unmounted either (their
	 * path is not trusted). */
	int r = cstor_mounts_start(s->mounts, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	_cleanup_strv_free_ char **orphans = NULL;
	for (size_t i = 0; i < s->mounts->n && r == 0; i++) {
		const struct cstor_mount_rec *m = &s->mounts->recs[i];
		if (!check_find_layer(rep, m->id))
			r = strv_append(&orphans, m->id);
	}
	cstor_mounts_done(s->mounts);
	/* A layer made (and mounted) since the records were copied is
	 * looked up now, with the mount state let go (it comes after the
	 * layer store in the lock order). */
	for (size_t i = 0; r == 0 && orphans && orphans[i]; i++)
		if (!layer_exists(s, orphans[i]))
			r = check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_MOUNTS,
					      orphans[i], false,
					      "layer %s: mountpoints.json has a record of it, but no such layer exists",
					      orphans[i]);
	return OOM(r);
}

static int check_journals(struct cstor_check_report *rep, cstor_store *s, cstor_error *err)
{
	struct cstor_pending_dead *d = NULL;
	size_t n = 0;
	int r = cstor_pending_scan(&d, &n, s->layers_dir, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		r = strv_append(&rep->journals, d[i].file);
		for (size_t k = 0; r == 0 && d[i].ids && d[i].ids[k]; k++) {
			struct check_layer *l = check_find_layer(rep, d[i].ids[k]);
			if (!l || l->ro || l->leftover)
				continue;
			l->leftover = true;
		}
	}
	cstor_pending_dead_free(d, n);
	return OOM(r);
}

int cstor_store_check(cstor_check_report **out, cstor_store *s, const cstor_check_options *o,
		      cstor_error *err)
{
	*out = NULL;
	if (o && o->version != CSTOR_CHECK_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_check_options version");
	cstor_check_options defaults = CSTOR_CHECK_OPTIONS_INIT;
	if (!o)
		o = &defaults;
	bool quick = o->flags & CSTOR_CHECK_QUICK;
	int64_t max_age = o->max_unreferenced_age < 0 ? 24 * 3600 : o->max_unreferenced_age;

	struct cstor_check_report *rep = calloc(1, sizeof(*rep));
	if (!rep)
		return cstor_error_set(err, ENOMEM, "out of memory");
	/* Images and containers are copied (and their data checked) before
	 * the layers are looked at: a layer an image uses is not unused. */
	_cleanup_strv_free_ char **dirs = NULL;
	int r = copy_records(rep, &dirs, s, err);
	if (r == 0)
		r = check_journals(rep, s, err);

	/* Layers. */
	for (size_t i = 0; r == 0 && i < rep->n_layers; i++) {
		struct check_layer *l = &rep->layers[i];
		const char *pre = l->ro ? "read-only " : "";
		if (l->busy)
			continue; /* an apply is running: nothing to say yet */
		if (l->shadowed) {
			r = OOM(check_layer_data(rep, l, quick));
			continue;
		}
		if (l->incomplete) {
			static const char *const why[] = {
				[CSTOR_LAYER_INCOMPLETE_APPLY] = "an apply into it was interrupted",
				[CSTOR_LAYER_INCOMPLETE_REMOVING] = "its creation or removal was interrupted",
				[CSTOR_LAYER_INCOMPLETE_CREATING] = "its import was interrupted",
			};
			l->content_bad = l->incomplete == CSTOR_LAYER_INCOMPLETE_APPLY;
			l->other_bad = !l->content_bad;
			r = OOM(check_add_problem(rep, CSTOR_CHECK_LAYER,
						  CSTOR_PROBLEM_LAYER_INCOMPLETE, l->id, l->ro,
						  "%slayer %s: %s", pre, l->id,
						  why[l->incomplete]));
			continue;
		}
		size_t before = rep->n_problems;
		r = OOM(check_layer_data(rep, l, quick));
		if (r == 0 && l->diff_id)
			r = OOM(check_layer_diff(rep, s, l, !quick && !l->ro));
		if (r == 0 && rep->n_problems > before && !l->ro && layer_gone(s, l->id))
			drop_problems(rep, before, l);
	}
	if (r == 0)
		r = OOM(check_cycles(rep));
	/* The content walk, for the primary store's image layers, parents
	 * first: a child shows its parents' files, so a child of a damaged
	 * layer is not blamed for its parent's damage. */
	for (size_t d = 0; r == 0 && !quick && d <= rep->n_layers; d++) {
		bool deeper = false;
		for (size_t i = 0; r == 0 && i < rep->n_layers; i++) {
			struct check_layer *l = &rep->layers[i];
			size_t ld = 0;
			bool parent_bad = false;
			for (struct check_layer *p = check_find_layer(rep, l->parent);
			     p && ld <= rep->n_layers; p = check_find_layer(rep, p->parent)) {
				ld++;
				parent_bad |= p->content_bad;
			}
			deeper |= ld > d;
			if (ld == d && !l->ro && !l->shadowed && l->diff_ok && !l->busy && !parent_bad) {
				size_t before = rep->n_problems;
				r = OOM(check_layer_content(rep, s, l));
				if (r == 0 && rep->n_problems > before && layer_gone(s, l->id))
					drop_problems(rep, before, l);
			}
		}
		if (!deeper)
			break;
	}
	/* What the store's driver has that no record owns. */
	if (r == 0 && s->driver_ops->list) {
		for (size_t i = 0; r == 0 && dirs && dirs[i]; i++) {
			struct check_layer *l = check_find_layer(rep, dirs[i]);
			if (l && !l->ro)
				continue;
			r = strv_append(&rep->unaccounted, dirs[i]);
			if (r == 0)
				r = check_add_problem(rep, CSTOR_CHECK_LAYER,
						      CSTOR_PROBLEM_LAYER_UNACCOUNTED, dirs[i], false,
						      "layer %s: layer in lower level storage driver not accounted for",
						      dirs[i]);
			r = OOM(r);
		}
	}
	if (r == 0)
		r = check_mount_records(rep, s, err);

	/* Images. */
	for (size_t i = 0; r == 0 && i < rep->n_images; i++) {
		const struct check_image *im = &rep->images[i];
		const char *pre = im->ro ? "read-only " : "";
		for (size_t k = 0; r == 0 && im->layers && im->layers[k]; k++) {
			r = walk_chain(rep, im->layers[k], CSTOR_CHECK_IMAGE, im->id, im->ro,
				       CSTOR_PROBLEM_IMAGE_LAYER_MISSING, pre, "image");
			if (r == 0)
				r = inherit(rep, im->layers[k], CSTOR_CHECK_IMAGE, im->id, im->ro,
					    CSTOR_PROBLEM_IMAGE_LAYER_DAMAGED);
		}
		r = OOM(r);
	}
	/* Containers. */
	for (size_t i = 0; r == 0 && i < rep->n_containers; i++) {
		const struct check_container *c = &rep->containers[i];
		const struct check_image *im = find_image(rep, c->image);
		if (c->image && !im)
			r = check_add_problem(rep, CSTOR_CHECK_CONTAINER,
					      CSTOR_PROBLEM_CONTAINER_IMAGE_MISSING, c->id, false,
					      "container %s: image %s: image missing", c->id,
					      c->image);
		size_t n = rep->n_problems;
		for (size_t k = 0; r == 0 && im && k < n; k++) {
			const struct check_problem *p = &rep->problems[k];
			if (p->p.object != CSTOR_CHECK_IMAGE || !streq(p->id, im->id))
				continue;
			_cleanup_free_ char *msg = strdup(p->msg);
			r = msg ? check_add_problem(rep, CSTOR_CHECK_CONTAINER,
						    CSTOR_PROBLEM_CONTAINER_IMAGE_DAMAGED, c->id,
						    false, "%s", msg) :
				  -ENOMEM;
		}
		if (r == 0 && c->layer)
			r = walk_chain(rep, c->layer, CSTOR_CHECK_CONTAINER, c->id, false,
				       CSTOR_PROBLEM_CONTAINER_LAYER_MISSING, "", "container");
		r = OOM(r);
	}
	/* Layers nothing uses: leftovers of dead writers at once, others
	 * once they are old enough not to be an import in progress. */
	time_t now = time(NULL);
	for (size_t i = 0; r == 0 && i < rep->n_layers; i++) {
		struct check_layer *l = &rep->layers[i];
		if (l->ro || l->shadowed || l->referenced || l->busy)
			continue;
		/* A parent of a used layer was marked by the walks. */
		if (l->leftover) {
			l->unused = true;
			r = check_add_problem(rep, CSTOR_CHECK_LAYER, CSTOR_PROBLEM_LAYER_LEFTOVER,
					      l->id, false,
					      "layer %s: left by an interrupted import or image delete, not referenced by any images or containers",
					      l->id);
		} else {
			int64_t t = parse_time(l->created);
			l->unused = t < 0 || t + max_age <= (int64_t)now;
			if (l->unused)
				r = check_add_problem(rep, CSTOR_CHECK_LAYER,
						      CSTOR_PROBLEM_LAYER_UNREFERENCED, l->id, false,
						      "layer %s: layer not referenced by any images or containers",
						      l->id);
		}
		r = OOM(r);
	}
	if (r < 0) {
		cstor_check_report_free(rep);
		return r;
	}
	*out = rep;
	return 0;
}
