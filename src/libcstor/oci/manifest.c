/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Manifests, indexes and configs of OCI layouts and docker-archives.
 * Limits follow containers/image (4 MiB for manifests and configs), so an
 * image either tool refuses is refused by both.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <unistd.h>

#include "archive/compress.h"
#include "util/error-internal.h"
#include "oci/manifest.h"
#include "util/cleanup.h"
#include "util/macro.h"
#include "util/strv.h"

#define MAX_SMALL (4u << 20)
/* Indexes of indexes are allowed; a deeper nesting is no image anyone made. */
#define MAX_LIST_DEPTH 8

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"


#define _cleanup_json_ _cleanup_(json_decrefp)

static const char *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.nondistributable.v1.tar",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	MT_DOCKER_LAYER,
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	NULL,
};

const char *cstor_oci_host_arch(void)
{
	static const char *const map[][2] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "i686", "386" },
		{ "i386", "386" },     { "armv7l", "arm" },    { "ppc64le", "ppc64le" },
		{ "s390x", "s390x" },  { "riscv64", "riscv64" },
	};
	static char arch[65];
	struct utsname u;
	if (uname(&u) < 0)
		return "amd64";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (streq(u.machine, map[i][0]))
			return map[i][1];
	snprintf(arch, sizeof(arch), "%s", u.machine);
	return arch;
}

void cstor_oci_image_clear(struct cstor_oci_image *img)
{
	free(img->manifest);
	free(img->toplevel);
	free(img->config);
	free(img->created);
	for (size_t i = 0; i < img->n_layers; i++) {
		free(img->layers[i].digest);
		free(img->layers[i].diff_id);
		free(img->layers[i].media_type);
		free(img->layers[i].member);
	}
	free(img->layers);
	strv_free(img->names);
	*img = (struct cstor_oci_image){ 0 };
}

static int parse(json_t **out, const char *buf, size_t len, const char *what, cstor_error *err)
{
	json_error_t je;
	if (!(*out = json_loadb(buf, len, 0, &je)))
		return cstor_error_set(err, EBADMSG, "%s is not valid JSON: %s (line %d)", what,
				       je.text, je.line);
	return 0;
}

