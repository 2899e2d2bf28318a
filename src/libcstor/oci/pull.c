/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pull (include/cstor/registry.h): a registry repository opened as an
 * image source (oci/registry-src.c) and imported as an OCI layout is, so
 * the records are the ones an import of the same image makes.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cstor/registry.h>

#include "oci/import.h"
#include "oci/manifest.h"
#include "oci/pull.h"
#include "oci/refname.h"
#include "oci/registry-src.h"
#include "registry/client.h"
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
				.cancel = o->cancel,
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

/* The platforms ("os/arch[/variant]") of the instances of the manifest
 * list the source's reference names, in the list's order, each once;
 * *named: the one the name goes to (the host's, as a pull without
 * --all-platforms picks it; else the first). None when the reference
 * names an image. Entries without a platform, of os "unknown" (build
 * attestations, not images) or that are lists themselves are passed
 * over. */
static int list_platforms(char ***out, size_t *named, struct cstor_oci_src *src,
			  cstor_error *err)
{
	_cleanup_free_ char *ibuf = NULL, *lbuf = NULL, *name = NULL;
	size_t ilen, llen;
	_cleanup_strv_free_ char **pl = calloc(1, sizeof(char *));
	if (!pl)
		return cstor_error_set(err, ENOMEM, "out of memory");
	*named = 0;
	int r = cstor_oci_src_read(&ibuf, &ilen, src, "index.json", 1u << 20, err);
	if (r < 0)
		return r;
	json_t *idx = json_loadb(ibuf, ilen, 0, NULL);
	json_t *top = json_array_get(json_object_get(idx, "manifests"), 0);
	const char *mt = json_string_value(json_object_get(top, "mediaType"));
	const char *dg = json_string_value(json_object_get(top, "digest"));
	bool list = mt && dg && strchr(dg, ':') &&
		    (streq(mt, "application/vnd.oci.image.index.v1+json") ||
		     streq(mt, "application/vnd.docker.distribution.manifest.list.v2+json"));
	if (list && asprintf(&name, "blobs/%.*s/%s", (int)(strchr(dg, ':') - dg), dg,
			     strchr(dg, ':') + 1) < 0)
		name = NULL, r = cstor_error_set(err, ENOMEM, "out of memory");
	json_decref(idx);
	if (r == 0 && list)
		r = cstor_oci_src_read(&lbuf, &llen, src, name, 4u << 20, err);
	if (r < 0 || !list) {
		if (r == 0)
			*out = TAKE_PTR(pl);
		return r;
	}
	json_t *l = json_loadb(lbuf, llen, 0, NULL), *d;
	size_t i;
	bool host_found = false;
	json_array_foreach(json_object_get(l, "manifests"), i, d)
	{
		json_t *p = json_object_get(d, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		const char *var = json_string_value(json_object_get(p, "variant"));
		const char *dmt = json_string_value(json_object_get(d, "mediaType"));
		char *one = NULL;
		if (!os || !arch || streq(os, "unknown") ||
		    (dmt && (streq(dmt, "application/vnd.oci.image.index.v1+json") ||
			     streq(dmt, "application/vnd.docker.distribution.manifest.list.v2+json"))))
			continue;
		if (asprintf(&one, "%s/%s%s%s", os, arch, var && var[0] ? "/" : "",
			     var ? var : "") < 0) {
			r = cstor_error_set(err, ENOMEM, "out of memory");
			break;
		}
		if (strv_contains(pl, one)) {
			free(one);
			continue;
		}
		if (!host_found && streq(os, "linux") && streq(arch, cstor_oci_host_arch())) {
			host_found = true;
			*named = strv_length(pl);
		}
		if (strv_append(&pl, one) < 0)
			r = cstor_error_set(err, ENOMEM, "out of memory");
		free(one);
		if (r < 0)
			break;
	}
	json_decref(l);
	if (r == 0)
		*out = TAKE_PTR(pl);
	return r;
}

/* Every instance of the list, each stored as a pull of that platform
 * stores it (the list kept as its big data too); the names go to the
 * host's instance only (a name is one image's), which is *image_id. What
 * was stored stays when a later instance fails. */
static int import_all_platforms(char **image_id, cstor_store *s, struct cstor_oci_src *src,
				char *const *platforms, size_t named,
				const cstor_import_options *io, cstor_error *err)
{
	cstor_import_options unnamed = *io;
	const char *none[] = { NULL };
	unnamed.names = none;
	size_t n = strv_length((char **)platforms);
	int r = 0;
	for (size_t k = 0; r == 0 && k < n; k++) {
		/* The named one first: its ID is the one to report. */
		size_t i = k == 0 ? named : k <= named ? k - 1 : k;
		if ((r = cstor_oci_src_set_platform(src, platforms[i], err)) < 0)
			break;
		r = cstor_oci_import_src(k == 0 ? image_id : NULL, s, src, false, NULL,
					 cstor_oci_src_path(src), k == 0 ? io : &unnamed, err);
		if (r < 0)
			cstor_error_wrap(err, r, "%s of %s", platforms[i], cstor_oci_src_path(src));
	}
	return r;
}

static int pull(char **image_id, cstor_store *s, const char *refstr, const cstor_pull_options *o,
		cstor_error *err);

/* The options as the current version: version 1 callers' structures end
 * before @cancel. */
static int current_options(cstor_pull_options *o, const cstor_pull_options *given,
			   cstor_error *err)
{
	*o = (cstor_pull_options)CSTOR_PULL_OPTIONS_INIT;
	if (given && given->version == 1)
		memcpy(o, given, offsetof(cstor_pull_options, cancel));
	else if (given && given->version == CSTOR_PULL_OPTIONS_VERSION)
		*o = *given;
	else if (given)
		return cstor_error_set(err, EINVAL, "unsupported cstor_pull_options version");
	o->version = CSTOR_PULL_OPTIONS_VERSION;
	return 0;
}

int cstor_registry_list_tags(char ***tags, const char *refstr, const cstor_pull_options *given,
			     cstor_error *err)
{
	cstor_pull_options o;
	int r = current_options(&o, given, err);
	if (r < 0)
		return r;
	if (o.flags & ~(uint32_t)CSTOR_REGISTRY_NO_TLS_VERIFY)
		return cstor_error_set(err, EINVAL, "unknown list-tags flags 0x%x", o.flags);
	_cleanup_(cstor_docker_ref_clear) struct cstor_docker_ref ref;
	if ((r = cstor_oci_parse_docker_ref(&ref, refstr, err)) < 0)
		return r;
	/* The primary location (rewritten by registries.conf, unless
	 * blocked): mirrors need not have every tag. */
	struct cstor_reg_endpoint *eps = NULL;
	size_t n = 0;
	if ((r = cstor_reg_primary_endpoints(&eps, &n, ref.host, ref.repo, err)) < 0)
		return r;
	struct cstor_reg_options ro = {
		.creds = o.creds,
		.authfile = o.authfile,
		.cert_dir = o.cert_dir,
		.no_tls_verify = (o.flags & CSTOR_REGISTRY_NO_TLS_VERIFY) || eps[0].insecure,
		.cancel = o.cancel,
	};
	struct cstor_reg *reg = NULL;
	if ((r = cstor_reg_new(&reg, eps[0].host, eps[0].repo, &ro, err)) == 0)
		r = cstor_reg_list_tags(tags, reg, err);
	cstor_reg_free(reg);
	cstor_reg_endpoints_free(eps, n);
	return r;
}

int cstor_store_pull_image(char **image_id, cstor_store *s, const char *refstr,
			   const cstor_pull_options *given, cstor_error *err)
{
	cstor_pull_options o;
	int r = current_options(&o, given, err);
	if (r < 0)
		return r;
	r = pull(image_id, s, refstr, &o, err);
	if (r < 0 && o.cancel && *o.cancel) {
		/* Whichever step noticed it: one clear word. The failed
		 * import removed the layers it made. */
		cstor_error_clear(err);
		r = cstor_error_set(err, ECANCELED,
				    "pull of %s cancelled: the layers it made were removed", refstr);
	}
	return r;
}

static int pull(char **image_id, cstor_store *s, const char *refstr, const cstor_pull_options *o,
		cstor_error *err)
{
	cstor_import_options idefaults = CSTOR_IMPORT_OPTIONS_INIT;
	if (o->flags & ~(uint32_t)(CSTOR_REGISTRY_NO_TLS_VERIFY | CSTOR_PULL_ALL_PLATFORMS))
		return cstor_error_set(err, EINVAL, "unknown pull flags 0x%x", o->flags);
	bool all = o->flags & CSTOR_PULL_ALL_PLATFORMS;
	if (all && o->platform)
		return cstor_error_set(err, EINVAL,
				       "pull of %s: a platform and all platforms both asked for",
				       refstr);
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
	/* Without names given, the reference is the name, as with skopeo
	 * copy docker://REF containers-storage:REF. */
	cstor_import_options named = *io;
	const char *nm[] = { ref.name, NULL };
	if (!io->names || !io->names[0])
		named.names = nm;
	_cleanup_strv_free_ char **platforms = NULL;
	size_t host = 0;
	if (all && (r = list_platforms(&platforms, &host, src, err)) == 0 && platforms[0])
		r = import_all_platforms(image_id, s, src, platforms, host, &named, err);
	else if (r == 0 && (r = cstor_oci_src_set_platform(src, o->platform, err)) == 0)
		r = cstor_oci_import_src(image_id, s, src, false, NULL, cstor_oci_src_path(src),
					 &named, err);
	cstor_oci_src_free(src);
	return r;
}
