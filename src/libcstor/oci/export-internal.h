/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pieces of cstor_store_export_image(): destination parsing, the OCI
 * layout writer, the oci-archive writer, the conversion of Docker schema 2
 * manifests and the access to kept layer blobs (oci/export*.c).
 */
#ifndef CSTOR_OCI_EXPORT_INTERNAL_H
#define CSTOR_OCI_EXPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cstor/layer.h>
#include <cstor/store.h>
#include <cstor/transfer.h>

#include "archive/digest.h"

/* ---- Destination (export-dest.c) ----------------------------------------- */

enum cstor_export_kind {
	CSTOR_EXPORT_OCI_DIR,
	CSTOR_EXPORT_OCI_ARCHIVE,
	CSTOR_EXPORT_DOCKER_ARCHIVE, /* docker save's format, uncompressed layers */
	CSTOR_EXPORT_DIR,            /* containers/image's dir: transport */
};

struct cstor_export_dest {
	enum cstor_export_kind kind;
	char *path;
	char *ref; /* NULL: no org.opencontainers.image.ref.name (docker-archive:
		    * the normalised RepoTags name; dir: always NULL) */
};

/* Parse "oci:DIR[:REF]", "oci-archive:FILE[:REF]", "docker-archive:FILE[:NAME]"
 * or "dir:DIR". -EINVAL (with a
 * message naming the accepted forms) for anything else. */
int cstor_export_dest_parse(struct cstor_export_dest *d, const char *dest, cstor_error *err);
void cstor_export_dest_done(struct cstor_export_dest *d);

/* Whether @ref is a valid OCI ref name (image-layout's grammar, as
 * containers/image's oci transport checks it). */
bool cstor_export_ref_valid(const char *ref);

/* ---- OCI layout (export-layout.c) ----------------------------------------- */

/* Reports blob bytes written as cstor_progress (every 64 KiB). */
struct cstor_export_progress {
	cstor_progress_fn fn; /* NULL: nothing reported */
	void *ctx;
	cstor_progress p;
	uint64_t reported; /* p.layer_done at the last call */
};
void cstor_export_progress_add(struct cstor_export_progress *pr, uint64_t n);
void cstor_export_progress_finish(struct cstor_export_progress *pr);

struct cstor_export_layout {
	int dir_fd;
	int blobs_fd; /* blobs/sha256 */
	bool durable; /* sync blobs and index.json (not for an archive's staging copy) */
	/* Made by this export, undone by cstor_export_layout_close(.., true). */
	bool made_dir, made_blobs, made_sha256;
	char **new_blobs; /* hex names */
	size_t n_new_blobs;
};

/* Open (or create) the layout directory @path with blobs/sha256 in it. */
int cstor_export_layout_open(struct cstor_export_layout *l, const char *path, bool durable,
			     cstor_error *err);
/* Close the layout; after a failure (@failed), remove the blobs and the
 * directories this export created. */
void cstor_export_layout_close(struct cstor_export_layout *l, const char *path, bool failed);

/* Whether blobs/sha256/<hex of @digest> is a regular file of @size bytes. */
bool cstor_export_layout_has_blob(struct cstor_export_layout *l, const char *digest,
				  int64_t size);

/* A blob being written: a temporary file in blobs/sha256, hashed as it
 * grows. cstor_export_blob_write is a cstor_write_fn. */
struct cstor_export_blob {
	struct cstor_export_layout *layout;
	int fd;
	char tmp[40];
	cstor_digester dg;
	uint64_t size;
	struct cstor_export_progress *progress; /* may be NULL */
};

int cstor_export_blob_begin(struct cstor_export_blob *b, struct cstor_export_layout *l,
			    struct cstor_export_progress *progress, cstor_error *err);
int cstor_export_blob_write(void *ctx, const void *buf, size_t len);
/* Finish the blob: its digest must be @expect_digest and its size
 * @expect_size when given (NULL, -1: anything), else -EBADMSG naming
 * @what. The digest goes to @digest_out (may be NULL). The blob is renamed
 * to its digest; on failure it is removed. */
int cstor_export_blob_commit(struct cstor_export_blob *b, const char *expect_digest,
			     int64_t expect_size, char digest_out[CSTOR_DIGEST_STRING_MAX],
			     const char *what, cstor_error *err);
/* Drop an unfinished blob (idempotent). */
void cstor_export_blob_abort(struct cstor_export_blob *b);

