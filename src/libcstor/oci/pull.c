/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pull (include/cstor/registry.h): a registry repository opened as an
 * image source (oci/registry-src.c) and imported as an OCI layout is, so
 * the records are the ones an import of the same image makes.
 */
#include <stdlib.h>
#include <string.h>

#include <cstor/registry.h>

#include "oci/import.h"
#include "oci/pull.h"
#include "oci/refname.h"
#include "oci/registry-src.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/macro.h"

int cstor_oci_parse_docker_ref(struct cstor_docker_ref *ref, const char *in, cstor_error *err)
{
	*ref = (struct cstor_docker_ref){ 0 };
	const char *s = in;
	if (strncmp(s, "docker://", 9) == 0)
		s += 9;
	else if (strncmp(s, "docker:", 7) == 0)
		s += 7;
	if (!s[0])
		return cstor_error_set(err, EINVAL, "\"%s\": no image reference", in);
	int r = cstor_refname_normalize(&ref->name, s, err);
	if (r < 0)
		return r;
	char *slash = strchr(ref->name, '/');
	char *at = strchr(ref->name, '@');
	const char *last = strrchr(ref->name, '/');
	char *colon = strrchr(last, ':');
	if (at && colon > at)
		colon = NULL;
	ref->host = strndup(ref->name, (size_t)(slash - ref->name));
	const char *repo_end = colon ? colon : at ? at : ref->name + strlen(ref->name);
	ref->repo = strndup(slash + 1, (size_t)(repo_end - slash - 1));
	/* A digest wins over a tag (containers/image fetches by the digest). */
	ref->ref = at ? strdup(at + 1) : strdup(colon ? colon + 1 : "latest");
	if (!ref->host || !ref->repo || !ref->ref) {
		cstor_docker_ref_clear(ref);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

void cstor_docker_ref_clear(struct cstor_docker_ref *ref)
{
	free(ref->name);
	free(ref->host);
	free(ref->repo);
	free(ref->ref);
	*ref = (struct cstor_docker_ref){ 0 };
}

int cstor_store_pull_image(char **image_id, cstor_store *s, const char *refstr,
			   const cstor_pull_options *o, cstor_error *err)
{
	cstor_pull_options defaults = CSTOR_PULL_OPTIONS_INIT;
	cstor_import_options idefaults = CSTOR_IMPORT_OPTIONS_INIT;
	if (!o)
		o = &defaults;
	if (o->version != CSTOR_PULL_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_pull_options version");
	if (o->flags & ~(uint32_t)CSTOR_REGISTRY_NO_TLS_VERIFY)
		return cstor_error_set(err, EINVAL, "unknown pull flags 0x%x", o->flags);
	const cstor_import_options *io = o->import ? o->import : &idefaults;
	if (io->version != CSTOR_IMPORT_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_import_options version");
	if (io->flags & ~(uint32_t)CSTOR_IMPORT_NO_KEEP_BLOBS)
		return cstor_error_set(err, EINVAL, "unknown import flags 0x%x", io->flags);
	_cleanup_(cstor_docker_ref_clear) struct cstor_docker_ref ref;
	int r = cstor_oci_parse_docker_ref(&ref, refstr, err);
	if (r < 0)
		return r;
	struct cstor_reg_options ro = { .creds = o->creds,
					.authfile = o->authfile,
					.cert_dir = o->cert_dir,
					.no_tls_verify = o->flags & CSTOR_REGISTRY_NO_TLS_VERIFY };
	struct cstor_oci_src *src = NULL;
	bool keep = !(io->flags & CSTOR_IMPORT_NO_KEEP_BLOBS);
	r = cstor_oci_registry_src_open(&src, ref.host, ref.repo, ref.ref, &ro,
					keep ? s->layers_dir : NULL, err);
	if (r < 0)
		return r;
	if ((r = cstor_oci_src_set_platform(src, o->platform, err)) == 0) {
		/* Without names given, the reference is the name, as with
		 * skopeo copy docker://REF containers-storage:REF. */
		cstor_import_options named = *io;
		const char *names[] = { ref.name, NULL };
		if (!io->names || !io->names[0])
			named.names = names;
		r = cstor_oci_import_src(image_id, s, src, false, NULL, cstor_oci_src_path(src),
					 &named, err);
	}
	cstor_oci_src_free(src);
	return r;
}
