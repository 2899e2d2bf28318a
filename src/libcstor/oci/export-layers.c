/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer blobs of an export. Each manifest layer comes, in order of
 * preference, from the original blob kept next to the layer, from the
 * layer's tar-split when the blob is the uncompressed tarball, or else from
 * the uncompressed tarball gzipped anew, which changes the blob's digest and
 * so the manifest. Whatever the source, the blob's digest is checked: the
 * kept or uncompressed blob against the manifest, a recompressed one's
 * content against the config's DiffID, so a rewritten manifest still
 * matches the unchanged config.
 *
 * A push may ask for a compression (gzip or zstd, at a level): layers
 * without a kept blob are written with it, and so are those whose kept
 * blob has another compression, or is the uncompressed tarball. Those
 * layers are compressed by a few threads at once before the others are
 * copied (each thread its own layer, into a blob file of its own).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "archive/compress.h"
#include "util/error-internal.h"
#include "oci/export-internal.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define OCI_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define DOCKER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define DOCKER_FOREIGN_GZIP "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define OCI_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define OCI_ND_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

static bool cancelled(const struct cstor_export_image *x)
{
	return x->cancel && *x->cancel;
}

/* Copy the kept original blob. */
static int from_kept_blob(struct cstor_export_image *x, struct cstor_export_layout *l,
			  const char *id, const char *key, const char *digest, int64_t size,
			  cstor_error *err)
{
	_cleanup_close_ int fd = -1;
	int r = cstor_export_open_layer_data(&fd, x->store, id, key, err);
	if (r < 0)
		return r;
	struct cstor_export_blob b;
	if ((r = cstor_export_blob_begin(&b, l, &x->progress, err)) < 0)
		return r;
	if ((r = cstor_export_blob_copy_fd(&b, fd, err)) < 0) {
		cstor_export_blob_abort(&b);
		return r;
	}
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "kept blob %s of layer %s", digest, id) < 0) {
		cstor_export_blob_abort(&b);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return cstor_export_blob_commit(&b, digest, size, NULL, what, err);
}

