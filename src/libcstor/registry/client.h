/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client of one repository of a registry speaking the OCI distribution
 * spec (v1.1) over libcurl: manifests and blobs fetched and pushed, with
 * the registry's authentication (basic, or bearer tokens from the realm of
 * WWW-Authenticate), retries of 429 and 5xx answers with backoff honouring
 * Retry-After, and blob downloads that resume with a Range request when
 * the connection drops. It knows nothing of images or stores: oci/pull.c
 * and oci/push.c use it.
 */
#ifndef CSTOR_REGISTRY_CLIENT_H
#define CSTOR_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cstor/error.h>

#include "archive/digest.h"

struct cstor_reg_options {
	const char *creds;    /* "USER[:PASSWORD]", or NULL: from the auth file */
	const char *authfile; /* NULL: the default search (registry/auth.c) */
	const char *cert_dir; /* NULL: /etc/containers/certs.d/HOST */
	bool no_tls_verify;   /* no certificate checks, and plain HTTP allowed */
	bool push;            /* ask for push access too */
	/* Non-zero *cancel stops blob downloads between chunks (-ECANCELED). */
	const volatile int *cancel;
};

struct cstor_reg;

/* A client for @repo ("library/busybox") at @host ("docker.io",
 * "localhost:5000"). Nothing is sent yet. */
int cstor_reg_new(struct cstor_reg **out, const char *host, const char *repo,
		  const struct cstor_reg_options *o, cstor_error *err);
void cstor_reg_free(struct cstor_reg *r);
/* "host/repo", for messages. */
const char *cstor_reg_name(const struct cstor_reg *r);

/* A manifest by tag or digest, at most @max bytes (-EFBIG beyond). Its
 * digest is computed from the bytes; when @ref is a digest, the bytes
 * must match it (-EBADMSG). *media_type may be NULL when the registry
 * sent none. -ENOENT when the registry does not know it. */
int cstor_reg_get_manifest(struct cstor_reg *r, const char *ref, size_t max, char **body,
			   size_t *len, char **media_type,
			   char digest[static CSTOR_DIGEST_STRING_MAX], cstor_error *err);
/* Every tag of the repository, following the Link header's rel="next"
 * pages, in the registry's order (NULL-terminated, strv_free). */
int cstor_reg_list_tags(char ***tags, struct cstor_reg *r, cstor_error *err);
/* A small blob (a config) read whole; its digest is not checked here. */
int cstor_reg_get_blob(struct cstor_reg *r, const char *digest, size_t max, char **body,
		       size_t *len, cstor_error *err);

/* A blob read as a stream, resumed where it broke off. Several may be
 * read at once from different threads (one thread per stream). */
struct cstor_reg_blob;
int cstor_reg_blob_open(struct cstor_reg_blob **out, struct cstor_reg *r, const char *digest,
			uint64_t size, cstor_error *err);
/* Bytes of the blob, 0 at its end; -errno with @err set. More bytes than
 * @size is an error (-EBADMSG). */
ssize_t cstor_reg_blob_read(struct cstor_reg_blob *b, void *buf, size_t len, cstor_error *err);
void cstor_reg_blob_close(struct cstor_reg_blob *b);

/* Push. */
int cstor_reg_blob_exists(bool *exists, struct cstor_reg *r, const char *digest,
			  cstor_error *err);
/* Cross-repository mount of blob @digest from repository @from of the
 * same registry: *mounted false when the registry would not (it does not
 * have it there, or does not mount); it then opened an upload session
 * (202), whose location goes to *session (malloc'd, replacing what was
 * there; may stay NULL) for cstor_reg_blob_upload. */
int cstor_reg_blob_mount(bool *mounted, char **session, struct cstor_reg *r, const char *digest,
			 const char *from, cstor_error *err);
typedef ssize_t (*cstor_reg_read_fn)(void *ctx, void *buf, size_t len);
/* Upload @size bytes read from @read as blob @digest: one POST for the
 * session (none when @session, a location a mount's 202 gave, is given),
 * then the data in one PUT (monolithic) or, when @chunk is not
 * 0, in PATCHes of @chunk bytes and a closing PUT. */
int cstor_reg_blob_upload(struct cstor_reg *r, const char *digest, uint64_t size,
			  const char *session,
			  cstor_reg_read_fn read, void *ctx, size_t chunk, cstor_error *err);
int cstor_reg_put_manifest(struct cstor_reg *r, const char *ref, const char *media_type,
			   const char *body, size_t len, cstor_error *err);

/* auth.c: credentials for @host from the auth files podman and skopeo use,
 * in their order: @authfile when given (and only it), else
 * ${XDG_RUNTIME_DIR}/containers/auth.json and ~/.config/containers/
 * auth.json (or $REGISTRY_AUTH_FILE in their place when set), then
 * ~/.docker/config.json. A key may be
 * "host", "host/repo..." (the longest match wins) or a URL of the host.
 * *user and *pass stay NULL when no file has the host. */
int cstor_reg_auth_lookup(char **user, char **pass, const char *authfile, const char *host,
			  const char *repo, cstor_error *err);

#endif
