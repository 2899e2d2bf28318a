/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Docker schema 2 manifest turned into an OCI image manifest, as skopeo
 * does when it copies such an image to an "oci:" destination: OCI layout
 * readers (skopeo 1.9's among them) only look at OCI manifests in
 * index.json, so a Docker manifest written as it is would not be found.
 *
 * Unlike containers/image, the config is kept as it is (same digest, so
 * the same image ID when the export is imported again); only its
 * descriptor's media type changes. A layer's OCI media type follows the
 * blob actually written, not the Docker media type: a docker-archive import
 * stores uncompressed blobs under "...diff.tar.gzip" (as containers/image's
 * docker-archive source describes them).
 */
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "archive/compress.h"
#include "util/error-internal.h"
#include "oci/export-internal.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define DOCKER_TAR "application/vnd.docker.image.rootfs.diff.tar"
#define DOCKER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define DOCKER_FOREIGN_TAR "application/vnd.docker.image.rootfs.foreign.diff.tar"
#define DOCKER_FOREIGN_GZIP "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* Whether @mt is a Docker layer media type; @foreign: a foreign one. */
static bool docker_layer_type(const char *mt, bool *foreign)
{
	*foreign = mt && (streq(mt, DOCKER_FOREIGN_TAR) || streq(mt, DOCKER_FOREIGN_GZIP));
	return mt && (*foreign || streq(mt, DOCKER_TAR) || streq(mt, DOCKER_GZIP));
}

int cstor_export_docker_check(const struct cstor_export_image *x, cstor_error *err)
{
	json_t *layers = json_object_get(x->manifest, "layers");
	for (size_t i = 0; i < json_array_size(layers); i++) {
		const char *mt =
			json_string_value(json_object_get(json_array_get(layers, i), "mediaType"));
		bool foreign;
		/* containers/image refuses to convert these too. */
		if (!docker_layer_type(mt, &foreign))
			return cstor_error_set(err, ENOTSUP,
					       "image %s: layer %zu has media type %s, which has "
					       "no OCI equivalent",
					       x->id, i + 1, mt ? mt : "(none)");
	}
	return 0;
}

/* The compression of blob @digest in @l, from its first bytes: whichever
 * way export-layers.c produced it (kept, reassembled, recompressed, already
 * there), the bytes are what a reader will see. */
static int blob_compression(cstor_compression *out, struct cstor_export_layout *l,
			    const char *digest, cstor_error *err)
{
	const char *hex = startswith(digest, "sha256:");
	_cleanup_close_ int fd =
		openat(l->blobs_fd, hex ? hex : digest, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open blob %s", digest);
	unsigned char buf[CSTOR_COMPRESSION_MAGIC_MAX];
	size_t n = 0;
	while (n < sizeof(buf)) {
		ssize_t k = pread(fd, buf + n, sizeof(buf) - n, (off_t)n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return cstor_error_errno(err, errno, "read blob %s", digest);
		if (k == 0)
			break;
		n += (size_t)k;
	}
	*out = cstor_compression_detect(buf, n);
	return 0;
}

static const char *oci_layer_type(cstor_compression c, bool foreign)
{
	switch (c) {
	case CSTOR_COMPRESSION_NONE:
		return foreign ? "application/vnd.oci.image.layer.nondistributable.v1.tar"
			       : "application/vnd.oci.image.layer.v1.tar";
	case CSTOR_COMPRESSION_GZIP:
		return foreign ? "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
			       : "application/vnd.oci.image.layer.v1.tar+gzip";
	case CSTOR_COMPRESSION_ZSTD:
		return foreign ? "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
			       : "application/vnd.oci.image.layer.v1.tar+zstd";
	default:
		return NULL;
	}
}

/* The OCI descriptor of layer @i (keys in the order Go marshals an OCI
 * descriptor, as skopeo writes it). */
static int oci_layer(json_t **out, const struct cstor_export_image *x,
		     struct cstor_export_layout *l, json_t *d, size_t i, cstor_error *err)
{
	bool foreign;
	docker_layer_type(json_string_value(json_object_get(d, "mediaType")), &foreign);
	cstor_compression c = CSTOR_COMPRESSION_NONE;
	int r = blob_compression(&c, l, json_string_value(json_object_get(d, "digest")), err);
	if (r < 0)
		return r;
	const char *mt = oci_layer_type(c, foreign);
	if (!mt)
		return cstor_error_set(err, ENOTSUP,
				       "image %s: layer %zu is %s-compressed, which OCI has no "
				       "media type for",
				       x->id, i + 1, cstor_compression_name(c));
	_cleanup_(json_decrefp) json_t *o = json_object();
	json_t *urls = json_object_get(d, "urls"), *ann = json_object_get(d, "annotations");
	if (!o || json_object_set_new(o, "mediaType", json_string(mt)) < 0 ||
	    json_object_set(o, "digest", json_object_get(d, "digest")) < 0 ||
	    json_object_set(o, "size", json_object_get(d, "size")) < 0 ||
	    (urls && json_object_set(o, "urls", urls) < 0) ||
	    (ann && json_object_set(o, "annotations", ann) < 0))
		return cstor_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(o);
	return 0;
}

int cstor_export_convert_to_oci(struct cstor_export_image *x, struct cstor_export_layout *l,
				cstor_error *err)
{
	json_t *config = json_object_get(x->manifest, "config");
	json_t *layers = json_object_get(x->manifest, "layers");
	_cleanup_(json_decrefp) json_t *m = json_object();
	if (!m)
		return cstor_error_set(err, ENOMEM, "out of memory");
	/* set_new takes the reference even when it fails, and refuses NULL. */
	json_t *c = json_object(), *ls = json_array();
	if (json_object_set_new(m, "schemaVersion", json_integer(2)) < 0 ||
	    json_object_set_new(m, "mediaType", json_string(MT_OCI_MANIFEST)) < 0 ||
	    json_object_set_new(m, "config", c) < 0 || json_object_set_new(m, "layers", ls) < 0 ||
	    json_object_set_new(c, "mediaType", json_string(MT_OCI_CONFIG)) < 0 ||
	    json_object_set(c, "digest", json_object_get(config, "digest")) < 0 ||
	    json_object_set(c, "size", json_object_get(config, "size")) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(layers); i++) {
		json_t *o = NULL;
		int r = oci_layer(&o, x, l, json_array_get(layers, i), i, err);
		if (r < 0)
			return r;
		if (json_array_append_new(ls, o) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
	}
	/* The config digest string is shared with @m, so what borrowed it
	 * from the old manifest stays valid. */
	json_decref(x->manifest);
	x->manifest = TAKE_PTR(m);
	x->docker = false;
	x->rewritten = true;
	return 0;
}
