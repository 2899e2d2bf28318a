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
 */
#include <fcntl.h>
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

/* containers/image's limit for manifests and configs. */
#define MAX_SMALL (4u << 20)
#define MAX_DESCS 100000

struct desc {
	char *digest;
	uint64_t size;
	bool manifest;
};

struct regsrc {
	struct cstor_reg *reg;
	char *index;
	size_t index_len;
	char *top;
	size_t top_len;
	char top_digest[CSTOR_DIGEST_STRING_MAX];
	struct desc *d;
	size_t nd;
	char *tee_dir; /* NULL: blobs are not copied */
};

static void regsrc_free(void *ctx)
{
	struct regsrc *rs = ctx;
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

/* A streamed blob. */
struct stream {
	struct cstor_reg_blob *b;
	int tee;          /* -1: none */
	char peek[64];    /* read ahead for a peek, not consumed yet */
	size_t peek_len, peek_pos;
};

static ssize_t fetch(struct stream *st, void *buf, size_t len, cstor_error *err)
{
	ssize_t n = cstor_reg_blob_read(st->b, buf, len, err);
	if (n > 0 && st->tee >= 0) {
		int r = cstor_write_all(st->tee, buf, (size_t)n);
		if (r < 0)
			return cstor_error_errno(err, -r, "write a copy of a blob to keep");
	}
	return n;
}

static ssize_t stream_peek(void *ctx, void *buf, size_t len, cstor_error *err)
{
	struct stream *st = ctx;
	while (st->peek_len < sizeof(st->peek) && st->peek_len < len) {
		ssize_t n = fetch(st, st->peek + st->peek_len, sizeof(st->peek) - st->peek_len, err);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		st->peek_len += (size_t)n;
	}
	size_t n = st->peek_len - st->peek_pos < len ? st->peek_len - st->peek_pos : len;
	memcpy(buf, st->peek + st->peek_pos, n);
	return (ssize_t)n;
}

static ssize_t stream_read(void *ctx, void *buf, size_t len, cstor_error *err)
{
	struct stream *st = ctx;
	if (st->peek_pos < st->peek_len) {
		size_t n = st->peek_len - st->peek_pos < len ? st->peek_len - st->peek_pos : len;
		memcpy(buf, st->peek + st->peek_pos, n);
		st->peek_pos += n;
		return (ssize_t)n;
	}
	return fetch(st, buf, len, err);
}

static void stream_close(void *ctx)
{
	struct stream *st = ctx;
	cstor_reg_blob_close(st->b);
	if (st->tee >= 0)
		close(st->tee);
	free(st);
}

static const struct cstor_oci_stream_ops stream_ops = { stream_read, stream_peek, stream_close };

static int regsrc_open_member(void *ctx, struct cstor_oci_member *m, const char *name,
			      cstor_error *err)
{
	struct regsrc *rs = ctx;
	char dg[CSTOR_DIGEST_STRING_MAX];
	struct desc *d = name_digest(dg, name) == 0 ? find_desc(rs, dg) : NULL;
	if (!d)
		return cstor_error_set(err, ENOENT, "%s: %s is not a blob of the manifest",
				       cstor_reg_name(rs->reg), name);
	struct stream *st = calloc(1, sizeof(*st));
	if (!st)
		return cstor_error_set(err, ENOMEM, "out of memory");
	st->tee = -1;
	if (rs->tee_dir) {
		/* Next to the layers: keeping it is then a clone or a copy
		 * within one filesystem. */
		st->tee = open(rs->tee_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (st->tee < 0)
			st->tee = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (st->tee < 0) {
			int e = errno;
			free(st);
			return cstor_error_errno(err, e, "create a file for a copy of %s", dg);
		}
	}
	int r = cstor_reg_blob_open(&st->b, rs->reg, dg, d->size, err);
	if (r < 0) {
		if (st->tee >= 0)
			close(st->tee);
		free(st);
		return r;
	}
	*m = (struct cstor_oci_member){ .fd = st->tee, .own_fd = false, .off = 0, .size = d->size,
					.left = d->size, .stream = st, .sops = &stream_ops };
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
				const char *tee_dir, cstor_error *err)
{
	struct regsrc *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return cstor_error_set(err, ENOMEM, "out of memory");
	int r = cstor_reg_new(&rs->reg, host, repo, ro, err);
	_cleanup_free_ char *mt = NULL;
	if (r == 0 && tee_dir && !(rs->tee_dir = strdup(tee_dir)))
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