/* The uncompressed tarball, reassembled from the layer's tar-split. */
static int from_diff(struct cstor_export_image *x, struct cstor_export_layout *l, const char *id,
		     const char *digest, int64_t size, cstor_error *err)
{
	struct cstor_export_blob b;
	int r = cstor_export_blob_begin(&b, l, &x->progress, err);
	if (r < 0)
		return r;
	if ((r = cstor_store_diff(x->store, NULL, id, CSTOR_DIFF_UNCOMPRESSED,
				  cstor_export_blob_write, &b, err)) < 0) {
		cstor_export_blob_abort(&b);
		return r;
	}
	_cleanup_free_ char *what = NULL;
	if (asprintf(&what, "uncompressed tarball of layer %s", id) < 0) {
		cstor_export_blob_abort(&b);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return cstor_export_blob_commit(&b, digest, size, NULL, what, err);
}

struct recompress {
	cstor_compressor *c;
	cstor_digester dg; /* of the uncompressed stream: the DiffID */
	cstor_error cerr;  /* why the compressor failed, which the diff cannot say */
	const struct cstor_export_image *x;
};

static int recompress_write(void *ctx, const void *buf, size_t len)
{
	struct recompress *rc = ctx;
	if (cancelled(rc->x))
		return cstor_error_set(&rc->cerr, ECANCELED, "cancelled");
	cstor_digester_update(&rc->dg, buf, len);
	return cstor_compressor_write(rc->c, buf, len, &rc->cerr);
}

static cstor_compression compression_of(const struct cstor_export_image *x)
{
	return x->compression ? (cstor_compression)x->compression : CSTOR_COMPRESSION_GZIP;
}

static int recompress_run(struct recompress *rc, struct cstor_export_image *x,
			  struct cstor_export_blob *b, const char *id, const char *diff_id,
			  cstor_error *err)
{
	rc->x = x;
	int r = cstor_compressor_new(&rc->c, compression_of(x), x->level,
				     cstor_export_blob_write, b, err);
	if (r < 0 || (r = cstor_digester_init(&rc->dg, CSTOR_DIGEST_SHA256, err)) < 0)
		return r;
	r = cstor_store_diff(x->store, NULL, id, CSTOR_DIFF_UNCOMPRESSED, recompress_write, rc, err);
	if (r == 0)
		r = cstor_compressor_finish(rc->c, &rc->cerr);
	if (r < 0) {
		if (rc->cerr.code)
			cstor_error_move(err, &rc->cerr);
		return cstor_error_wrap(err, r, "compress layer %s", id);
	}
	char d[CSTOR_DIGEST_STRING_MAX];
	if ((r = cstor_digester_final(&rc->dg, d, err)) < 0)
		return r;
	if (diff_id && !streq(d, diff_id))
		return cstor_error_set(err, EBADMSG,
				       "layer %s: its content has digest %s, the image's config "
				       "says %s",
				       id, d, diff_id);
	return 0;
}

/* Drop what described the old compressed blob (zstd:chunked and estargz
 * tables of contents). */
static void drop_compression_annotations(json_t *desc)
{
	json_t *ann = json_object_get(desc, "annotations");
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(ann, tmp, k, v)
	{
		if (startswith(k, "io.github.containers.zstd-chunked.") ||
		    startswith(k, "containerd.io/snapshot/stargz/"))
			json_object_del(ann, k);
	}
	if (ann && json_object_size(ann) == 0)
		json_object_del(desc, "annotations");
}

static const char *gzip_media_type(const struct cstor_export_image *x, const char *old)
{
	if (x->docker)
		return old && streq(old, DOCKER_FOREIGN_GZIP) ? old : DOCKER_GZIP;
	return old && strstr(old, ".nondistributable.") ? OCI_ND_GZIP : OCI_GZIP;
}

static const char *layer_media_type(const struct cstor_export_image *x, const char *old)
{
	if (compression_of(x) != CSTOR_COMPRESSION_ZSTD)
		return gzip_media_type(x, old);
	/* Docker schema 2 has no zstd type: such a manifest is converted
	 * to OCI after the layers, with types by the blobs' compression. */
	if (x->docker)
		return old ? old : DOCKER_GZIP;
	return old && strstr(old, ".nondistributable.") ? OCI_ND_ZSTD : OCI_ZSTD;
}

/* Compress layer @id anew into a blob of @l: its digest and size. @mu,
 * when given, is held while the blob is committed (threads share @l). */
static int compress_layer(struct cstor_export_image *x, struct cstor_export_layout *l,
			  const char *id, const char *diff_id, struct cstor_export_progress *pr,
			  pthread_mutex_t *mu, char digest[static CSTOR_DIGEST_STRING_MAX],
			  uint64_t *size, cstor_error *err)
{
	struct cstor_export_blob b;
	int r = cstor_export_blob_begin(&b, l, pr, err);
	if (r < 0)
		return r;
	struct recompress rc = { 0 };
	r = recompress_run(&rc, x, &b, id, diff_id, err);
	cstor_compressor_free(rc.c);
	cstor_digester_done(&rc.dg);
	cstor_error_clear(&rc.cerr);
	if (r < 0) {
		cstor_export_blob_abort(&b);
		return r;
	}
	*size = b.size;
	if (mu)
		pthread_mutex_lock(mu);
	r = cstor_export_blob_commit(&b, NULL, -1, digest, "recompressed layer", err);
	if (mu)
		pthread_mutex_unlock(mu);
	return r;
}

/* Point descriptor @desc at the blob a layer was compressed anew into. */
static int rewrite_desc(struct cstor_export_image *x, json_t *desc, const char *digest,
			uint64_t size, cstor_error *err)
{
	/* gzip of the same tarball at the same level can give the very blob. */
	const char *old = json_string_value(json_object_get(desc, "digest"));
	if (old && streq(old, digest))
		return 0;
	const char *mt = layer_media_type(x, json_string_value(json_object_get(desc, "mediaType")));
	drop_compression_annotations(desc);
	if (json_object_set_new(desc, "mediaType", json_string(mt)) < 0 ||
	    json_object_set_new(desc, "digest", json_string(digest)) < 0 ||
	    json_object_set_new(desc, "size", json_integer((json_int_t)size)) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	x->rewritten = true;
	return 0;
}

/* Compress the layer anew and point descriptor @desc at the new blob. */
static int recompressed(struct cstor_export_image *x, struct cstor_export_layout *l,
			json_t *desc, const char *id, const char *diff_id, cstor_error *err)
{
	char digest[CSTOR_DIGEST_STRING_MAX];
	uint64_t size = 0;
	int r = compress_layer(x, l, id, diff_id, &x->progress, NULL, digest, &size, err);
	return r < 0 ? r : rewrite_desc(x, desc, digest, size, err);
}

/* A layer compressed ahead by a thread of the pool. */
struct job {
	size_t index;
	char digest[CSTOR_DIGEST_STRING_MAX];
	uint64_t size;
	int r;
	cstor_error err;
};

struct pool {
	struct cstor_export_image *x;
	struct cstor_export_layout *l;
	struct job *jobs;
	size_t n;
	pthread_mutex_t mu; /* next, failed, and the layout's list of new blobs */
	size_t next;
	bool failed;
};

static const char *diff_id_of(const struct cstor_export_image *x, size_t i)
{
	const char *d = x->diff_ids ? json_string_value(json_array_get(x->diff_ids, i)) : NULL;
	return d ? d : cstor_layer_uncompressed_digest(x->layers[i]);
}

static void *pool_main(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		size_t k = p->next++;
		bool stop = p->failed;
		pthread_mutex_unlock(&p->mu);
		if (k >= p->n || stop)
			break;
		struct job *j = &p->jobs[k];
		j->r = compress_layer(p->x, p->l, cstor_layer_id(p->x->layers[j->index]),
				      diff_id_of(p->x, j->index), NULL, &p->mu, j->digest,
				      &j->size, &j->err);
		if (j->r < 0) {
			pthread_mutex_lock(&p->mu);
			p->failed = true;
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

/* Whether layer @i is written anew, compressed: it has no kept blob and
 * is not uncompressed (as without a compression asked for), or the kept
 * blob (or the uncompressed tarball) is not in the compression asked for. */
static bool needs_compression(const struct cstor_export_image *x, size_t i)
{
	json_t *desc = json_array_get(json_object_get(x->manifest, "layers"), i);
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	const cstor_layer *layer = x->layers[i];
	const char *ud = cstor_layer_uncompressed_digest(layer);
	char key[CSTOR_DIGEST_STRING_MAX + 64];
	snprintf(key, sizeof(key), "%s%s", CSTOR_KEPT_BLOB_PREFIX, digest ? digest : "");
	bool kept = strv_contains((char *const *)cstor_layer_big_data_names(layer), key);
	bool plain = ud && digest && streq(ud, digest);
	if (!kept && !plain)
		return true;
	if (!x->force_compression)
		return false;
	return plain || cstor_layer_compression(layer) != x->compression;
}

static int export_layer(struct cstor_export_image *x, struct cstor_export_layout *l, size_t i,
			const struct job *ahead, cstor_error *err)
{
	json_t *desc = json_array_get(json_object_get(x->manifest, "layers"), i);
	/* Copied: a rewrite replaces the string in @desc. */
	_cleanup_free_ char *digest = strdup(json_string_value(json_object_get(desc, "digest")));
	int64_t size = json_integer_value(json_object_get(desc, "size"));
	const cstor_layer *layer = x->layers[i];
	const char *id = cstor_layer_id(layer);
	const char *ud = cstor_layer_uncompressed_digest(layer);
	const char *diff_id = x->diff_ids ? json_string_value(json_array_get(x->diff_ids, i)) : NULL;
	_cleanup_free_ char *key = NULL;
	if (!digest || asprintf(&key, "%s%s", CSTOR_KEPT_BLOB_PREFIX, digest) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (diff_id && ud && !streq(diff_id, ud))
		return cstor_error_set(err, EBADMSG,
				       "layer %zu of the image (%s) has DiffID %s, its config says %s",
				       i + 1, id, ud, diff_id);

	struct cstor_export_progress *pr = &x->progress;
	uint64_t base = pr->p.bytes_done;
	pr->p.layer = (unsigned)i;
	pr->p.digest = digest;
	pr->p.layer_done = 0;
	pr->p.layer_total = (uint64_t)size;
	pr->p.reused = 0;
	pr->reported = 0;

	bool kept = strv_contains((char *const *)cstor_layer_big_data_names(layer), key);
	bool anew = needs_compression(x, i);
	int r = 0;
	if (ahead)
		r = rewrite_desc(x, desc, ahead->digest, ahead->size, err);
	else if (anew)
		r = recompressed(x, l, desc, id, diff_id ? diff_id : ud, err);
	else if ((kept || (ud && streq(ud, digest))) && cstor_export_layout_has_blob(l, digest, size))
		pr->p.reused = 1;
	else if (kept)
		r = from_kept_blob(x, l, id, key, digest, size, err);
	else if (ud && streq(ud, digest))
		r = from_diff(x, l, id, digest, size, err);
	else
		r = recompressed(x, l, desc, id, diff_id ? diff_id : ud, err);
	if (r < 0)
		return r;
	/* Totals count manifest sizes, whatever a recompression wrote. */
	pr->p.layer_done = (uint64_t)size;
	pr->p.bytes_done = base + (uint64_t)size;
	cstor_export_progress_finish(pr);
	pr->p.digest = NULL;
	return 0;
}

/* Compress the layers that need it, up to x->parallel at once: their
 * results in *jobs_out (one per such layer, in order). Nothing is done
 * ahead for fewer than two such layers or one thread. */
static int compress_ahead(struct job **jobs_out, size_t *n_out, struct cstor_export_image *x,
			  struct cstor_export_layout *l, cstor_error *err)
{
	*jobs_out = NULL;
	*n_out = 0;
	size_t n = 0;
	for (size_t i = 0; i < x->n_layers; i++)
		n += needs_compression(x, i);
	if (x->parallel < 2 || n < 2)
		return 0;
	struct pool p = { .x = x, .l = l, .n = n, .jobs = calloc(n, sizeof(struct job)) };
	if (!p.jobs)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0, k = 0; i < x->n_layers; i++)
		if (needs_compression(x, i))
			p.jobs[k++] = (struct job){ .index = i, .err = CSTOR_ERROR_INIT };
	pthread_mutex_init(&p.mu, NULL);
	pthread_t th[64];
	size_t nt = x->parallel < n ? x->parallel : n, started = 0;
	if (nt > 64)
		nt = 64;
	for (; started < nt; started++)
		if (pthread_create(&th[started], NULL, pool_main, &p) != 0)
			break;
	if (started == 0)
		pool_main(&p); /* no thread to be had: this one does it all */
	for (size_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&p.mu);
	/* The first failure is reported; jobs it stopped have no blob, and
	 * the export fails. */
	int r = 0;
	for (size_t k = 0; k < n; k++) {
		if (r == 0 && p.jobs[k].r < 0) {
			r = p.jobs[k].r;
			cstor_error_move(err, &p.jobs[k].err);
			cstor_error_wrap(err, r, "compress layer %s",
					 cstor_layer_id(x->layers[p.jobs[k].index]));
		}
		cstor_error_clear(&p.jobs[k].err);
	}
	if (r < 0) {
		free(p.jobs);
		return r;
	}
	*jobs_out = p.jobs;
	*n_out = n;
	return 0;
}

int cstor_export_layers(struct cstor_export_image *x, struct cstor_export_layout *l,
			cstor_error *err)
{
	x->progress.p.n_layers = (unsigned)x->n_layers;
	x->progress.p.bytes_done = 0;
	x->progress.p.bytes_total = 0;
	json_t *layers = json_object_get(x->manifest, "layers");
	for (size_t i = 0; i < x->n_layers; i++)
		x->progress.p.bytes_total +=
			(uint64_t)json_integer_value(json_object_get(json_array_get(layers, i), "size"));
	struct job *jobs = NULL;
	size_t nj = 0, k = 0;
	int r = compress_ahead(&jobs, &nj, x, l, err);
	for (size_t i = 0; r == 0 && i < x->n_layers; i++) {
		if (cancelled(x)) {
			r = cstor_error_set(err, ECANCELED, "cancelled");
			break;
		}
		const struct job *ahead = k < nj && jobs[k].index == i ? &jobs[k++] : NULL;
		r = export_layer(x, l, i, ahead, err);
	}
	free(jobs);
	return r;
}
