/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images from and to registries (the OCI distribution spec, "docker://"
 * references), see docs/registries.md.
 *
 * A pull stores the image exactly as cstor_store_import_image() stores an
 * OCI layout's, and so as `skopeo copy docker://REF containers-storage:`
 * does: same layer IDs, image ID, big data and names. Layer blobs are
 * downloaded several at once, each into the file kept as the layer's
 * original blob, and applied while they arrive (decompressed, hashed and
 * applied in one pass); digest and DiffID are checked before a layer
 * becomes visible, and a pull that fails removes the layers it made.
 *
 * Credentials: @creds, else the auth file (@authfile, else
 * $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json,
 * ~/.config/containers/auth.json, ~/.docker/config.json). Certificates:
 * the system CAs plus the .crt files of @cert_dir (default
 * /etc/containers/certs.d/HOST), a client .cert and .key there.
 * registries.conf (mirrors, location rewrites, insecure and blocked
 * registries, short-name aliases and search registries) is read as
 * docs/registries.md says.
 */
#ifndef CSTOR_REGISTRY_H
#define CSTOR_REGISTRY_H

#include <stdint.h>

#include <cstor/common.h>
#include <cstor/error.h>
#include <cstor/store.h>
#include <cstor/transfer.h>

CSTOR_BEGIN_DECL

enum {
	/* Do not check the registry's certificate, and use plain HTTP when it
	 * speaks no TLS (--tls-verify=false). Loopback registries may always
	 * be plain HTTP. */
	CSTOR_REGISTRY_NO_TLS_VERIFY = 1 << 0,
	/* Pull: every instance of a manifest list (not @platform), each
	 * stored as a pull of its platform stores it; the names go to the
	 * host's instance (else the list's first), whose ID is returned.
	 * Instances of os "unknown" (build attestations) are passed over. */
	CSTOR_PULL_ALL_PLATFORMS = 1 << 1,
};

/* Version 2 added @cancel; version 1 structures are still accepted. */
#define CSTOR_PULL_OPTIONS_VERSION 2

typedef struct cstor_pull_options {
	unsigned int version;              /* CSTOR_PULL_OPTIONS_VERSION */
	const cstor_import_options *import; /* names, flags, progress; NULL: defaults.
					     * No names: the reference is the name. */
	const char *creds;    /* "USER[:PASSWORD]" or NULL */
	const char *authfile; /* NULL: the default search */
	const char *cert_dir; /* NULL: /etc/containers/certs.d/HOST */
	const char *platform; /* "OS/ARCH[/VARIANT]" from manifest lists; NULL: the host's */
	uint32_t flags;       /* CSTOR_REGISTRY_* */
	unsigned int parallel; /* layer blobs downloaded at once; 0: 3 */
	/* Version 2. When set and *cancel becomes non-zero (a signal handler
	 * may set it), the pull stops at the next chunk of a blob or the
	 * next layer and returns -ECANCELED: what it made is removed as
	 * after any failed pull, and what an interrupted process would leave
	 * (its journal) the next writer removes. */
	const volatile int *cancel;
} cstor_pull_options;

#define CSTOR_PULL_OPTIONS_INIT { CSTOR_PULL_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0 }

/**
 * Pull image @ref ("[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]"; a short
 * name is Docker Hub's: "busybox" is "docker.io/library/busybox:latest").
 *
 * @param[out] image_id (may be NULL) malloc'd ID of the image
 * @return 0, -EINVAL (a bad reference or option), -ENOENT (no such
 *         repository, tag, or blob, or no image for the platform), -EACCES
 *         (401/403), -EBADMSG (a blob or manifest not matching its digest,
 *         or an oversize manifest), -ECANCELED (opts->cancel), -ENOTSUP, network errors (-EIO,
 *         -EHOSTUNREACH, -ETIMEDOUT, -EPROTO for TLS), store errors
 */
CSTOR_PUBLIC int cstor_store_pull_image(char **image_id, cstor_store *store, const char *ref,
					const cstor_pull_options *opts, cstor_error *err);

/* Version 2 added the fields after @progress_ctx; version 1 structures
 * are still accepted. */
/**
 * The tags of repository @ref ("[docker://]HOST[:PORT]/REPO", a tag or
 * digest in it ignored; a short name is Docker Hub's), every page of the
 * registry's answer (its Link headers' rel="next"), in the registry's
 * order. Of @opts (NULL: defaults), the credentials, certificates, TLS
 * flag and @cancel are used. registries.conf may rewrite or block the
 * location; mirrors are not asked.
 *
 * @param[out] tags NULL-terminated, freed with cstor_strv_free()
 * @return 0, -EINVAL, -ENOENT (no such repository), -EACCES, -EBADMSG
 *         (an answer that is no tags list), -ELOOP (a page naming itself
 *         as the next), network errors as for a pull
 */
CSTOR_PUBLIC int cstor_registry_list_tags(char ***tags, const char *ref,
					  const cstor_pull_options *opts, cstor_error *err);

#define CSTOR_PUSH_OPTIONS_VERSION 2

typedef struct cstor_push_options {
	unsigned int version; /* CSTOR_PUSH_OPTIONS_VERSION */
	const char *creds;
	const char *authfile;
	const char *cert_dir;
	uint32_t flags;       /* CSTOR_REGISTRY_* */
	size_t chunk_size;    /* 0: each blob in one PUT; else PATCHes of this size */
	cstor_progress_fn progress;
	void *progress_ctx;
	/* Version 2. 0: kept original blobs are sent as they are, other
	 * layers gzipped; CSTOR_DIFF_GZIP or CSTOR_DIFF_ZSTD (layer.h):
	 * every layer is sent in that compression, kept blobs of another
	 * compression (or uncompressed) compressed anew (new digests). */
	int compression;
	int compression_level; /* 0: the format's default (gzip 6, zstd 3);
				* gzip 1-9, zstd 1-20 */
	unsigned int parallel; /* layers compressed at once; 0: 3 */
	const volatile int *cancel; /* as cstor_pull_options' */
} cstor_push_options;

#define CSTOR_PUSH_OPTIONS_INIT { CSTOR_PUSH_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/**
 * Push image @image (ID, prefix or name) to @dest ("[docker://]HOST/REPO
 * [:TAG]"). Blobs the registry has are not sent again. The manifest sent
 * is the one cstor_store_export_image() would write: the stored one when
 * the original compressed blobs were kept, so the pushed digest is the
 * pulled one.
 *
 * @param[out] result (may be NULL) the pushed manifest's digest
 * @return 0, -EINVAL (a bad reference or option), -ECANCELED
 *         (opts->cancel), registry, network and store errors as for a pull
 */
CSTOR_PUBLIC int cstor_store_push_image(cstor_export_result *result, cstor_store *store,
					const char *image, const char *dest,
					const cstor_push_options *opts, cstor_error *err);

CSTOR_END_DECL

#endif
