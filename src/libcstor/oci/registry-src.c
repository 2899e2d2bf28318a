/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A registry repository seen as an OCI layout (oci/source.h), so that a
 * pull is an import: "index.json" is made up of one descriptor, that of
 * the manifest the tag (or digest) names; "blobs/sha256/<hex>" is that
 * manifest, a manifest a list names, or a blob. Small members (manifests,
 * configs) are fetched whole; layer blobs are streamed, and what is read
 * of them is copied into an unlinked file next to the layers for the
 * import to keep as the original blob (CSTOR_KEPT_BLOB_PREFIX). Which
 * digests are manifests and how big each blob is comes from the manifests
 * served before, as the import reads them top-down.
 *
 * Layer blobs are downloaded by threads, several at once: when the import
 * opens a layer, its download and those of the next layers (up to the
 * parallel count) start, each into an unlinked file next to the layers,
 * and the import reads the file as it grows (decompressing, hashing and
 * applying while the bytes arrive). That file is the copy the import
 * keeps as the original blob; it goes when the import closes the layer.
 */
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/registry-src.h"
#include "registry/client.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/macro.h"
#include "util/strv.h"

/* containers/image's limit for manifests and configs. */
#define MAX_SMALL (4u << 20)
#define MAX_DESCS 100000

struct desc {
	char *digest;
	uint64_t size;
	bool manifest;
};

/* A layer blob being downloaded by a thread of its own into an unlinked
 * file (the copy the import keeps), read by the import as it grows. */
struct fetch {
	struct regsrc *rs;
	char digest[CSTOR_DIGEST_STRING_MAX];
	uint64_t size;
	int fd;
	pthread_t thread;
	bool started, joined;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint64_t written; /* guarded by mu */
	bool done;        /* guarded by mu: the thread ended (see err) */
	bool cancel;      /* guarded by mu: stop */
	cstor_error err;  /* guarded by mu */
};

struct regsrc {
	struct cstor_reg *reg;
	char **layers;  /* the image manifest's layer digests, in order */
	struct fetch **fetches; /* one per layer, started ahead of the import */
	unsigned parallel;
	char *index;
	size_t index_len;
	char *top;
	size_t top_len;
	char top_digest[CSTOR_DIGEST_STRING_MAX];
	struct desc *d;
	size_t nd;
	char *tee_dir; /* where the downloads' files are made */
	bool keep;     /* the import keeps them */
	const volatile int *cancel; /* the caller's flag: stop (-ECANCELED) */
};

static bool cancelled(const struct regsrc *rs)
{
	return rs->cancel && *rs->cancel;
}

static void fetch_stop(struct fetch *f)
{
	if (!f || !f->started || f->joined)
		return;
	pthread_mutex_lock(&f->mu);
	f->cancel = true;
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	f->joined = true;
}

static void fetch_free(struct fetch *f)
{
	if (!f)
		return;
	fetch_stop(f);
	if (f->fd >= 0)
		close(f->fd);
	cstor_error_clear(&f->err);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cond);
	free(f);
}

static void regsrc_free(void *ctx)
{
	struct regsrc *rs = ctx;
	for (size_t i = 0; rs->fetches && rs->layers && rs->layers[i]; i++)
		fetch_free(rs->fetches[i]);
	free(rs->fetches);
	strv_free(rs->layers);
	cstor_reg_free(rs->reg);
	free(rs->index);
	free(rs->top);
	for (size_t i = 0; i < rs->nd; i++)
		free(rs->d[i].digest);
	free(rs->d);
	free(rs->tee_dir);
	free(rs);
}

static struct desc *find_desc(struct regsrc *rs, const char *digest)
{
	for (size_t i = 0; i < rs->nd; i++)
		if (streq(rs->d[i].digest, digest))
			return &rs->d[i];
	return NULL;
}