static const char *str_member(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The blob path of a descriptor's digest; sha256 only, as containers/
 * storage records no other. */
static int blob_path(char **out, const char *digest, const char *what, cstor_error *err)
{
	const char *hex;
	cstor_digest_algorithm alg;
	if (!digest || cstor_digest_parse(digest, &alg, &hex, NULL) < 0)
		return cstor_error_set(err, EBADMSG, "%s: invalid digest \"%s\"", what,
				       digest ? digest : "");
	if (alg != CSTOR_DIGEST_SHA256)
		return cstor_error_set(err, ENOTSUP, "%s: digest %s: only sha256 is supported", what,
				       digest);
	if (asprintf(out, "blobs/sha256/%s", hex) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* Read a small blob and check it against its descriptor. */
static int read_blob(char **buf, size_t *len, char digest_out[static CSTOR_DIGEST_STRING_MAX],
		     struct cstor_oci_src *src, json_t *desc, const char *what, cstor_error *err)
{
	const char *digest = str_member(desc, "digest");
	_cleanup_free_ char *path = NULL;
	int r = blob_path(&path, digest, what, err);
	if (r < 0)
		return r;
	if ((r = cstor_oci_src_read(buf, len, src, path, MAX_SMALL, err)) < 0)
		return cstor_error_wrap(err, r, "%s", what);
	char got[CSTOR_DIGEST_STRING_MAX];
	if ((r = cstor_digest_buffer(got, *buf, *len, err)) < 0)
		return r;
	if (!streq(got, digest)) {
		free(*buf);
		*buf = NULL;
		return cstor_error_set(err, EBADMSG, "%s: %s: digest mismatch: expected %s, blob is %s",
				       cstor_oci_src_path(src), what, digest, got);
	}
	json_t *size = json_object_get(desc, "size");
	if (json_is_integer(size) && (uint64_t)json_integer_value(size) != *len) {
		free(*buf);
		*buf = NULL;
		return cstor_error_set(err, EBADMSG,
				       "%s: %s: size mismatch: expected %lld, blob has %zu",
				       cstor_oci_src_path(src), what,
				       (long long)json_integer_value(size), *len);
	}
	snprintf(digest_out, CSTOR_DIGEST_STRING_MAX, "%s", got);
	return 0;
}

static bool is_index_type(const char *mt)
{
	return mt && (streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST));
}

/* Pick linux/<arch> (or the source's platform, "os/arch[/variant]") from
 * an index's manifests; of an index of one entry, that entry when it is an
 * index (OCI allows indexes of indexes) or names no platform. */
static int pick_platform(json_t **out, json_t *index, struct cstor_oci_src *src,
			 cstor_error *err)
{
	const char *want = cstor_oci_src_platform(src), *src_path = cstor_oci_src_path(src);
	char os[64] = "linux", arch[64], variant[64] = "";
	const char *host = cstor_oci_host_arch();
	size_t hl = strnlen(host, sizeof(arch) - 1);
	memcpy(arch, host, hl);
	arch[hl] = 0;
	if (want && sscanf(want, "%63[^/]/%63[^/]/%63s", os, arch, variant) < 2)
		return cstor_error_set(err, EINVAL, "platform \"%s\" is not OS/ARCH[/VARIANT]",
				       want);
	json_t *mans = json_object_get(index, "manifests"), *d;
	size_t i;
	json_array_foreach(mans, i, d)
	{
		json_t *p = json_object_get(d, "platform");
		const char *o = str_member(p, "os"), *a = str_member(p, "architecture"),
			   *v = str_member(p, "variant");
		if (o && a && streq(o, os) && streq(a, arch) &&
		    (!variant[0] || streq_ptr(v, variant))) {
			*out = d;
			return 0;
		}
	}
	/* One entry that names no platform: the only image there is. */
	d = json_array_get(mans, 0);
	if (json_array_size(mans) == 1 &&
	    (is_index_type(str_member(d, "mediaType")) || !json_object_get(d, "platform"))) {
		*out = d;
		return 0;
	}
	return cstor_error_set(err, ENOENT, "%s: the manifest list has no image for %s/%s%s%s",
			       src_path, os, arch, variant[0] ? "/" : "", variant);
}

/* Down the manifest lists from @desc to the image's manifest: *desc_out
 * (a new reference) is the manifest's descriptor. The outermost list is
 * kept in img->toplevel, as it is stored with the image. */
static int resolve_lists(json_t **desc_out, struct cstor_oci_image *img,
			 struct cstor_oci_src *src, json_t *desc, const char *sp, cstor_error *err)
{
	json_incref(desc);
	for (int depth = 0; is_index_type(str_member(desc, "mediaType")); depth++) {
		if (depth == MAX_LIST_DEPTH) {
			json_decref(desc);
			return cstor_error_set(err, ENOTSUP,
					       "%s: manifest lists nested more than %d deep",
					       sp, MAX_LIST_DEPTH);
		}
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		char digest[CSTOR_DIGEST_STRING_MAX];
		_cleanup_json_ json_t *list = NULL;
		int r = read_blob(&buf, &len, digest, src, desc, "manifest list", err);
		json_t *next = NULL;
		if (r == 0 && (r = parse(&list, buf, len, "manifest list", err)) == 0)
			r = pick_platform(&next, list, src, err);
		json_decref(desc);
		if (r < 0)
			return r;
		desc = json_incref(next);
		if (depth == 0) {
			img->toplevel = TAKE_PTR(buf);
			img->toplevel_len = len;
			memcpy(img->toplevel_digest, digest, sizeof(digest));
		}
	}
	*desc_out = desc;
	return 0;
}

static int parse_config(struct cstor_oci_image *img, json_t **diff_ids, json_t **cfg_out,
			const char *what, cstor_error *err)
{
	json_t *cfg = NULL;
	int r = parse(&cfg, img->config, img->config_len, what, err);
	if (r < 0)
		return cstor_error_wrap(err, r, "%s", img->config_digest);
	if (!json_is_object(cfg)) {
		json_decref(cfg);
		return cstor_error_set(err, EBADMSG, "%s is not a JSON object", what);
	}
	*diff_ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (*diff_ids && !json_is_array(*diff_ids)) {
		json_decref(cfg);
		return cstor_error_set(err, EBADMSG, "%s: rootfs.diff_ids is not a list", what);
	}
	const char *created = str_member(cfg, "created");
	if (created && created[0] && !(img->created = strdup(created))) {
		json_decref(cfg);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	*cfg_out = cfg;
	return 0;
}

static int set_diff_id(struct cstor_oci_layer *l, json_t *diff_ids, size_t i, const char *what,
		       cstor_error *err)
{
	const char *d = json_string_value(json_array_get(diff_ids, i));
	if (!d || cstor_digest_validate(d, NULL) < 0)
		return cstor_error_set(err, EBADMSG, "%s: rootfs.diff_ids[%zu] is not a digest", what,
				       i);
	if (strncmp(d, "sha256:", 7) != 0)
		return cstor_error_set(err, ENOTSUP, "%s: DiffID %s: only sha256 is supported", what,
				       d);
	return (l->diff_id = strdup(d)) ? 0 : cstor_error_set(err, ENOMEM, "out of memory");
}

/*
 * The name an image gets from its index entry's ref.name annotation when
 * none is given, as `podman load` of an oci-archive gives it (libimage's
 * NormalizeName): a reference whose first component is no registry (no '.'
 * or ':', not "localhost") is put under localhost/, so the annotation
 * "latest" of a layout names the image localhost/latest:latest and
 * "quay.io/a/b:v1" stays what it is; the tag is added later by
 * cstor_refname_normalize. No annotation, no name (podman: unnamed too).
 */
static int annotation_name(struct cstor_oci_image *img, json_t *desc, cstor_error *err)
{
	if (!(img->names = calloc(1, sizeof(char *))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	const char *n =
		str_member(json_object_get(desc, "annotations"), "org.opencontainers.image.ref.name");
	if (!n || !*n)
		return 0;
	const char *slash = strchr(n, '/');
	size_t dl = slash ? (size_t)(slash - n) : 0;
	bool registry = slash && (memchr(n, '.', dl) || memchr(n, ':', dl) ||
				  (dl == 9 && strncmp(n, "localhost", 9) == 0));
	_cleanup_free_ char *name = NULL;
	if (registry)
		name = strdup(n);
	else if (asprintf(&name, "localhost/%s", n) < 0)
		name = NULL;
	if (!name || strv_append(&img->names, name) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static int load_oci(struct cstor_oci_image *img, struct cstor_oci_src *src, const char *ref,
		    cstor_error *err)
{
	const char *sp = cstor_oci_src_path(src);
	if (!cstor_oci_src_exists(src, "oci-layout"))
		return cstor_error_set(err, EBADMSG, "%s is not an OCI image layout (no oci-layout file)",
				       sp);
	_cleanup_free_ char *ibuf = NULL;
	size_t ilen;
	int r = cstor_oci_src_read(&ibuf, &ilen, src, "index.json", MAX_SMALL, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *index = NULL;
	if ((r = parse(&index, ibuf, ilen, "index.json", err)) < 0)
		return r;
	json_t *mans = json_object_get(index, "manifests");
	if (!json_is_array(mans))
		return cstor_error_set(err, EBADMSG, "%s: index.json has no manifests list", sp);
	json_t *desc = NULL, *d;
	size_t i;
	if (ref) {
		json_array_foreach(mans, i, d)
		{
			const char *n = str_member(json_object_get(d, "annotations"),
						   "org.opencontainers.image.ref.name");
			if (n && streq(n, ref)) {
				desc = d;
				break;
			}
		}
		if (!desc)
			return cstor_error_set(err, ENOENT, "%s: no image named \"%s\" in index.json", sp,
					       ref);
	} else if (json_array_size(mans) == 1) {
		desc = json_array_get(mans, 0);
	} else {
		return cstor_error_set(err, EINVAL,
				       "%s: index.json lists %zu images: name one (oci:PATH:REF)", sp,
				       json_array_size(mans));
	}
	if ((r = annotation_name(img, desc, err)) < 0)
		return r;
	const char *mt = str_member(desc, "mediaType");
	json_t *mdesc = NULL;
	if ((r = resolve_lists(&mdesc, img, src, desc, sp, err)) < 0)
		return r;
	if (img->toplevel)
		mt = NULL;
	r = read_blob(&img->manifest, &img->manifest_len, img->manifest_digest, src, mdesc,
		      "manifest", err);
	json_decref(mdesc);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *man = NULL;
	if ((r = parse(&man, img->manifest, img->manifest_len, "manifest", err)) < 0)
		return r;
	const char *mmt = str_member(man, "mediaType");
	if (!mmt)
		mmt = mt ? mt : MT_OCI_MANIFEST;
	json_t *sv = json_object_get(man, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return cstor_error_set(err, ENOTSUP, "%s: manifest schema version is not 2", sp);
	if (!streq(mmt, MT_OCI_MANIFEST) && !streq(mmt, MT_DOCKER_MANIFEST))
		return cstor_error_set(err, ENOTSUP, "%s: unsupported manifest type %s", sp, mmt);
	json_t *cdesc = json_object_get(man, "config");
	if (!json_is_object(cdesc))
		return cstor_error_set(err, EBADMSG, "%s: the manifest has no config", sp);
	if ((r = read_blob(&img->config, &img->config_len, img->config_digest, src, cdesc,
			   "config", err)) < 0)
		return r;
	_cleanup_json_ json_t *cfg = NULL;
	json_t *diff_ids = NULL;
	if ((r = parse_config(img, &diff_ids, &cfg, "config", err)) < 0)
		return r;
	json_t *layers = json_object_get(man, "layers");
	if (!json_is_array(layers))
		return cstor_error_set(err, EBADMSG, "%s: the manifest has no layers list", sp);
	size_t n = json_array_size(layers);
	if (json_array_size(diff_ids) != n)
		return cstor_error_set(err, EBADMSG,
				       "%s: the manifest lists %zu layers, the config %zu DiffIDs", sp,
				       n, json_array_size(diff_ids));
	if (n && !(img->layers = calloc(n, sizeof(*img->layers))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	json_array_foreach(layers, i, d)
	{
		struct cstor_oci_layer *l = &img->layers[img->n_layers++];
		const char *lmt = str_member(d, "mediaType");
		if (!lmt || !strv_contains((char *const *)layer_types, lmt))
			return cstor_error_set(err, ENOTSUP, "%s: layer %zu: unsupported media type %s",
					       sp, i, lmt ? lmt : "(none)");
		json_t *sz = json_object_get(d, "size");
		if (!json_is_integer(sz) || json_integer_value(sz) < 0)
			return cstor_error_set(err, EBADMSG, "%s: layer %zu has no valid size", sp, i);
		l->size = (uint64_t)json_integer_value(sz);
		const char *dg = str_member(d, "digest");
		if ((r = blob_path(&l->member, dg, "layer", err)) < 0)
			return r;
		if (!(l->digest = strdup(dg)) || !(l->media_type = strdup(lmt)))
			return cstor_error_set(err, ENOMEM, "out of memory");
		if ((r = set_diff_id(l, diff_ids, i, "config", err)) < 0)
			return r;
	}
	return 0;
}

/* The size of a docker-archive layer as containers/image reports it: of
 * the uncompressed content, which for a compressed member takes a pass. */
static int member_size(uint64_t *size, struct cstor_oci_src *src, const char *name,
		       cstor_error *err)
{
	struct cstor_oci_member m;
	int r = cstor_oci_src_open_member(&m, src, name, err);
	if (r < 0)
		return r;
	unsigned char magic[CSTOR_COMPRESSION_MAGIC_MAX];
	ssize_t n = pread(m.fd, magic, m.size < sizeof(magic) ? m.size : sizeof(magic), m.off);
	*size = m.size;
	if (n > 0 && cstor_compression_detect(magic, (size_t)n) != CSTOR_COMPRESSION_NONE) {
		cstor_decompressor *d = NULL;
		if ((r = cstor_decompressor_new(&d, cstor_oci_member_read, &m, 0, err)) == 0) {
			cstor_decompress_result res;
			r = cstor_decompressor_finish(d, &res, err);
			if (r == 0)
				*size = res.uncompressed_size;
			else
				cstor_error_wrap(err, r, "%s: decompress %s",
						 cstor_oci_src_path(src), name);
			cstor_decompressor_free(d);
		}
	}
	cstor_oci_member_close(&m);
	return r;
}

/* docker-archive: manifest.json names the config and layer files; the
 * manifest is generated exactly as containers/image's docker-archive source
 * generates it, so the stored image gets the same manifest digest. */
static int load_docker(struct cstor_oci_image *img, struct cstor_oci_src *src, const char *ref,
		       cstor_error *err)
{
	const char *sp = cstor_oci_src_path(src);
	_cleanup_free_ char *mbuf = NULL;
	size_t mlen;
	int r = cstor_oci_src_read(&mbuf, &mlen, src, "manifest.json", MAX_SMALL, err);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *items = NULL;
	if ((r = parse(&items, mbuf, mlen, "manifest.json", err)) < 0)
		return r;
	if (!json_is_array(items) || json_array_size(items) == 0)
		return cstor_error_set(err, EBADMSG, "%s: manifest.json lists no images", sp);
	json_t *item = NULL, *it;
	size_t i;
	if (ref && ref[0] == '@') {
		char *end;
		unsigned long k = strtoul(ref + 1, &end, 10);
		if (*end || end == ref + 1 || k >= json_array_size(items))
			return cstor_error_set(err, ENOENT, "%s: no image %s in manifest.json", sp, ref);
		item = json_array_get(items, k);
	} else if (ref) {
		json_array_foreach(items, i, it)
		{
			json_t *tags = json_object_get(it, "RepoTags"), *t;
			size_t k;
			json_array_foreach(tags, k, t) if (json_is_string(t) &&
							   streq(json_string_value(t), ref)) item = it;
			if (item)
				break;
		}
		if (!item)
			return cstor_error_set(err, ENOENT, "%s: no image tagged \"%s\"", sp, ref);
	} else if (json_array_size(items) == 1) {
		item = json_array_get(items, 0);
	} else {
		return cstor_error_set(err, EINVAL,
				       "%s: the archive holds %zu images: name one "
				       "(docker-archive:PATH:TAG or :@N)",
				       sp, json_array_size(items));
	}
	const char *cfgpath = str_member(item, "Config");
	json_t *lpaths = json_object_get(item, "Layers");
	if (!cfgpath || !json_is_array(lpaths))
		return cstor_error_set(err, EBADMSG, "%s: manifest.json entry without Config or Layers",
				       sp);
	if ((r = cstor_oci_src_read(&img->config, &img->config_len, src, cfgpath, MAX_SMALL,
				    err)) < 0)
		return r;
	if ((r = cstor_digest_buffer(img->config_digest, img->config, img->config_len, err)) < 0)
		return r;
	_cleanup_json_ json_t *cfg = NULL;
	json_t *diff_ids = NULL;
	if ((r = parse_config(img, &diff_ids, &cfg, cfgpath, err)) < 0)
		return r;
	size_t n = json_array_size(lpaths);
	if (json_array_size(diff_ids) != n)
		return cstor_error_set(err, EBADMSG,
				       "%s: inconsistent layer count: %zu in manifest.json, %zu in the "
				       "config",
				       sp, n, json_array_size(diff_ids));
	if (n && !(img->layers = calloc(n, sizeof(*img->layers))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	_cleanup_json_ json_t *man = json_pack("{s:i, s:s, s:{s:s, s:I, s:s}, s:[]}",
					       "schemaVersion", 2, "mediaType", MT_DOCKER_MANIFEST,
					       "config", "mediaType",
					       "application/vnd.docker.container.image.v1+json",
					       "size", (json_int_t)img->config_len, "digest",
					       img->config_digest, "layers");
	if (!man)
		return cstor_error_set(err, ENOMEM, "out of memory");
	json_t *mlayers = json_object_get(man, "layers");
	json_array_foreach(lpaths, i, it)
	{
		struct cstor_oci_layer *l = &img->layers[img->n_layers++];
		const char *p = json_string_value(it);
		if (!p)
			return cstor_error_set(err, EBADMSG, "%s: manifest.json: bad layer path", sp);
		if ((r = set_diff_id(l, diff_ids, i, cfgpath, err)) < 0)
			return r;
		if (!(l->member = strdup(p)) || !(l->digest = strdup(l->diff_id)) ||
		    !(l->media_type = strdup(MT_DOCKER_LAYER)))
			return cstor_error_set(err, ENOMEM, "out of memory");
		l->decompress = true;
		if ((r = member_size(&l->size, src, p, err)) < 0)
			return r;
		json_t *ld = json_pack("{s:s, s:I, s:s}", "mediaType", MT_DOCKER_LAYER, "size",
				       (json_int_t)l->size, "digest", l->diff_id);
		if (!ld || json_array_append_new(mlayers, ld) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	/* Go's encoding/json: compact, struct field order, no escaping of
	 * '/' (jansson escapes it only with JSON_ESCAPE_SLASH). */
	if (!(img->manifest = json_dumps(man, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		return cstor_error_set(err, ENOMEM, "out of memory");
	img->manifest_len = strlen(img->manifest);
	if ((r = cstor_digest_buffer(img->manifest_digest, img->manifest, img->manifest_len, err)) <
	    0)
		return r;
	json_t *tags = json_object_get(item, "RepoTags"), *t;
	if (!(img->names = calloc(1, sizeof(char *))))
		return cstor_error_set(err, ENOMEM, "out of memory");
	json_array_foreach(tags, i, t) if (json_is_string(t) &&
					   strv_append(&img->names, json_string_value(t)) < 0) return
		cstor_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int cstor_oci_image_load(struct cstor_oci_image *img, struct cstor_oci_src *src, bool docker,
			 const char *ref, cstor_error *err)
{
	*img = (struct cstor_oci_image){ 0 };
	int r = docker ? load_docker(img, src, ref, err) : load_oci(img, src, ref, err);
	if (r < 0)
		cstor_oci_image_clear(img);
	return r;
}
