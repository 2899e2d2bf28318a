/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images in and out of a store: OCI image layouts, oci-archive and
 * docker-archive tarballs.
 *
 * Import stores an image the way containers/image's "containers-storage:"
 * destination (skopeo copy, podman pull/load) stores it, so those tools see
 * it as if they had stored it themselves:
 *  - layer IDs are chain IDs: the first layer's is its DiffID (hex), each
 *    next one sha256("<parent ID>+<DiffID hex>"); a layer the store (or a
 *    read-only additional store) already has under that ID is reused, not
 *    applied again;
 *  - the image ID is the config's digest (hex);
 *  - big data: the config under its digest ("sha256:..."), the manifest under
 *    "manifest-<digest>" and "manifest" (a manifest list chosen from is kept
 *    under its own "manifest-<digest>" first, making it the image digest),
 *    an empty "signature-<hex>", metadata {"signatures-sizes":...};
 *  - the image's creation date is the config's "created".
 * Blob digests and the config's DiffIDs are checked while the blobs are
 * read; a mismatch, a missing blob, a truncated archive or a config that is
 * not JSON fails the import, and the layers made for it are removed (layers
 * reused from before are left alone), so no half-imported image is left.
 *
 * Export writes an OCI layout (or an oci-archive) whose manifest is the one
 * stored, byte for byte, so its digest is the original's. Layer blobs come
 * from the layers: an uncompressed layer is reassembled from its tar-split;
 * a compressed one from the original blob cstor keeps next to the layer
 * (layer big data CSTOR_KEPT_BLOB_PREFIX + digest, see
 * CSTOR_IMPORT_NO_KEEP_BLOBS). When a compressed blob was not kept (the
 * layer was stored by skopeo/podman, or imported without keeping), the
 * layer is written gzip-compressed by cstor and the manifest rewritten to
 * match (new digest): the export says so in its result.
 * A Docker schema 2 manifest (what a docker-archive import stores, or podman
 * pulling from Docker Hub) is converted to an OCI image manifest, as skopeo
 * does when copying to an OCI layout, whose readers look only for OCI
 * manifests: same config blob and digest (only its descriptor's media type
 * becomes OCI's), each layer's OCI media type chosen by the compression of
 * the blob actually written (a docker-archive import's blobs are
 * uncompressed although the manifest says gzip), foreign layers becoming
 * non-distributable ones, urls and annotations kept. That is also a
 * rewritten manifest with a new digest, said so in the result.
 */
#ifndef CSTOR_TRANSFER_H
#define CSTOR_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>
#include <cstor/store.h>

CSTOR_BEGIN_DECL

/* Layer big data key prefix of a kept original (compressed) layer blob;
 * the key is the prefix followed by the blob digest ("sha256:..."). */
#define CSTOR_KEPT_BLOB_PREFIX "cstor.blob-"

/* Progress of an import or export, for a caller that shows it. */
typedef struct cstor_progress {
	unsigned int layer;     /* index of the current layer, 0-based */
	unsigned int n_layers;  /* layers in the image */
	const char *digest;     /* the current layer's blob digest */
	uint64_t layer_done;    /* blob bytes of the current layer done */
	uint64_t layer_total;   /* its blob size */
	uint64_t bytes_done;    /* blob bytes of all layers done (reused count as done) */
	uint64_t bytes_total;   /* all layers' blob sizes */
	int reused;             /* the current layer was already in the store */
	int layer_finished;     /* this call reports the end of the current layer */
} cstor_progress;

/* Called often (at most every 64 KiB of input and once per layer end);
 * must not call back into the store. */
typedef void (*cstor_progress_fn)(void *ctx, const cstor_progress *progress);

enum {
	/* Do not keep compressed layer blobs: saves their size on disk, but an
	 * export then recompresses those layers (new blob and manifest
	 * digests). */
	CSTOR_IMPORT_NO_KEEP_BLOBS = 1 << 0,
};

#define CSTOR_IMPORT_OPTIONS_VERSION 1

typedef struct cstor_import_options {
	unsigned int version;     /* CSTOR_IMPORT_OPTIONS_VERSION */
	const char *const *names; /* NULL-terminated, may be NULL: names to give the image */
	uint32_t flags;           /* CSTOR_IMPORT_* */
	cstor_progress_fn progress;
	void *progress_ctx;
} cstor_import_options;

#define CSTOR_IMPORT_OPTIONS_INIT { CSTOR_IMPORT_OPTIONS_VERSION, 0, 0, 0, 0 }

/**
 * Import an image.
 *
 * @param source "oci:DIR[:REF]", "oci-archive:FILE[:REF]",
 *        "docker-archive:FILE[:REF-or-@INDEX]", or a bare path whose kind
 *        is detected (a directory with an oci-layout file; a tarball with
 *        oci-layout or manifest.json). REF picks a manifest of index.json by
 *        its org.opencontainers.image.ref.name annotation (needed when the
 *        index has more than one); for a docker-archive, one of the
 *        RepoTags or "@N" for the Nth image.
 *        Names given in @opts are normalised as Docker references
 *        ("busybox" is "docker.io/library/busybox:latest"); a
 *        docker-archive's RepoTags are the names when @opts gives none;
 *        for an OCI layout or archive, the chosen entry's ref.name
 *        annotation, under localhost/ when it names no registry (as
 *        podman load names it).
 * @param[out] image_id (may be NULL) malloc'd ID of the image
 * @return 0, -ENOENT (no such source, ref or blob), -EBADMSG (a corrupt
 *         or mismatching source, named in @err), -EEXIST (an image with
 *         this ID exists with a different top layer), -ENOTSUP (a manifest
 *         type or layer media type cstor cannot store), I/O errors
 */
CSTOR_PUBLIC int cstor_store_import_image(char **image_id, cstor_store *store,
					  const char *source, const cstor_import_options *opts,
					  cstor_error *err);

#define CSTOR_EXPORT_OPTIONS_VERSION 1

typedef struct cstor_export_options {
	unsigned int version; /* CSTOR_EXPORT_OPTIONS_VERSION */
	uint32_t flags;       /* none defined yet; must be 0 */
	cstor_progress_fn progress;
	void *progress_ctx;
} cstor_export_options;

#define CSTOR_EXPORT_OPTIONS_INIT { CSTOR_EXPORT_OPTIONS_VERSION, 0, 0, 0 }

/* What an export wrote. */
typedef struct cstor_export_result {
	char *manifest_digest; /* of the manifest written */
	int manifest_rewritten; /* non-zero: not the stored manifest (layers
				 * recompressed or Docker schema 2 converted
				 * to OCI, see above) */
} cstor_export_result;

CSTOR_PUBLIC void cstor_export_result_clear(cstor_export_result *result);

/**
 * Export image @ref to @dest: "oci:DIR[:REF]" (created, or added to: an
 * existing entry with the same REF is replaced) or "oci-archive:FILE[:REF]"
 * (written whole; replaced atomically), "docker-archive:FILE[:NAME]"
 * (docker save's format with uncompressed layers checked against the
 * config's DiffIDs; NAME, normalised, is its RepoTags; replaced
 * atomically) or "dir:DIR" (containers/image's dir: transport; DIR must
 * not exist, be empty or hold a dir: image, replaced in one rename).
 * REF becomes the
 * org.opencontainers.image.ref.name annotation; without one, the entry
 * of the same manifest without a ref is replaced. The path ends at the
 * first ':' after the transport, so it cannot contain one.
 *
 * @param[out] result (may be NULL) cleared with cstor_export_result_clear()
 * @return 0, -ENOENT (no such image, or a blob the image needs is
 *         missing), -EBADMSG (stored data that does not match its digest,
 *         or layers that do not match the manifest), -EINVAL (a bad
 *         @dest), -ENOTSUP (a manifest list or schema 1 manifest stored as
 *         the image's manifest, or a Docker manifest with a layer that has
 *         no OCI media type), I/O errors
 */
CSTOR_PUBLIC int cstor_store_export_image(cstor_export_result *result, cstor_store *store,
					  const char *ref, const char *dest,
					  const cstor_export_options *opts, cstor_error *err);

CSTOR_END_DECL

#endif