/* Copy everything from @fd into a blob (reflinked when the filesystem can). */
int cstor_export_blob_copy_fd(struct cstor_export_blob *b, int fd, cstor_error *err);

/* Write a blob held in memory. */
int cstor_export_layout_put(struct cstor_export_layout *l, const void *data, size_t len,
			    const char *expect_digest, char digest_out[CSTOR_DIGEST_STRING_MAX],
			    const char *what, cstor_error *err);

/* Add the manifest to index.json (replacing the entry with the same @ref,
 * or without a ref the entry of the same digest that has none) and write
 * oci-layout. */
int cstor_export_layout_add_manifest(struct cstor_export_layout *l, const char *media_type,
				     const char *digest, int64_t size, const char *ref,
				     cstor_error *err);

/* ---- Layers (export-layers.c) -------------------------------------------- */

/* What export knows about the image once it has checked it. */
struct cstor_export_image {
	cstor_store *store;
	const char *id;
	json_t *manifest;  /* parsed; layer descriptors are rewritten in it */
	bool docker;       /* Docker schema 2 (else OCI) */
	json_t *diff_ids;  /* the config's rootfs.diff_ids (borrowed), or NULL */
	cstor_layer **layers; /* the image's layers, base first, one per
			       * manifest layer */
	size_t n_layers;
	struct cstor_export_progress progress;
	bool rewritten; /* the manifest was changed (layers recompressed, or
			 * converted from Docker schema 2) */
	/* Set by a push (cstor_oci_export_tuned): the compression layers are
	 * written with anew (0: gzip), and when given, also the kept or
	 * uncompressed blobs of another compression; its level (0: the
	 * format's default); how many layers are compressed at once (0, 1:
	 * one after the other); a flag that stops the export (-ECANCELED). */
	int compression;
	bool force_compression;
	int level;
	unsigned parallel;
	const volatile int *cancel;
};

/* Write the blob of every layer into @l, rewriting the descriptors of the
 * layers that have to be recompressed. */
int cstor_export_layers(struct cstor_export_image *x, struct cstor_export_layout *l,
			cstor_error *err);

/* ---- Docker schema 2 to OCI (export-convert.c) ---------------------------- */

/* Whether every layer of the Docker schema 2 manifest of @x has a Docker
 * layer media type, which conversion needs (-ENOTSUP if not); checked
 * before anything is written. */
int cstor_export_docker_check(const struct cstor_export_image *x, cstor_error *err);

/* Replace the Docker schema 2 manifest of @x, whose layer blobs are in @l,
 * by the equivalent OCI image manifest (same config, layer media types by
 * the compression of the blobs written); sets x->rewritten. */
int cstor_export_convert_to_oci(struct cstor_export_image *x, struct cstor_export_layout *l,
				cstor_error *err);

/* ---- oci-archive (export-archive.c) --------------------------------------- */

/* Write the layout in @layout_fd as a tarball to @file, replacing it
 * atomically. */
int cstor_export_archive_write(int layout_fd, const char *file, cstor_error *err);

/*
 * A docker-archive (what `docker save`, `podman save` and containers/image's
 * docker-archive transport write and read): manifest.json, the config as
 * <hex>.json and each layer uncompressed as <DiffID hex>.tar, taken from
 * the blobs of the staged layout @layout_fd, replacing @file atomically.
 * @layers are the DiffIDs, base first; @repo_tag may be NULL.
 */
int cstor_export_docker_archive_write(int layout_fd, const char *file, const char *config_digest,
				      char *const *layers, const char *repo_tag, cstor_error *err);

/* Names of the staging directory and the temporary tarball an export to
 * the archive @base makes next to it (printf formats: a random suffix). */
#define CSTOR_ARCHIVE_STAGING_FMT ".%s.export-"
#define CSTOR_ARCHIVE_TMP_FMT ".%s.tmp-"

/* Remove what exports to @file that were killed left next to it: its
 * staging directories and temporary tarballs. Each is locked (flock) by
 * its export while it lives, so one that can be locked is dead; other
 * names are left alone. Errors are ignored: this is tidying. */
void cstor_export_archive_remove_dead(const char *file);

/* ---- Kept layer blobs (export-layerdata.c) ------------------------------- */

/* Open layer @id's big data item @key read-only, under its layer store's
 * shared lock (taken and released here). -ENOENT when the layer or the
 * item is gone. */
int cstor_export_open_layer_data(int *fd_out, cstor_store *store, const char *id,
				 const char *key, cstor_error *err);

#endif
