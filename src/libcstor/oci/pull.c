/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pull (include/cstor/registry.h): a registry repository opened as an
 * image source (oci/registry-src.c) and imported as an OCI layout is, so
 * the records are the ones an import of the same image makes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cstor/registry.h>

#include "oci/import.h"
#include "oci/pull.h"
#include "oci/refname.h"
#include "oci/registry-src.h"
#include "registry/conf.h"
#include "store/store-internal.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/macro.h"
#include "util/strv.h"

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
	char *colon = strchr(last, ':');
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

/* Is the name (no transport) a short one: no registry in it? */
static bool is_short(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash)
		return true;
	size_t fl = (size_t)(slash - s);
	return !memchr(s, '.', fl) && !memchr(s, ':', fl) && !(fl == 9 && !strncmp(s, "localhost", 9));
}

/* The names a reference may mean, in the order to try them: a full name
 * is itself; a short one is its alias, else each unqualified-search
 * registry's, else Docker Hub's. */
static int candidates(char ***out, const char *in, const struct cstor_reg_conf *conf,
		      cstor_error *err)
{
	const char *s = strncmp(in, "docker://", 9) == 0 ? in + 9 : in;
	_cleanup_strv_free_ char **c = calloc(1, sizeof(char *));
	if (!c)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (s[0] && is_short(s) && conf) {
		/* The alias key is the name without tag or digest. */
		const char *at = strchr(s, '@'), *slash = strrchr(s, '/');
		const char *colon = strchr(slash ? slash : s, ':');
		if (at && colon && colon > at)
			colon = NULL;
		size_t nl = colon ? (size_t)(colon - s) : at ? (size_t)(at - s) : strlen(s);
		_cleanup_free_ char *key = strndup(s, nl), *one = NULL;
		const char *alias = key ? cstor_reg_conf_alias(conf, key) : NULL;
		char *const *search = cstor_reg_conf_search(conf);
		if (!key)
			return cstor_error_set(err, ENOMEM, "out of memory");
		if (alias) {
			if (asprintf(&one, "%s%s", alias, s + nl) < 0 || strv_append(&c, one) < 0)
				return cstor_error_set(err, ENOMEM, "out of memory");
		} else
			for (size_t i = 0; search && search[i]; i++) {
				free(one);
				if (asprintf(&one, "%s/%s", search[i], s) < 0 ||
				    strv_append(&c, one) < 0)
					return cstor_error_set(err, ENOMEM, "out of memory");
			}
	}
	if (!c[0] && strv_append(&c, in) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(c);
	return 0;
}

/* Open the first of the places the names may be pulled from that has the
 * image (mirrors before the primary; candidates in order). @err gets the
 * last failure when none has it. */
static int open_first(struct cstor_oci_src **src, struct cstor_docker_ref *chosen,
		      char *const *names, const struct cstor_reg_conf *conf,
		      const cstor_pull_options *o, const char *tee_dir, bool keep,
		      cstor_error *err)
{
	int r = -ENOENT;
	for (size_t i = 0; names[i]; i++) {
		struct cstor_docker_ref ref;
		cstor_error_clear(err);
		if ((r = cstor_oci_parse_docker_ref(&ref, names[i], err)) < 0)
			return r;
		struct cstor_reg_endpoint *eps = NULL;
		size_t n = 0;
		r = cstor_reg_conf_endpoints(&eps, &n, conf, ref.host, ref.repo,
					     strchr(ref.ref, ':') != NULL, false, err);
		for (size_t k = 0; k < n; k++) {
			struct cstor_reg_options ro = {
				.creds = o->creds,
				.authfile = o->authfile,
				.cert_dir = eps[k].mirror ? NULL : o->cert_dir,
				.no_tls_verify = (o->flags & CSTOR_REGISTRY_NO_TLS_VERIFY) ||
						 eps[k].insecure,
			};
			r = cstor_oci_registry_src_open(src, eps[k].host, eps[k].repo, ref.ref, &ro,
							tee_dir, keep, o->parallel, err);
			/* A mirror that fails is passed over; the primary's
			 * failure is the one reported. */
			if (r < 0 && k + 1 < n)
				cstor_error_clear(err);
			else
				break;
		}
		cstor_reg_endpoints_free(eps, n);
		if (r == 0) {
			*chosen = ref;
			return 0;
		}
		cstor_docker_ref_clear(&ref);
		/* A bad registries.conf entry or a blocked name ends it. */
		if (r == -EINVAL || (r == -EACCES && !names[i + 1]))
			return r;
	}
	return r;
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
	/* The reference is checked before any configuration is read. */
	_cleanup_(cstor_docker_ref_clear) struct cstor_docker_ref ref;
	int r = cstor_oci_parse_docker_ref(&ref, refstr, err);
	if (r < 0)
		return r;
	cstor_docker_ref_clear(&ref);
	struct cstor_reg_conf *conf = NULL;
	if ((r = cstor_reg_conf_load(&conf, err)) < 0)
		return r;
	_cleanup_strv_free_ char **names = NULL;
	struct cstor_oci_src *src = NULL;
	bool keep = !(io->flags & CSTOR_IMPORT_NO_KEEP_BLOBS);
	if ((r = candidates(&names, refstr, conf, err)) == 0)
		r = open_first(&src, &ref, names, conf, o, s->layers_dir, keep, err);
	cstor_reg_conf_free(conf);
	if (r < 0)
		return r;
	if ((r = cstor_oci_src_set_platform(src, o->platform, err)) == 0) {
		/* Without names given, the reference is the name, as with
		 * skopeo copy docker://REF containers-storage:REF. */
		cstor_import_options named = *io;
		const char *nm[] = { ref.name, NULL };
		if (!io->names || !io->names[0])
			named.names = nm;
		r = cstor_oci_import_src(image_id, s, src, false, NULL, cstor_oci_src_path(src),
					 &named, err);
	}
	cstor_oci_src_free(src);
	return r;
}
