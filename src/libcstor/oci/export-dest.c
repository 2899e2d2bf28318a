/* SPDX-License-Identifier: Apache-2.0 */
/* Export destinations: "oci:DIR[:REF]", "oci-archive:FILE[:REF]",
 * "docker-archive:FILE[:NAME]" and "dir:DIR". */
#include <stdlib.h>
#include <string.h>

#include "util/error-internal.h"
#include "oci/export-internal.h"
#include "util/cleanup.h"
#include "oci/refname.h"

#define FORMS "oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:NAME] or dir:DIR"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* component ::= alphanum+ (separator alphanum+)*, separator ::= [-._:@+] | "--" */
static const char *component_end(const char *s)
{
	for (;;) {
		if (!is_alnum(*s))
			return NULL;
		while (is_alnum(*s))
			s++;
		if (s[0] == '-' && s[1] == '-')
			s += 2;
		else if (*s && strchr("-._:@+", *s))
			s++;
		else
			return s;
	}
}

bool cstor_export_ref_valid(const char *ref)
{
	for (const char *s = ref;;) {
		s = component_end(s);
		if (!s)
			return false;
		if (!*s)
			return true;
		if (*s++ != '/')
			return false;
	}
}

void cstor_export_dest_done(struct cstor_export_dest *d)
{
	free(d->path);
	free(d->ref);
	d->path = d->ref = NULL;
}

int cstor_export_dest_parse(struct cstor_export_dest *d, const char *dest, cstor_error *err)
{
	*d = (struct cstor_export_dest){ 0 };
	if (!dest || !*dest)
		return cstor_error_set(err, EINVAL, "no export destination given: use " FORMS);
	const char *rest;
	if ((rest = startswith(dest, "oci:")))
		d->kind = CSTOR_EXPORT_OCI_DIR;
	else if ((rest = startswith(dest, "oci-archive:")))
		d->kind = CSTOR_EXPORT_OCI_ARCHIVE;
	else if ((rest = startswith(dest, "docker-archive:")))
		d->kind = CSTOR_EXPORT_DOCKER_ARCHIVE;
	else if ((rest = startswith(dest, "dir:")))
		d->kind = CSTOR_EXPORT_DIR;
	else {
		const char *colon = strchr(dest, ':');
		if (colon && !memchr(dest, '/', (size_t)(colon - dest)))
			return cstor_error_set(err, EINVAL,
					       "export destination \"%s\": transport \"%.*s\" is not "
					       "supported: use " FORMS,
					       dest, (int)(colon - dest), dest);
		return cstor_error_set(err, EINVAL,
				       "export destination \"%s\" has no transport: use " FORMS, dest);
	}
	/* Paths with ':' cannot be told from a REF, as in containers/image. */
	const char *colon = strchr(rest, ':');
	size_t plen = colon ? (size_t)(colon - rest) : strlen(rest);
	if (plen == 0)
		return cstor_error_set(err, EINVAL, "export destination \"%s\": no path: use " FORMS,
				       dest);
	_cleanup_free_ char *path = strndup(rest, plen);
	_cleanup_free_ char *ref = colon && colon[1] ? strdup(colon + 1) : NULL;
	if (!path || (colon && colon[1] && !ref))
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (ref && d->kind == CSTOR_EXPORT_DIR)
		return cstor_error_set(err, EINVAL,
				       "export destination \"%s\": dir: takes a path only (no ':')",
				       dest);
	if (ref && d->kind == CSTOR_EXPORT_DOCKER_ARCHIVE) {
		/* RepoTags: a name with a tag, as containers/image's
		 * docker-archive transport wants it ("busybox" is
		 * docker.io/library/busybox:latest). */
		char *n = NULL;
		int r = cstor_refname_normalize(&n, ref, err);
		if (r < 0)
			return cstor_error_wrap(err, r, "export destination \"%s\"", dest);
		if (strchr(n, '@')) {
			free(n);
			return cstor_error_set(err, EINVAL,
					       "export destination \"%s\": a docker-archive name "
					       "takes a tag, not a digest", dest);
		}
		free(ref);
		ref = n;
	} else if (ref && !cstor_export_ref_valid(ref))
		return cstor_error_set(err, EINVAL,
				       "export destination \"%s\": invalid reference name \"%s\"",
				       dest, ref);
	d->path = TAKE_PTR(path);
	d->ref = TAKE_PTR(ref);
	return 0;
}