static int add_desc(struct regsrc *rs, json_t *d, bool manifest)
{
	const char *dg = json_string_value(json_object_get(d, "digest"));
	json_t *sz = json_object_get(d, "size");
	if (!dg || !json_is_integer(sz) || json_integer_value(sz) < 0 || find_desc(rs, dg))
		return 0;
	if (rs->nd >= MAX_DESCS)
		return -E2BIG;
	struct desc *nd = realloc(rs->d, (rs->nd + 1) * sizeof(*nd));
	if (!nd)
		return -ENOMEM;
	rs->d = nd;
	char *copy = strdup(dg);
	if (!copy)
		return -ENOMEM;
	rs->d[rs->nd++] = (struct desc){ copy, (uint64_t)json_integer_value(sz), manifest };
	return 0;
}

static bool same_layers(const struct regsrc *rs, json_t *layers)
{
	size_t n = strv_length(rs->layers);
	if (n != json_array_size(layers))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!streq_ptr(json_string_value(json_object_get(json_array_get(layers, i),
								  "digest")),
			       rs->layers[i]))
			return false;
	return true;
}

/* Note what a manifest or list names (a malformed one is the import's to
 * refuse, with its own words). */
static int note_manifest(struct regsrc *rs, const char *buf, size_t len, cstor_error *err)
{
	json_t *j = json_loadb(buf, len, 0, NULL), *d;
	size_t i;
	int r = 0;
	json_array_foreach(json_object_get(j, "manifests"), i, d) if (r == 0) r =
		add_desc(rs, d, true);
	json_array_foreach(json_object_get(j, "layers"), i, d) if (r == 0) r = add_desc(rs, d, false);
	json_t *layers = json_object_get(j, "layers");
	/* The image's manifest is the last one read (after any list). Another
	 * image's (the next instance of a list, --all-platforms) ends the
	 * downloads of the one before, which the import is done with; the
	 * same one read again keeps them. */
	if (r == 0 && json_is_array(layers) && rs->fetches && !same_layers(rs, layers)) {
		for (size_t k = 0; rs->layers && rs->layers[k]; k++)
			fetch_free(rs->fetches[k]);
		free(rs->fetches);
		rs->fetches = NULL;
	}
	if (r == 0 && json_is_array(layers) && !rs->fetches) {
		strv_free(rs->layers);
		rs->layers = calloc(1, sizeof(char *));
		r = rs->layers ? 0 : -ENOMEM;
		json_array_foreach(layers, i, d)
		{
			const char *dg = json_string_value(json_object_get(d, "digest"));
			if (r == 0 && dg)
				r = strv_append(&rs->layers, dg);
		}
	}
	if (r == 0 && json_object_get(j, "config"))
		r = add_desc(rs, json_object_get(j, "config"), false);
	json_decref(j);
	if (r < 0)
		return cstor_error_errno(err, -r, "%s: manifest", cstor_reg_name(rs->reg));
	return 0;
}

static const char *digest_of(const char *name)
{
	return strncmp(name, "blobs/", 6) == 0 ? name + 6 : NULL;
}

/* "blobs/sha256/<hex>" to "sha256:<hex>". */
static int name_digest(char out[static CSTOR_DIGEST_STRING_MAX], const char *name)
{
	const char *p = digest_of(name), *slash = p ? strchr(p, '/') : NULL;
	if (!slash || (size_t)(slash - p) + strlen(slash) >= CSTOR_DIGEST_STRING_MAX)
		return -ENOENT;
	snprintf(out, CSTOR_DIGEST_STRING_MAX, "%.*s:%s", (int)(slash - p), p, slash + 1);
	return 0;
}

static bool regsrc_exists(void *ctx, const char *name)
{
	(void)ctx;
	return streq(name, "oci-layout") || streq(name, "index.json") || digest_of(name);
}

