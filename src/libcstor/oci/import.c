/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image import (include/cstor/transfer.h): layers first, base to top, each
 * either found under its chain ID or created and applied straight from the
 * source (no temporary copy of the blob: directory blobs and tarball members
 * are read in place); then the image record with its big data, as
 * containers/image's storage destination writes them.
 *
 * Atomicity: a layer is created flagged and only marked complete after its
 * blob and DiffID digests checked out (cstor_layer_import with
 * expectations), so a mismatching blob never becomes a usable layer. When
 * anything fails, the layers this import created are deleted again, newest
 * first, and an image record this import created is deleted too; what was
 * in the store before is left as it was. If the process dies half-way, the
 * layer being applied is removed by the next writer (it is still flagged);
 * complete layers without an image stay, as they do after an interrupted
 * skopeo copy, and are reused by the next import.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cstor/image.h>
#include <cstor/layer.h>
#include <cstor/registry.h>
#include <cstor/transfer.h>

#include "archive/compress.h"
#include "archive/digest.h"
#include "util/error-internal.h"
#include "records/layer-rec.h"
#include "oci/import.h"
#include "oci/manifest.h"
#include "oci/refname.h"
#include "oci/source.h"
#include "oci/transports.h"
#include "records/pending.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/macro.h"
#include "util/strv.h"
#include "util/failpoint.h"

enum src_kind { SRC_AUTO, SRC_OCI, SRC_OCI_ARCHIVE, SRC_DOCKER_ARCHIVE };

/* "transport:path[:ref]"; a path holding ':' needs the transport prefix
 * and cannot carry a ref (as with containers/image, the first ':' after
 * the path ends it). */
static int parse_source(enum src_kind *kind, char **path, char **ref, const char *source,
			cstor_error *err)
{
	static const struct {
		const char *prefix;
		enum src_kind kind;
	} t[] = {
		{ "oci:", SRC_OCI },
		{ "oci-archive:", SRC_OCI_ARCHIVE },
		{ "docker-archive:", SRC_DOCKER_ARCHIVE },
	};
	*kind = SRC_AUTO;
	const char *rest = source;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strncmp(source, t[i].prefix, strlen(t[i].prefix)) == 0) {
			*kind = t[i].kind;
			rest = source + strlen(t[i].prefix);
		}
	const char *colon = *kind == SRC_AUTO ? NULL : strchr(rest, ':');
	*path = colon ? strndup(rest, (size_t)(colon - rest)) : strdup(rest);
	*ref = colon && colon[1] ? strdup(colon + 1) : NULL;
	if (!*path || (colon && colon[1] && !*ref))
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (!(*path)[0])
		return cstor_error_set(err, EINVAL,
				       "import: \"%s\": no path (oci:DIR[:REF], oci-archive:FILE[:REF], "
				       "docker-archive:FILE[:REF])",
				       source);
	return 0;
}

struct reader {
	struct cstor_oci_member m;
	cstor_decompressor *d; /* docker-archive member that is compressed */
	cstor_error derr;
	const cstor_import_options *o;
	cstor_progress *pr;
	uint64_t last_report;
};

static long reader_read(void *ctx, void *buf, size_t len)
{
	struct reader *rd = ctx;
	uint64_t before = rd->m.left;
	ssize_t n = rd->d ? cstor_decompressor_read(rd->d, buf, len, &rd->derr)
			  : cstor_oci_member_read(&rd->m, buf, len);
	if (n > 0 && rd->o->progress) {
		uint64_t used = before - rd->m.left;
		rd->pr->layer_done += used;
		rd->pr->bytes_done += used;
		if (rd->pr->layer_done - rd->last_report >= 65536) {
			rd->last_report = rd->pr->layer_done;
			rd->o->progress(rd->o->progress_ctx, rd->pr);
		}
	}
	return n;
}

static bool member_compressed(struct cstor_oci_member *m)
{
	unsigned char magic[CSTOR_COMPRESSION_MAGIC_MAX];
	ssize_t n = cstor_oci_member_peek(m, magic, sizeof(magic));
	return n > 0 && cstor_compression_detect(magic, (size_t)n) != CSTOR_COMPRESSION_NONE;
}

