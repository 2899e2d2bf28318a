/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Docker reference normalisation (docker/distribution's
 * ParseNormalizedNamed followed by TagNameOnly), which is what podman and
 * skopeo store as image names.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/digest.h"
#include "util/error-internal.h"
#include "oci/refname.h"
#include "util/cleanup.h"
#include "util/macro.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_ok(const char *s, size_t len)
{
	size_t i = 0;
	if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	while (i < len) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && !is_lower_alnum(s[j]))
			j++;
		size_t n = j - i;
		bool ok = (n == 1 && (s[i] == '.' || s[i] == '_' || s[i] == '-')) ||
			  (n == 2 && s[i] == '_' && s[i + 1] == '_');
		for (size_t k = i; !ok && k < j && s[k] == '-'; k++)
			ok = k == j - 1;
		if (!ok)
			return false;
		i = j;
	}
	return true;
}

/* A domain: host components of [a-zA-Z0-9-] with dots, an optional :port. */
static bool domain_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	const char *colon = memchr(s, ':', len);
	size_t hl = colon ? (size_t)(colon - s) : len;
	if (hl == 0)
		return false;
	for (size_t i = 0; i < hl; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
	}
	if (colon) {
		if (colon + 1 == s + len)
			return false;
		for (const char *p = colon + 1; p < s + len; p++)
			if (*p < '0' || *p > '9')
				return false;
	}
	return true;
}

static bool tag_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		bool w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '_';
		if (!w && (i == 0 || (c != '.' && c != '-')))
			return false;
	}
	return true;
}

int cstor_refname_normalize(char **out, const char *in, cstor_error *err)
{
	_cleanup_free_ char *s = strdup(in);
	if (!s)
		return cstor_error_set(err, ENOMEM, "out of memory");
	char *digest = strchr(s, '@');
	if (digest) {
		*digest++ = 0;
		if (cstor_digest_validate(digest, NULL) < 0)
			return cstor_error_set(err, EINVAL, "invalid image name \"%s\": bad digest", in);
	}
	char *slash = strrchr(s, '/');
	char *tag = strrchr(slash ? slash : s, ':');
	if (tag) {
		*tag++ = 0;
		if (!tag_ok(tag))
			return cstor_error_set(err, EINVAL, "invalid image name \"%s\": bad tag", in);
	}
	/* The first component is a domain when it looks like one. */
	const char *domain = "docker.io", *path = s;
	char *first_end = strchr(s, '/');
	_cleanup_free_ char *dom = NULL;
	if (first_end) {
		size_t fl = (size_t)(first_end - s);
		bool upper = false;
		for (size_t i = 0; i < fl; i++)
			upper |= s[i] >= 'A' && s[i] <= 'Z';
		if (memchr(s, '.', fl) || memchr(s, ':', fl) || (fl == 9 && !strncmp(s, "localhost", 9)) ||
		    upper) {
			if (!domain_ok(s, fl))
				return cstor_error_set(err, EINVAL, "invalid image name \"%s\": bad domain",
						       in);
			dom = strndup(s, fl);
			if (!dom)
				return cstor_error_set(err, ENOMEM, "out of memory");
			domain = streq(dom, "index.docker.io") ? "docker.io" : dom;
			path = first_end + 1;
		}
	}
	for (const char *p = path;;) {
		const char *e = strchrnul(p, '/');
		if (!path_component_ok(p, (size_t)(e - p)))
			return cstor_error_set(err, EINVAL,
					       "invalid image name \"%s\": repository names must be "
					       "lowercase components of [a-z0-9._-]",
					       in);
		if (!*e)
			break;
		p = e + 1;
	}
	bool library = streq(domain, "docker.io") && !strchr(path, '/');
	if (asprintf(out, "%s/%s%s%s%s%s%s", domain, library ? "library/" : "", path,
		     tag || !digest ? ":" : "", tag ? tag : digest ? "" : "latest",
		     digest ? "@" : "", digest ? digest : "") < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (strlen(*out) > 255 + 200) {
		free(*out);
		*out = NULL;
		return cstor_error_set(err, EINVAL, "invalid image name \"%s\": too long", in);
	}
	return 0;
}