static int copy_out(char **out, size_t *len, const char *buf, size_t n, cstor_error *err)
{
	if (!(*out = malloc(n + 1)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	memcpy(*out, buf, n);
	(*out)[n] = 0;
	*len = n;
	return 0;
}

static int regsrc_read(void *ctx, char **out, size_t *len, const char *name, size_t max,
		       cstor_error *err)
{
	struct regsrc *rs = ctx;
	if (streq(name, "index.json"))
		return copy_out(out, len, rs->index, rs->index_len, err);
	char dg[CSTOR_DIGEST_STRING_MAX];
	if (name_digest(dg, name) < 0)
		return cstor_error_set(err, ENOENT, "%s: no %s in a registry",
				       cstor_reg_name(rs->reg), name);
	if (streq(dg, rs->top_digest))
		return copy_out(out, len, rs->top, rs->top_len, err);
	struct desc *d = find_desc(rs, dg);
	if (d && d->size > max)
		return cstor_error_set(err, EBADMSG, "%s: %s is too big (%llu bytes)",
				       cstor_reg_name(rs->reg), dg, (unsigned long long)d->size);
	int r;
	if (d && d->manifest) {
		_cleanup_free_ char *mt = NULL;
		char got[CSTOR_DIGEST_STRING_MAX];
		if ((r = cstor_reg_get_manifest(rs->reg, dg, max, out, len, &mt, got, err)) < 0)
			return r;
		if ((r = note_manifest(rs, *out, *len, err)) < 0) {
			free(*out);
			*out = NULL;
		}
		return r;
	}
	r = cstor_reg_get_blob(rs->reg, dg, max, out, len, err);
	if (r == -EFBIG)
		r = -EBADMSG;
	return r;
}

static void *fetch_main(void *arg)
{
	struct fetch *f = arg;
	cstor_error e = CSTOR_ERROR_INIT;
	struct cstor_reg_blob *b = NULL;
	char *buf = malloc(1 << 20);
	int r = buf ? cstor_reg_blob_open(&b, f->rs->reg, f->digest, f->size, &e)
		    : cstor_error_set(&e, ENOMEM, "out of memory");
	while (r == 0) {
		pthread_mutex_lock(&f->mu);
		bool cancel = f->cancel;
		pthread_mutex_unlock(&f->mu);
		if (cancel)
			break;
		ssize_t n = cstor_reg_blob_read(b, buf, 1 << 20, &e);
		if (n <= 0) {
			r = (int)n;
			break;
		}
		if ((r = cstor_write_all(f->fd, buf, (size_t)n)) < 0) {
			r = cstor_error_errno(&e, -r, "write a copy of blob %s", f->digest);
			break;
		}
		pthread_mutex_lock(&f->mu);
		f->written += (uint64_t)n;
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->mu);
	}
	cstor_reg_blob_close(b);
	free(buf);
	pthread_mutex_lock(&f->mu);
	f->done = true;
	if (r < 0)
		cstor_error_move(&f->err, &e);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	cstor_error_clear(&e);
	return NULL;
}

static int fetch_start(struct regsrc *rs, size_t i, cstor_error *err)
{
	if (rs->fetches[i])
		return 0;
	struct desc *d = find_desc(rs, rs->layers[i]);
	if (!d)
		return cstor_error_set(err, ENOENT, "%s: %s is not a blob of the manifest",
				       cstor_reg_name(rs->reg), rs->layers[i]);
	struct fetch *f = calloc(1, sizeof(*f));
	if (!f)
		return cstor_error_set(err, ENOMEM, "out of memory");
	f->rs = rs;
	f->size = d->size;
	f->err = (cstor_error)CSTOR_ERROR_INIT;
	snprintf(f->digest, sizeof(f->digest), "%s", d->digest);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cond, NULL);
	/* Next to the layers: keeping it is then a clone or a copy within
	 * one filesystem. */
	f->fd = open(rs->tee_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (f->fd < 0)
		f->fd = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (f->fd < 0) {
		int e = errno;
		fetch_free(f);
		return cstor_error_errno(err, e, "create a file for blob %s", d->digest);
	}
	int r = pthread_create(&f->thread, NULL, fetch_main, f);
	if (r != 0) {
		fetch_free(f);
		return cstor_error_errno(err, r, "start a download of %s", d->digest);
	}
	f->started = true;
	rs->fetches[i] = f;
	return 0;
}

/* A layer blob as the import reads it: from its download's file, waiting
 * for bytes not there yet. */
struct stream {
	struct fetch *f;
	uint64_t off;
};

static ssize_t stream_pread(struct stream *st, void *buf, size_t len, bool consume,
			    cstor_error *err)
{
	struct fetch *f = st->f;
	/* Every chunk the import reads, whether it waits or not. */
	bool stop = cancelled(f->rs);
	pthread_mutex_lock(&f->mu);
	/* Woken by the download, or every 100 ms to see the cancel flag. */
	while (!stop && f->written <= st->off && !f->done && !(stop = cancelled(f->rs))) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->cond, &f->mu, &ts);
	}
	if (stop) {
		pthread_mutex_unlock(&f->mu);
		return cstor_error_set(err, ECANCELED, "%s: blob %s: cancelled",
				       cstor_reg_name(f->rs->reg), f->digest);
	}
	uint64_t avail = f->written - st->off;
	bool failed = f->done && f->err.code && avail == 0;
	if (failed) {
		/* The download's error, for the import to report. */
		err->code = f->err.code;
		err->msg = f->err.msg ? strdup(f->err.msg) : NULL;
	}
	pthread_mutex_unlock(&f->mu);
	if (failed)
		return -err->code;
	if (avail == 0)
		return 0;
	if (len > avail)
		len = (size_t)avail;
	ssize_t n;
	do
		n = pread(f->fd, buf, len, (off_t)st->off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cstor_error_errno(err, errno, "read the copy of blob %s", f->digest);
	if (consume)
		st->off += (uint64_t)n;
	return n;
}