static int chain_id(char out[65], const char *parent, const char *diff_id, cstor_error *err)
{
	const char *hex = diff_id + strlen("sha256:");
	if (!parent) {
		snprintf(out, 65, "%.64s", hex);
		return 0;
	}
	_cleanup_free_ char *s = NULL;
	if (asprintf(&s, "%s+%s", parent, hex) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	char d[CSTOR_DIGEST_STRING_MAX];
	int r = cstor_digest_buffer(d, s, strlen(s), err);
	if (r < 0)
		return r;
	snprintf(out, 65, "%.64s", d + strlen("sha256:"));
	return 0;
}

/* How often an import starts again when what it reused vanished. */
#define MAX_VANISHED_RETRIES 5

enum layer_state { LAYER_ABSENT, LAYER_COMPLETE, LAYER_BEING_MADE, LAYER_DEAD };

/* Is layer @id there, and complete? An incomplete one is LAYER_BEING_MADE
 * while another process holds its apply lock, else LAYER_DEAD: what an
 * interrupted import leaves (the next writer removes it, so creating it
 * again works) or an interrupted applydiff (which only its owner can
 * finish or delete). */
static int layer_state(enum layer_state *st, cstor_store *s, const char *id, cstor_error *err)
{
	cstor_layer *l = NULL;
	cstor_error e = CSTOR_ERROR_INIT;
	int r = cstor_store_layer(&l, s, id, &e);
	*st = LAYER_ABSENT;
	if (r == -ENOENT || (r == 0 && !streq(cstor_layer_id(l), id))) {
		cstor_error_clear(&e);
		cstor_layer_free(l);
		return 0;
	}
	if (r < 0) {
		cstor_error_move(err, &e);
		return r;
	}
	bool incomplete = cstor_layer_incomplete(l);
	cstor_layer_free(l);
	if (!incomplete)
		*st = LAYER_COMPLETE;
	else
		*st = cstor_apply_in_progress(s->run_layers_dir, id) ? LAYER_BEING_MADE : LAYER_DEAD;
	return 0;
}

static void nap(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* *src_fail: the failure was the source's (its blob), not the store's. */
static int import_layer(bool *src_fail, cstor_store *s, struct cstor_oci_src *src,
			const struct cstor_oci_layer *l, const char *id, const char *parent,
			const cstor_import_options *o, cstor_progress *pr, cstor_error *err)
{
	struct reader rd = { .derr = CSTOR_ERROR_INIT, .o = o, .pr = pr };
	int r = cstor_oci_src_open_member(&rd.m, src, l->member, err);
	*src_fail = r < 0;
	if (r < 0)
		return r;
	off_t start = rd.m.off;
	bool compressed = member_compressed(&rd.m);
	if (rd.m.serr.code) {
		/* A streamed blob that failed at its first bytes. */
		r = -rd.m.serr.code;
		cstor_error_move(err, &rd.m.serr);
		goto out;
	}
	if (!l->decompress && rd.m.size != l->size) {
		r = cstor_error_set(err, EBADMSG,
				    "blob %s: size mismatch: the manifest says %llu, the blob has %llu",
				    l->digest, (unsigned long long)l->size,
				    (unsigned long long)rd.m.size);
		goto out;
	}
	if (l->decompress && compressed &&
	    (r = cstor_decompressor_new(&rd.d, cstor_oci_member_read, &rd.m, 0, err)) < 0)
		goto out;
	cstor_layer_options lo = CSTOR_LAYER_OPTIONS_INIT;
	lo.id = id;
	lo.parent = parent;
	struct cstor_apply_expect ex = { l->digest, l->diff_id };
	r = cstor_layer_import(NULL, s, &lo, &ex, reader_read, &rd, err);
	*src_fail = r < 0 && (rd.derr.code || rd.m.serr.code);
	if (r < 0 && rd.derr.code)
		cstor_error_move(err, &rd.derr);
	else if (r < 0 && rd.m.serr.code) {
		/* The network's words (which blob, what broke) say more. */
		cstor_error_clear(err);
		r = -rd.m.serr.code;
		cstor_error_move(err, &rd.m.serr);
	}
	if (r < 0)
		goto out;
	if (compressed && !l->decompress && !(o->flags & CSTOR_IMPORT_NO_KEEP_BLOBS) &&
	    rd.m.fd >= 0) {
		_cleanup_free_ char *key = NULL;
		if (asprintf(&key, "%s%s", CSTOR_KEPT_BLOB_PREFIX, l->digest) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		else
			r = cstor_layer_set_big_data_fd(s, id, key, rd.m.fd, start, rd.m.size, err);
		if (r < 0) {
			cstor_error e = CSTOR_ERROR_INIT;
			cstor_store_delete_layer(s, id, &e);
			cstor_error_clear(&e);
		}
	}
out:
	cstor_decompressor_free(rd.d);
	cstor_error_clear(&rd.derr);
	cstor_oci_member_close(&rd.m);
	return r;
}

static void rollback(cstor_store *s, char **created)
{
	size_t n = strv_length(created);
	while (n-- > 0) {
		cstor_error e = CSTOR_ERROR_INIT;
		cstor_store_delete_layer(s, created[n], &e);
		cstor_error_clear(&e);
	}
}

/* The image record and its big data, as containers/image's Commit. */
static int store_image(bool *created_image, cstor_store *s, const struct cstor_oci_image *img,
		       const char *image_id, const char *top, char *const *names, cstor_error *err)
{
	_cleanup_free_ char *created = img->created ? cstor_time_normalize(img->created) : NULL;
	cstor_image_options io = CSTOR_IMAGE_OPTIONS_INIT;
	io.id = image_id;
	io.top_layer = top;
	io.created = created;
	cstor_error e = CSTOR_ERROR_INIT;
	int r = cstor_store_create_image(NULL, s, &io, &e);
	*created_image = r == 0;
	if (r == -EEXIST) {
		cstor_error_clear(&e);
		cstor_image *old = NULL;
		if ((r = cstor_store_image(&old, s, image_id, err)) < 0)
			return r;
		const char *t = cstor_image_top_layer(old);
		bool same = streq_ptr(t && t[0] ? t : NULL, top);
		cstor_image_free(old);
		if (!same)
			return cstor_error_set(err, EEXIST,
					       "image %s already exists with a different top layer",
					       image_id);
	} else if (r < 0) {
		cstor_error_move(err, &e);
		return r;
	}
	if ((r = cstor_failpoint_err(err, "import:after-image-record", NULL,
				     "store the image's manifest and config")) < 0)
		return r;
	char key[CSTOR_DIGEST_STRING_MAX + 16];
	if ((r = cstor_image_set_big_data(s, image_id, img->config_digest, img->config,
					  img->config_len, NULL, err)) < 0)
		return r;
	if (img->toplevel) {
		snprintf(key, sizeof(key), "manifest-%s", img->toplevel_digest);
		if ((r = cstor_image_set_big_data(s, image_id, key, img->toplevel, img->toplevel_len,
						  img->toplevel_digest, err)) < 0)
			return r;
	}
	snprintf(key, sizeof(key), "manifest-%s", img->manifest_digest);
	if ((r = cstor_image_set_big_data(s, image_id, key, img->manifest, img->manifest_len,
					  img->manifest_digest, err)) < 0 ||
	    (r = cstor_image_set_big_data(s, image_id, "manifest", img->manifest, img->manifest_len,
					  img->manifest_digest, err)) < 0)
		return r;
	snprintf(key, sizeof(key), "signature-%s", img->manifest_digest + strlen("sha256:"));
	if ((r = cstor_image_set_big_data(s, image_id, key, "", 0, NULL, err)) < 0)
		return r;
	_cleanup_free_ char *meta = NULL;
	if (asprintf(&meta, "{\"signatures-sizes\":{\"%s\":[]}}", img->manifest_digest) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if ((r = cstor_image_set_metadata(s, image_id, meta, err)) < 0)
		return r;
	if (names && names[0] && (r = cstor_image_add_names(s, image_id, (const char *const *)names,
							    err)) < 0)
		return r;
	return 0;
}

static int normalize_names(char ***out, const char *const *given, char *const *fallback,
			   cstor_error *err)
{
	const char *const *in = given && given[0] ? given : (const char *const *)fallback;
	_cleanup_strv_free_ char **names = calloc(1, sizeof(char *));
	if (!names)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; in && in[i]; i++) {
		_cleanup_free_ char *n = NULL;
		int r = cstor_refname_normalize(&n, in[i], err);
		if (r < 0)
			return r;
		if (!strv_contains(names, n) && strv_append(&names, n) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*out = TAKE_PTR(names);
	return 0;
}

static int open_source(struct cstor_oci_src **src, bool *docker, const char *source,
		       enum src_kind kind, const char *path, cstor_error *err)
{
	int r = cstor_oci_src_open(src, path, err);
	if (r < 0)
		return r;
	bool dir = cstor_oci_src_is_dir(*src);
	if (kind == SRC_AUTO)
		kind = dir ? SRC_OCI
		       : cstor_oci_src_exists(*src, "oci-layout") ? SRC_OCI_ARCHIVE
		       : cstor_oci_src_exists(*src, "manifest.json") ? SRC_DOCKER_ARCHIVE
								      : SRC_AUTO;
	if (kind == SRC_AUTO)
		return cstor_error_set(err, EBADMSG,
				       "%s: neither an OCI archive nor a docker-archive (no oci-layout "
				       "or manifest.json)",
				       path);
	if ((kind == SRC_OCI) != dir)
		return cstor_error_set(err, EINVAL, "%s: %s", source,
				       dir ? "is a directory (use oci:)"
					   : "is a file (use oci-archive: or docker-archive:)");
	*docker = kind == SRC_DOCKER_ARCHIVE;
	return 0;
}

/* Every layer of @img (made, or reused when the store has it), then the
 * image record; the layers made go to *created. */
static int import_all(bool *src_fail, cstor_store *s, struct cstor_oci_src *src,
		      const struct cstor_oci_image *img, char *const *names, char ***created,
		      struct cstor_pending *journal, const char *source,
		      const cstor_import_options *o, cstor_error *err)
{
	cstor_progress pr = { .n_layers = (unsigned)img->n_layers };
	for (size_t i = 0; i < img->n_layers; i++)
		pr.bytes_total += img->layers[i].size;
	char parent[65] = "", id[65];
	for (size_t i = 0; i < img->n_layers; i++) {
		const struct cstor_oci_layer *l = &img->layers[i];
		int r = chain_id(id, parent[0] ? parent : NULL, l->diff_id, err);
		if (r < 0)
			return r;
		pr.layer = (unsigned)i;
		pr.digest = l->digest;
		pr.layer_done = 0;
		pr.layer_total = l->size;
		pr.layer_finished = 0;
		pr.reused = 0;
		/*
		 * Another import of an image sharing this layer may be making
		 * it right now (podman pulls in parallel): wait for it to
		 * finish and reuse its layer, or, if it gave up and removed
		 * the layer, make it ourselves.
		 */
		bool made = false, dead = false;
		/* Noted before we look, also when it is there to reuse: a
		 * writer collecting a dead import's layers spares those a
		 * live journal lists, so the one we find stays until our
		 * image uses it (records/pending.h). */
		if (journal && (r = cstor_pending_add(journal, id, err)) < 0)
			goto fail_layer;
		for (unsigned tries = 0;; tries++) {
			enum layer_state st;
			if ((r = layer_state(&st, s, id, err)) < 0)
				goto fail_layer;
			if (st == LAYER_COMPLETE)
				break;
			if (st == LAYER_BEING_MADE) {
				nap();
				continue;
			}
			/* A dead incomplete layer: creating it again makes the
			 * store's writer remove an interrupted import's layer
			 * first; an interrupted applydiff's stays, and says so. */
			if (st == LAYER_DEAD && dead) {
				r = cstor_error_set(err, EBUSY,
						    "layer %s is incomplete (an apply into it was "
						    "interrupted): delete it or apply it again",
						    id);
				goto fail_layer;
			}
			dead = st == LAYER_DEAD;
			if (dead) {
				/* Taking the layer store for writing removes
				 * dead imports' layers; ours must not hold the
				 * layer's apply lock yet, or it would look alive. */
				cstor_error e = CSTOR_ERROR_INIT;
				int w = cstor_objstore_start_writing(s->layers, &e);
				if (w == 0)
					cstor_objstore_done(s->layers);
				cstor_error_clear(&e);
				continue;
			}
			/* Noted above, before it exists: if we die after
			 * creating it and before the image, the next writer
			 * finds it unused. */
			uint64_t before = pr.bytes_done;
			pr.layer_done = 0;
			r = import_layer(src_fail, s, src, l, id, parent[0] ? parent : NULL, o, &pr,
					 err);
			pr.bytes_done = before;
			/* -EEXIST: created meanwhile; -EBUSY: being applied. */
			if ((r == -EEXIST || r == -EBUSY) && tries < 500) {
				cstor_error_clear(err);
				if (!dead)
					nap();
				continue;
			}
			if (r < 0)
				goto fail_layer;
			made = true;
			break;
		}
		pr.reused = !made;
		if (made && !strv_contains(*created, id) && strv_append(created, id) < 0) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			goto fail_layer;
		}
		pr.layer_done = l->size;
		pr.bytes_done += l->size;
		pr.layer_finished = 1;
		if (o->progress)
			o->progress(o->progress_ctx, &pr);
		memcpy(parent, id, sizeof(parent));
		continue;
fail_layer:
		cstor_error_wrap(err, r, "%s: layer %zu (%s)", source, i + 1, l->digest);
		return r;
	}
	bool created_image = false;
	const char *image = img->config_digest + strlen("sha256:");
	int r = cstor_failpoint_err(err, "import:before-image", NULL, "record the image");
	if (r < 0)
		return r;
	/* Noted before it is made (when it is not there yet): if we die
	 * before naming it, the next writer removes it with its layers. */
	cstor_image *there = NULL;
	if (journal && cstor_store_image(&there, s, image, NULL) == -ENOENT &&
	    (r = cstor_pending_add_image(journal, image, err)) < 0)
		return r;
	cstor_image_free(there);
	r = store_image(&created_image, s, img, image, parent[0] ? parent : NULL, names, err);
	if (r < 0) {
		cstor_error_wrap(err, r, "%s: image %.12s", source, image);
		if (created_image) {
			cstor_error e = CSTOR_ERROR_INIT;
			cstor_store_delete_image(NULL, s, image, CSTOR_DELETE_IMAGE_KEEP_LAYERS, &e);
			cstor_error_clear(&e);
		}
	}
	return r;
}

int cstor_oci_import_src(char **image_id, cstor_store *s, struct cstor_oci_src *src, bool docker,
			 const char *ref, const char *source, const cstor_import_options *o,
			 cstor_error *err)
{
	struct cstor_oci_image img;
	struct cstor_pending *journal = NULL;
	_cleanup_strv_free_ char **names = NULL, **created = calloc(1, sizeof(char *));
	if (!created)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_oci_image_load(&img, src, docker, ref, err);
	if (r < 0)
		return r;
	if ((r = normalize_names(&names, o->names, img.names, err)) < 0)
		goto out;

	/* Another process (a Go delete-image) may delete a layer we
	 * reused, or the image, while we import: what vanished is made
	 * again, from the first layer, a few times. */
	const char *image = img.config_digest + strlen("sha256:");
	/* Without a journal (say the disk is full) the import still runs;
	 * only an interruption would then leave its layers for check -r. */
	cstor_error je = CSTOR_ERROR_INIT;
	(void)cstor_pending_open(&journal, s->layers_dir, "import", &je);
	cstor_error_clear(&je);
	for (int attempt = 0;; attempt++) {
		bool src_fail = false;
		r = import_all(&src_fail, s, src, &img, names, &created, journal, source, o, err);
		if (r != -ENOENT || src_fail || attempt == MAX_VANISHED_RETRIES)
			break;
		cstor_error_clear(err);
	}
	if (r < 0)
		goto out;
	if (image_id && !(*image_id = strdup(image)))
		r = cstor_error_set(err, ENOMEM, "out of memory");
out:
	if (r < 0)
		rollback(s, created);
	cstor_pending_done(journal);
	cstor_oci_image_clear(&img);
	return r;
}

int cstor_oci_import_local(char **image_id, cstor_store *s, const char *source,
			   const cstor_import_options *o, cstor_error *err)
{
	cstor_import_options defaults = CSTOR_IMPORT_OPTIONS_INIT;
	if (!o)
		o = &defaults;
	if (o->version != CSTOR_IMPORT_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_import_options version");
	if (o->flags & ~(uint32_t)CSTOR_IMPORT_NO_KEEP_BLOBS)
		return cstor_error_set(err, EINVAL, "unknown import flags 0x%x", o->flags);
	enum src_kind kind;
	_cleanup_free_ char *path = NULL, *ref = NULL;
	int r = parse_source(&kind, &path, &ref, source, err);
	if (r < 0)
		return r;
	struct cstor_oci_src *src = NULL;
	bool docker = false;
	if ((r = open_source(&src, &docker, source, kind, path, err)) == 0)
		r = cstor_oci_import_src(image_id, s, src, docker, ref, source, o, err);
	cstor_oci_src_free(src);
	return r;
}