static ssize_t stream_peek(void *ctx, void *buf, size_t len, cstor_error *err)
{
	struct stream *st = ctx;
	/* Enough bytes for the magic, or the whole of a tiny blob. */
	size_t got = 0;
	while (got < len) {
		struct stream s2 = { st->f, st->off + got };
		ssize_t n = stream_pread(&s2, (char *)buf + got, len - got, false, err);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static ssize_t stream_read(void *ctx, void *buf, size_t len, cstor_error *err)
{
	return stream_pread(ctx, buf, len, true, err);
}

static void stream_close(void *ctx)
{
	struct stream *st = ctx;
	struct regsrc *rs = st->f->rs;
	/* The import is done with this blob (kept, or given up): its file
	 * and download go. */
	for (size_t i = 0; rs->layers && rs->layers[i]; i++)
		if (rs->fetches[i] == st->f) {
			fetch_free(st->f);
			rs->fetches[i] = NULL;
		}
	free(st);
}

static const struct cstor_oci_stream_ops stream_ops = { stream_read, stream_peek, stream_close };

static int regsrc_open_member(void *ctx, struct cstor_oci_member *m, const char *name,
			      cstor_error *err)
{
	struct regsrc *rs = ctx;
	char dg[CSTOR_DIGEST_STRING_MAX];
	size_t n = strv_length(rs->layers), i;
	if (name_digest(dg, name) < 0)
		n = 0;
	for (i = 0; i < n && !streq(rs->layers[i], dg); i++)
		;
	if (i == n)
		return cstor_error_set(err, ENOENT, "%s: %s is not a layer of the manifest",
				       cstor_reg_name(rs->reg), name);
	/* Between layers. */
	if (cancelled(rs))
		return cstor_error_set(err, ECANCELED, "%s: cancelled before %s",
				       cstor_reg_name(rs->reg), dg);
	if (!rs->fetches && !(rs->fetches = calloc(n + 1, sizeof(*rs->fetches))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	/* This layer and the next ones, as many as downloads may run at
	 * once: the layers below this one are in the store already (they
	 * are its parents), the ones above will be needed. A blob opened a
	 * second time (the import retried) is downloaded again. */
	int r = fetch_start(rs, i, err);
	for (size_t k = i + 1; r == 0 && k < n && k < i + rs->parallel; k++) {
		cstor_error e = CSTOR_ERROR_INIT;
		(void)fetch_start(rs, k, &e); /* its error shows when it is read */
		cstor_error_clear(&e);
	}
	if (r < 0)
		return r;
	struct stream *st = calloc(1, sizeof(*st));
	if (!st)
		return cstor_error_set(err, ENOMEM, "out of memory");
	st->f = rs->fetches[i];
	struct fetch *f = st->f;
	*m = (struct cstor_oci_member){ .fd = rs->keep ? f->fd : -1,
					.own_fd = false,
					.off = 0,
					.size = f->size,
					.left = f->size,
					.stream = st,
					.sops = &stream_ops };
	return 0;
}

static const struct cstor_oci_src_ops regsrc_ops = {
	regsrc_exists,
	regsrc_open_member,
	regsrc_read,
	regsrc_free,
};

static const char *guess_type(const char *mt, const char *buf, size_t len)
{
	if (mt && strstr(mt, "json") && !streq(mt, "application/json"))
		return mt;
	json_t *j = json_loadb(buf, len, 0, NULL);
	const char *m = json_string_value(json_object_get(j, "mediaType"));
	const char *r = m && streq(m, "application/vnd.docker.distribution.manifest.list.v2+json")
				? "application/vnd.docker.distribution.manifest.list.v2+json"
			: m && streq(m, "application/vnd.docker.distribution.manifest.v2+json")
				? "application/vnd.docker.distribution.manifest.v2+json"
			: json_object_get(j, "manifests") ? "application/vnd.oci.image.index.v1+json"
							   : "application/vnd.oci.image.manifest.v1+json";
	json_decref(j);
	return r;
}

int cstor_oci_registry_src_open(struct cstor_oci_src **out, const char *host, const char *repo,
				const char *ref, const struct cstor_reg_options *ro,
				const char *tee_dir, bool keep, unsigned parallel,
				cstor_error *err)
{
	struct regsrc *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_reg_new(&rs->reg, host, repo, ro, err);
	_cleanup_free_ char *mt = NULL;
	rs->keep = keep;
	rs->cancel = ro->cancel;
	rs->parallel = parallel ? parallel : 3;
	if (r == 0 && !(rs->tee_dir = strdup(tee_dir)))
		r = cstor_error_set(err, ENOMEM, "out of memory");
	if (r == 0)
		r = cstor_reg_get_manifest(rs->reg, ref, MAX_SMALL, &rs->top, &rs->top_len, &mt,
					   rs->top_digest, err);
	if (r == -EFBIG)
		r = cstor_error_set(err, EBADMSG, "%s: the manifest of %s is over %u bytes",
				    cstor_reg_name(rs->reg), ref, MAX_SMALL);
	if (r == 0)
		r = note_manifest(rs, rs->top, rs->top_len, err);
	if (r == 0) {
		json_t *idx = json_pack("{s:i, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
					"manifests", "mediaType",
					guess_type(mt, rs->top, rs->top_len), "digest",
					rs->top_digest, "size", (json_int_t)rs->top_len);
		rs->index = idx ? json_dumps(idx, JSON_COMPACT) : NULL;
		json_decref(idx);
		if (!rs->index)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		else
			rs->index_len = strlen(rs->index);
	}
	if (r < 0) {
		regsrc_free(rs);
		return r;
	}
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "docker://%s%s%s", cstor_reg_name(rs->reg), strchr(ref, ':') ? "@" : ":",
		     ref) < 0) {
		regsrc_free(rs);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return cstor_oci_src_new_ops(out, path, &regsrc_ops, rs, err);
}
