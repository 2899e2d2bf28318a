/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry client (client.h). One easy handle does the small requests
 * (manifests, configs, HEADs, uploads); each streamed blob has its own,
 * driven through a multi handle so that the importer pulls bytes at its
 * own pace (a read() over a push-style transfer) and a dropped connection
 * can be restarted with a Range request under the same read().
 *
 * Which scheme: HTTPS always, except that a registry on the loopback
 * (localhost, 127.0.0.0/8, ::1) or one asked for without TLS checks is
 * tried over plain HTTP when its TLS handshake fails, as Docker treats
 * loopback registries and containers/image insecure ones.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cstor-config.h"
#include "registry/client.h"
#include "util/cleanup.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/macro.h"
#include "util/strv.h"

/* Attempts of one request when the registry answers 429 or 5xx or the
 * connection fails; the waits double from BACKOFF_MS. */
#define MAX_ATTEMPTS 5
#define BACKOFF_MS 200
/* Longest Retry-After honoured, in seconds. */
#define MAX_RETRY_AFTER 60
/* Restarts of one blob download after its connection broke. */
#define MAX_RESUMES 8
#define MAX_ERROR_BODY 4096

struct cstor_reg {
	char *host, *repo, *name;
	char *api_host; /* where requests go: Docker Hub's API is elsewhere */
	char *base;     /* "https://host" or "http://host", once known */
	char *user, *pass;
	char *authz; /* an "Authorization: ..." header, once known */
	bool no_verify, push;
	const volatile int *cancel; /* the caller's flag (cstor_pull_options) */
	char *ca_blob; /* system CAs plus certs.d's, when certs.d has some */
	size_t ca_len;
	char *cert, *key;
	/* The small-request handle, the scheme and the Authorization header
	 * are shared by the threads that download blobs at once: held around
	 * every use (recursive: a request answers its 401 under it). */
	pthread_mutex_t lock;
	CURL *easy;
};

struct resp {
	long status;
	char *body;
	size_t len, max;
	bool too_big;
	char *content_type, *digest, *location, *www_auth, *content_range, *link;
	long retry_after;
};

static void resp_clear(struct resp *p)
{
	free(p->body);
	free(p->content_type);
	free(p->digest);
	free(p->location);
	free(p->www_auth);
	free(p->content_range);
	free(p->link);
	size_t max = p->max;
	*p = (struct resp){ .max = max };
}

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* curl_global_init is not thread-safe before 7.84: once, first. */
static void curl_global(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, global_init);
}

static bool loopback(const char *host)
{
	const char *h = host;
	size_t n;
	if (h[0] == '[') {
		const char *e = strchr(h, ']');
		return e && e - h == 4 && strncmp(h, "[::1]", 5) == 0;
	}
	n = strcspn(h, ":");
	return (n == 9 && strncmp(h, "localhost", 9) == 0) || strncmp(h, "127.", 4) == 0;
}

void cstor_reg_free(struct cstor_reg *r)
{
	if (!r)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	pthread_mutex_destroy(&r->lock);
	free(r->host);
	free(r->repo);
	free(r->name);
	free(r->api_host);
	free(r->base);
	free(r->user);
	if (r->pass)
		explicit_bzero(r->pass, strlen(r->pass));
	free(r->pass);
	if (r->authz)
		explicit_bzero(r->authz, strlen(r->authz));
	free(r->authz);
	free(r->ca_blob);
	free(r->cert);
	free(r->key);
	free(r);
}

const char *cstor_reg_name(const struct cstor_reg *r)
{
	return r->name;
}

static int append_file(char **buf, size_t *len, const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		char *nb = realloc(*buf, *len + (size_t)n + 2);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		memcpy(nb + *len, chunk, (size_t)n);
		*len += (size_t)n;
	}
	if (*buf) {
		(*buf)[(*len)++] = '\n';
		(*buf)[*len] = 0;
	}
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && streq(s + a - b, suffix);
}

/* certs.d/HOST as containers-certs.d(5): *.crt are CAs added to the
 * system's, a *.cert with its *.key is the client certificate. */
static int load_certs(struct cstor_reg *r, const char *cert_dir, cstor_error *err)
{
	_cleanup_free_ char *dir = NULL;
	if (cert_dir)
		dir = strdup(cert_dir);
	else if (asprintf(&dir, "/etc/containers/certs.d/%s", r->host) < 0)
		dir = NULL;
	if (!dir)
		return cstor_error_set(err, ENOMEM, "out of memory");
	DIR *d = opendir(dir);
	if (!d) {
		if (cert_dir)
			return cstor_error_errno(err, errno, "certificate directory %s", dir);
		return 0;
	}
	struct dirent *e;
	bool any_ca = false;
	int r2 = 0;
	while ((e = readdir(d)) && r2 == 0) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
			r2 = -ENOMEM;
			break;
		}
		if (ends_with(e->d_name, ".crt")) {
			if (!any_ca) {
				/* The system's CAs first: certs.d adds to them. */
				any_ca = true;
				(void)append_file(&r->ca_blob, &r->ca_len,
						  "/etc/ssl/certs/ca-certificates.crt");
			}
			r2 = append_file(&r->ca_blob, &r->ca_len, p);
		} else if (ends_with(e->d_name, ".cert")) {
			free(r->cert);
			r->cert = TAKE_PTR(p);
		} else if (ends_with(e->d_name, ".key")) {
			free(r->key);
			r->key = TAKE_PTR(p);
		}
	}
	closedir(d);
	if (r2 < 0)
		return cstor_error_errno(err, -r2, "read the certificates of %s", dir);
	if (!r->cert != !r->key)
		return cstor_error_set(err, EINVAL, "%s: a client certificate needs both a .cert "
						    "and a .key file",
				       dir);
	return 0;
}

int cstor_reg_new(struct cstor_reg **out, const char *host, const char *repo,
		  const struct cstor_reg_options *o, cstor_error *err)
{
	curl_global();
	struct cstor_reg *r = calloc(1, sizeof(*r));
	if (!r)
		return cstor_error_set(err, ENOMEM, "out of memory");
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&r->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	r->no_verify = o->no_tls_verify;
	r->push = o->push;
	r->cancel = o->cancel;
	r->host = strdup(host);
	r->repo = strdup(repo);
	r->api_host = strdup(streq(host, "docker.io") ? "registry-1.docker.io" : host);
	int rc = 0;
	if (!r->host || !r->repo || !r->api_host || asprintf(&r->name, "%s/%s", host, repo) < 0) {
		r->name = NULL;
		rc = cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (rc == 0 && o->creds) {
		const char *colon = strchr(o->creds, ':');
		r->user = colon ? strndup(o->creds, (size_t)(colon - o->creds)) : strdup(o->creds);
		r->pass = strdup(colon ? colon + 1 : "");
		if (!r->user || !r->pass)
			rc = cstor_error_set(err, ENOMEM, "out of memory");
		else if (!r->user[0])
			rc = cstor_error_set(err, EINVAL, "--creds: no user name");
	} else if (rc == 0) {
		rc = cstor_reg_auth_lookup(&r->user, &r->pass, o->authfile, host, repo, err);
	}
	if (rc == 0)
		rc = load_certs(r, o->cert_dir, err);
	if (rc == 0 && !(r->easy = curl_easy_init()))
		rc = cstor_error_set(err, ENOMEM, "cannot start a libcurl handle");
	if (rc < 0) {
		cstor_reg_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static size_t header_cb(char *data, size_t size, size_t n, void *ctx)
{
	struct resp *p = ctx;
	size_t len = size * n;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 100): forget the last. */
		free(p->content_type);
		free(p->digest);
		free(p->location);
		free(p->www_auth);
		free(p->content_range);
		free(p->link);
		p->content_type = p->digest = p->location = p->www_auth = p->content_range = NULL;
		p->link = NULL;
		p->retry_after = -1;
		return len;
	}
	const char *colon = memchr(data, ':', len);
	if (!colon)
		return len;
	size_t kl = (size_t)(colon - data);
	const char *v = colon + 1, *end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	char **slot = NULL;
#define IS(name) (kl == strlen(name) && strncasecmp(data, name, kl) == 0)
	if (IS("content-type"))
		slot = &p->content_type;
	else if (IS("docker-content-digest"))
		slot = &p->digest;
	else if (IS("location"))
		slot = &p->location;
	else if (IS("www-authenticate"))
		slot = &p->www_auth;
	else if (IS("content-range"))
		slot = &p->content_range;
	else if (IS("link"))
		slot = &p->link;
	else if (IS("retry-after")) {
		char tmp[32];
		size_t vl = (size_t)(end - v) < sizeof(tmp) - 1 ? (size_t)(end - v) : sizeof(tmp) - 1;
		memcpy(tmp, v, vl);
		tmp[vl] = 0;
		char *e;
		long s = strtol(tmp, &e, 10);
		p->retry_after = e != tmp && !*e && s >= 0 ? s : -1;
		if (p->retry_after < 0) {
			/* Or an HTTP date (RFC 9110 10.2.3, any of its three
			 * forms): the seconds until then, none when it is
			 * past; an unreadable one leaves the backoff. */
			char date[64];
			size_t dl = (size_t)(end - v) < sizeof(date) - 1 ? (size_t)(end - v)
									  : sizeof(date) - 1;
			memcpy(date, v, dl);
			date[dl] = 0;
			time_t when = curl_getdate(date, NULL), now = time(NULL);
			if (when != (time_t)-1)
				p->retry_after = when > now ? (long)(when - now) : 0;
		}
	}
#undef IS
	if (slot && !*slot)
		*slot = strndup(v, (size_t)(end - v));
	return len;
}

static size_t body_cb(char *data, size_t size, size_t n, void *ctx)
{
	struct resp *p = ctx;
	size_t len = size * n;
	if (p->len + len > p->max) {
		p->too_big = true;
		return 0; /* aborts the transfer */
	}
	char *nb = realloc(p->body, p->len + len + 1);
	if (!nb)
		return 0;
	p->body = nb;
	memcpy(nb + p->len, data, len);
	p->len += len;
	nb[p->len] = 0;
	return len;
}

/* libcurl calls this about once a second and as bytes move: a non-zero
 * answer ends the transfer (CURLE_ABORTED_BY_CALLBACK), so a cancel is
 * seen while a request waits for its answer too. */
static int cancel_cb(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		     curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	const struct cstor_reg *r = ctx;
	return r->cancel && *r->cancel;
}

static void setup(struct cstor_reg *r, CURL *c, const char *url, char *errbuf)
{
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cstor/" CSTOR_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A connection that stalls for a minute is broken: downloads resume. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (r->no_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (r->ca_blob) {
		struct curl_blob b = { r->ca_blob, r->ca_len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
	}
	if (r->cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, r->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, r->key);
	}
	if (r->cancel) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, cancel_cb);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
	}
	errbuf[0] = 0;
}

/* A wait before a retry, in slices so that a cancel ends it. */
static void nap_ms(const struct cstor_reg *r, long ms)
{
	while (ms > 0 && !(r->cancel && *r->cancel)) {
		long slice = ms < 50 ? ms : 50;
		struct timespec ts = { 0, slice * 1000000L };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		ms -= slice;
	}
}

static long backoff_ms(int attempt, long retry_after)
{
	if (retry_after >= 0)
		return (retry_after > MAX_RETRY_AFTER ? MAX_RETRY_AFTER : retry_after) * 1000;
	return (long)BACKOFF_MS << attempt;
}

static bool transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static int curl_fail(cstor_error *err, CURLcode cc, const char *errbuf, const char *what)
{
	const char *why = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc);
	int code = cc == CURLE_TOO_MANY_REDIRECTS ? ELOOP
		   : cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_CONNECT ? EHOSTUNREACH
		   : cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR ||
				   cc == CURLE_SSL_CERTPROBLEM
			   ? EPROTO
		   : cc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT
						    : EIO;
	if (cc == CURLE_TOO_MANY_REDIRECTS)
		return cstor_error_set(err, code, "%s: redirect loop (%s)", what, why);
	return cstor_error_set(err, code, "%s: %s", what, why);
}

/* The registry's own words from an error body ({"errors":[{"message"}]}). */
static const char *registry_message(const struct resp *p, char *buf, size_t n)
{
	buf[0] = 0;
	if (!p->body || !p->len)
		return buf;
	json_t *j = json_loadb(p->body, p->len, 0, NULL);
	json_t *e = json_array_get(json_object_get(j, "errors"), 0);
	const char *m = json_string_value(json_object_get(e, "message"));
	const char *code = json_string_value(json_object_get(e, "code"));
	if (m)
		snprintf(buf, n, ": %s%s%s", code ? code : "", code ? ": " : "", m);
	json_decref(j);
	return buf;
}

/* An error for an HTTP status that is not what was hoped for. */
static int status_fail(cstor_error *err, const struct resp *p, const char *what)
{
	char msg[512];
	registry_message(p, msg, sizeof(msg));
	switch (p->status) {
	case 401:
		return cstor_error_set(err, EACCES,
				       "%s: unauthorized (401)%s: give credentials with --creds or "
				       "--authfile",
				       what, msg);
	case 403:
		return cstor_error_set(err, EACCES, "%s: access denied (403)%s", what, msg);
	case 404:
		return cstor_error_set(err, ENOENT, "%s: not found (404)%s", what, msg);
	case 429:
		return cstor_error_set(err, EAGAIN, "%s: too many requests (429), still after %d "
						    "tries%s",
				       what, MAX_ATTEMPTS, msg);
	default:
		return cstor_error_set(err, p->status >= 500 ? EIO : EPROTO,
				       "%s: the registry answered HTTP %ld%s", what, p->status, msg);
	}
}

/* param="value" of a challenge. */
static char *challenge_param(const char *ch, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = ch; (p = strcasestr(p, key)); p += kl) {
		if ((p != ch && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) || p[kl] != '=')
			continue;
		const char *v = p + kl + 1;
		if (*v == '"') {
			v++;
			const char *e = strchr(v, '"');
			return e ? strndup(v, (size_t)(e - v)) : NULL;
		}
		return strndup(v, strcspn(v, ", "));
	}
	return NULL;
}

static char *basic_header(const char *user, const char *pass)
{
	_cleanup_free_ char *plain = NULL;
	if (asprintf(&plain, "%s:%s", user, pass) < 0)
		return NULL;
	size_t n = strlen(plain);
	_cleanup_free_ char *b64 = malloc(4 * ((n + 2) / 3) + 1);
	if (!b64)
		return NULL;
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, (int)n);
	explicit_bzero(plain, n);
	char *h;
	return asprintf(&h, "Authorization: Basic %s", b64) < 0 ? NULL : h;
}

static int perform(struct cstor_reg *r, CURL *c, struct resp *p, CURLcode *cc, char *errbuf);

/* Answer a 401's challenge: basic with the credentials, or a bearer token
 * from the realm. -EACCES when there is nothing to answer with. */
static int authenticate(struct cstor_reg *r, const char *challenge, const char *what,
			cstor_error *err)
{
	if (!challenge)
		return cstor_error_set(err, EACCES, "%s: unauthorized (401) without a challenge",
				       what);
	if (strncasecmp(challenge, "basic", 5) == 0) {
		if (!r->user)
			return cstor_error_set(err, EACCES,
					       "%s: unauthorized (401): the registry wants a user "
					       "name and password (--creds, --authfile or podman login)",
					       what);
		free(r->authz);
		if (!(r->authz = basic_header(r->user, r->pass)))
			return cstor_error_set(err, ENOMEM, "out of memory");
		return 0;
	}
	if (strncasecmp(challenge, "bearer", 6) != 0)
		return cstor_error_set(err, ENOTSUP, "%s: unsupported authentication scheme: %s", what,
				       challenge);
	_cleanup_free_ char *realm = challenge_param(challenge, "realm"),
			    *service = challenge_param(challenge, "service"), *scope = NULL,
			    *url = NULL;
	if (!realm)
		return cstor_error_set(err, EPROTO, "%s: bearer challenge without a realm: %s", what,
				       challenge);
	if (asprintf(&scope, "repository:%s:%s", r->repo, r->push ? "pull,push" : "pull") < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	char *es = curl_easy_escape(r->easy, scope, 0);
	char *esv = service ? curl_easy_escape(r->easy, service, 0) : NULL;
	int n = asprintf(&url, "%s%cscope=%s%s%s", realm, strchr(realm, '?') ? '&' : '?', es,
			 esv ? "&service=" : "", esv ? esv : "");
	curl_free(es);
	curl_free(esv);
	if (n < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	char errbuf[CURL_ERROR_SIZE];
	struct resp p = { .max = 1 << 20 };
	setup(r, r->easy, url, errbuf);
	if (r->user) {
		curl_easy_setopt(r->easy, CURLOPT_USERNAME, r->user);
		curl_easy_setopt(r->easy, CURLOPT_PASSWORD, r->pass);
	}
	CURLcode cc;
	int rc = perform(r, r->easy, &p, &cc, errbuf);
	if (rc == 0 && cc != CURLE_OK)
		rc = curl_fail(err, cc, errbuf, realm);
	else if (rc == 0 && p.status != 200) {
		_cleanup_free_ char *w = NULL;
		if (asprintf(&w, "%s: token from %s", what, realm) < 0)
			w = NULL;
		rc = status_fail(err, &p, w ? w : what);
	}
	if (rc == 0) {
		json_t *j = json_loadb(p.body ? p.body : "", p.len, 0, NULL);
		const char *t = json_string_value(json_object_get(j, "token"));
		if (!t)
			t = json_string_value(json_object_get(j, "access_token"));
		free(r->authz);
		r->authz = NULL;
		if (!t)
			rc = cstor_error_set(err, EPROTO, "%s: %s gave no token", what, realm);
		else if (asprintf(&r->authz, "Authorization: Bearer %s", t) < 0)
			rc = cstor_error_set(err, ENOMEM, "out of memory");
		json_decref(j);
	}
	resp_clear(&p);
	return rc;
}

static int perform(struct cstor_reg *r, CURL *c, struct resp *p, CURLcode *cc, char *errbuf)
{
	(void)r;
	(void)errbuf;
	resp_clear(p);
	p->retry_after = -1;
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, p);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, p);
	*cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &p->status);
	if (*cc == CURLE_WRITE_ERROR && p->too_big)
		*cc = CURLE_FILESIZE_EXCEEDED;
	return 0;
}

struct req {
	const char *method; /* NULL: GET */
	const char *path;   /* after /v2/<repo>/, or a whole URL (upload locations) */
	bool absolute;
	const char *accept;
	const char *content_type;
	const char *content_range;
	const void *body; /* sent as is (PUT, PATCH) */
	size_t body_len;
	cstor_reg_read_fn read; /* or streamed from here (not retried) */
	void *read_ctx;
	uint64_t read_len;
};

/* Work out https or http with GET /v2/ (whose 401 needs no answer yet). */
static int ping(struct cstor_reg *r, cstor_error *err)
{
	if (r->base)
		return 0;
	bool may_http = r->no_verify || loopback(r->host);
	const char *schemes[] = { "https", "http" };
	for (int i = 0; i < (may_http ? 2 : 1); i++) {
		_cleanup_free_ char *url = NULL;
		if (asprintf(&url, "%s://%s/v2/", schemes[i], r->api_host) < 0)
			return cstor_error_set(err, ENOMEM, "out of memory");
		char errbuf[CURL_ERROR_SIZE];
		struct resp p = { .max = 1 << 16 };
		CURLcode cc = CURLE_OK;
		for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
			setup(r, r->easy, url, errbuf);
			perform(r, r->easy, &p, &cc, errbuf);
			if (!transient(cc) && !(cc == CURLE_OK && (p.status == 429 || p.status >= 500)))
				break;
			nap_ms(r, backoff_ms(attempt, p.retry_after));
		}
		resp_clear(&p);
		if (cc == CURLE_OK) {
			if (asprintf(&r->base, "%s://%s", schemes[i], r->api_host) < 0)
				return cstor_error_set(err, ENOMEM, "out of memory");
			return 0;
		}
		bool tls_failed = cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_RECV_ERROR ||
				  cc == CURLE_GOT_NOTHING || cc == CURLE_HTTP2;
		if (i == 0 && may_http && tls_failed)
			continue;
		_cleanup_free_ char *what = NULL;
		if (asprintf(&what, "registry %s", r->host) < 0)
			what = NULL;
		return curl_fail(err, cc, errbuf, what ? what : r->host);
	}
	return cstor_error_set(err, EIO, "registry %s: not reachable", r->host);
}

static int url_of(char **url, struct cstor_reg *r, const char *path, bool absolute)
{
	int n;
	if (absolute && strstr(path, "://"))
		n = asprintf(url, "%s", path);
	else if (absolute)
		n = asprintf(url, "%s%s%s", r->base, path[0] == '/' ? "" : "/", path);
	else
		n = asprintf(url, "%s/v2/%s/%s", r->base, r->repo, path);
	return n < 0 ? -ENOMEM : 0;
}

struct upload {
	const struct req *q;
	uint64_t left;
	bool failed;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *ctx)
{
	struct upload *u = ctx;
	size_t len = size * n;
	if (len > u->left)
		len = (size_t)u->left;
	if (len == 0)
		return 0;
	ssize_t got = u->q->read(u->q->read_ctx, buf, len);
	if (got <= 0) {
		u->failed = true;
		return CURL_READFUNC_ABORT;
	}
	u->left -= (uint64_t)got;
	return (size_t)got;
}

static int request_locked(struct cstor_reg *r, const struct req *q, struct resp *p,
			  const char *what, cstor_error *err);

/* One request with authentication and retries; @p gets the last answer
 * whatever its status. */
static int request(struct cstor_reg *r, const struct req *q, struct resp *p, const char *what,
		   cstor_error *err)
{
	pthread_mutex_lock(&r->lock);
	int rc = request_locked(r, q, p, what, err);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static int request_locked(struct cstor_reg *r, const struct req *q, struct resp *p,
			  const char *what, cstor_error *err)
{
	int rc = ping(r, err);
	if (rc < 0)
		return rc;
	_cleanup_free_ char *url = NULL;
	if (url_of(&url, r, q->path, q->absolute) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	bool answered = false;
	for (int attempt = 0;; attempt++) {
		char errbuf[CURL_ERROR_SIZE];
		setup(r, r->easy, url, errbuf);
		struct curl_slist *h = NULL;
		char accept[1024], ctype[256], crange[128];
		if (r->authz)
			h = curl_slist_append(h, r->authz);
		if (q->accept) {
			snprintf(accept, sizeof(accept), "Accept: %s", q->accept);
			h = curl_slist_append(h, accept);
		}
		if (q->content_type) {
			snprintf(ctype, sizeof(ctype), "Content-Type: %s", q->content_type);
			h = curl_slist_append(h, ctype);
		}
		if (q->content_range) {
			snprintf(crange, sizeof(crange), "Content-Range: %s", q->content_range);
			h = curl_slist_append(h, crange);
		}
		curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, h);
		const char *m = q->method ? q->method : "GET";
		struct upload up = { q, q->read_len, false };
		if (streq(m, "HEAD"))
			curl_easy_setopt(r->easy, CURLOPT_NOBODY, 1L);
		else if (q->read) {
			curl_easy_setopt(r->easy, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(r->easy, CURLOPT_READFUNCTION, read_cb);
			curl_easy_setopt(r->easy, CURLOPT_READDATA, &up);
			curl_easy_setopt(r->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->read_len);
			curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, m);
		} else if (!streq(m, "GET")) {
			curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, q->body ? q->body : "");
			curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)(q->body ? q->body_len : 0));
			curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, m);
		}
		CURLcode cc;
		perform(r, r->easy, p, &cc, errbuf);
		curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(h);
		if (up.failed)
			return cstor_error_set(err, EIO, "%s: reading the data to send failed", what);
		if (cc == CURLE_FILESIZE_EXCEEDED)
			return cstor_error_set(err, EFBIG, "%s: over the limit of %zu bytes", what,
					       p->max);
		bool retry_ok = attempt + 1 < MAX_ATTEMPTS && !q->read;
		if (cc != CURLE_OK) {
			if (transient(cc) && retry_ok) {
				nap_ms(r, backoff_ms(attempt, -1));
				continue;
			}
			return curl_fail(err, cc, errbuf, what);
		}
		if (p->status == 401 && !answered && !q->read) {
			answered = true;
			_cleanup_free_ char *ch = p->www_auth ? strdup(p->www_auth) : NULL;
			if ((rc = authenticate(r, ch, what, err)) < 0)
				return rc;
			attempt--;
			continue;
		}
		if ((p->status == 429 || p->status >= 500) && retry_ok) {
			nap_ms(r, backoff_ms(attempt, p->retry_after));
			continue;
		}
		return 0;
	}
}

#define MANIFEST_TYPES                                                                     \
	"application/vnd.oci.image.manifest.v1+json, "                                     \
	"application/vnd.oci.image.index.v1+json, "                                        \
	"application/vnd.docker.distribution.manifest.v2+json, "                           \
	"application/vnd.docker.distribution.manifest.list.v2+json"

int cstor_reg_get_manifest(struct cstor_reg *r, const char *ref, size_t max, char **body,
			   size_t *len, char **media_type,
			   char digest[static CSTOR_DIGEST_STRING_MAX], cstor_error *err)
{
	_cleanup_free_ char *path = NULL, *what = NULL;
	bool by_digest = strchr(ref, ':') != NULL;
	if (asprintf(&path, "manifests/%s", ref) < 0 ||
	    asprintf(&what, "%s%s%s: manifest", r->name, by_digest ? "@" : ":", ref) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	struct resp p = { .max = max };
	struct req q = { .path = path, .accept = MANIFEST_TYPES };
	int rc = request(r, &q, &p, what, err);
	if (rc == 0 && p.status != 200)
		rc = status_fail(err, &p, what);
	if (rc == 0)
		rc = cstor_digest_buffer(digest, p.body ? p.body : "", p.len, err);
	if (rc == 0 && by_digest && !streq(digest, ref))
		rc = cstor_error_set(err, EBADMSG, "%s: digest mismatch: the registry sent %s", what,
				     digest);
	if (rc == 0 && !by_digest && p.digest && strncmp(p.digest, "sha256:", 7) == 0 &&
	    !streq(p.digest, digest))
		rc = cstor_error_set(err, EBADMSG,
				     "%s: the registry says its digest is %s, the bytes are %s", what,
				     p.digest, digest);
	if (rc == 0) {
		char *mt = p.content_type ? strndup(p.content_type, strcspn(p.content_type, ";"))
					  : NULL;
		*media_type = mt;
		*body = p.body ? TAKE_PTR(p.body) : strdup("");
		*len = p.len;
		if (!*body)
			rc = cstor_error_set(err, ENOMEM, "out of memory");
	}
	resp_clear(&p);
	return rc;
}

int cstor_reg_get_blob(struct cstor_reg *r, const char *digest, size_t max, char **body,
		       size_t *len, cstor_error *err)
{
	_cleanup_free_ char *path = NULL, *what = NULL;
	if (asprintf(&path, "blobs/%s", digest) < 0 ||
	    asprintf(&what, "%s: blob %s", r->name, digest) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	struct resp p = { .max = max };
	struct req q = { .path = path };
	int rc = request(r, &q, &p, what, err);
	if (rc == 0 && p.status != 200)
		rc = status_fail(err, &p, what);
	if (rc == 0) {
		*body = p.body ? TAKE_PTR(p.body) : strdup("");
		*len = p.len;
		if (!*body)
			rc = cstor_error_set(err, ENOMEM, "out of memory");
	}
	resp_clear(&p);
	return rc;
}

/* Streamed blobs. */
struct cstor_reg_blob {
	struct cstor_reg *r;
	char *url, *what;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	struct resp p; /* headers and, for errors, the body */
	char *buf;     /* received, not yet read */
	size_t cap, len, pos;
	uint64_t size, got; /* got: bytes received of the blob */
	uint64_t skip;      /* of a 200 answer to a Range request */
	uint64_t range_from; /* where this transfer was asked to start */
	int resumes, attempt;
	bool running, done, started, answered;
};

static size_t blob_write(char *data, size_t size, size_t n, void *ctx)
{
	struct cstor_reg_blob *b = ctx;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 && status != 206) {
		/* An error answer: its body is the registry's message. */
		b->p.max = MAX_ERROR_BODY;
		if (b->p.len + len <= MAX_ERROR_BODY)
			body_cb(data, 1, len, &b->p);
		return len;
	}
	if (!b->started) {
		/* A registry that ignores Range sends the blob from its start:
		 * what was had already is skipped. */
		b->started = true;
		b->skip = status == 200 ? b->range_from : 0;
	}
	size_t skip = b->skip < len ? (size_t)b->skip : len;
	b->skip -= skip;
	data += skip;
	len -= skip;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 17;
		while (cap < b->len + len)
			cap *= 2;
		char *nb = realloc(b->buf, cap);
		if (!nb)
			return 0;
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->got += len;
	return size * n;
}

static int blob_start(struct cstor_reg_blob *b, cstor_error *err)
{
	if (b->easy) {
		curl_multi_remove_handle(b->multi, b->easy);
		curl_slist_free_all(b->hdrs);
		b->hdrs = NULL;
	} else if (!(b->easy = curl_easy_init()))
		return cstor_error_set(err, ENOMEM, "cannot start a libcurl handle");
	setup(b->r, b->easy, b->url, b->errbuf);
	pthread_mutex_lock(&b->r->lock);
	if (b->r->authz)
		b->hdrs = curl_slist_append(b->hdrs, b->r->authz);
	pthread_mutex_unlock(&b->r->lock);
	char range[64];
	if (b->got > 0) {
		snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)b->got);
		b->hdrs = curl_slist_append(b->hdrs, range);
	}
	b->skip = 0;
	b->range_from = b->got;
	b->started = false;
	resp_clear(&b->p);
	b->p.retry_after = -1;
	curl_easy_setopt(b->easy, CURLOPT_HTTPHEADER, b->hdrs);
	curl_easy_setopt(b->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(b->easy, CURLOPT_HEADERDATA, &b->p);
	curl_easy_setopt(b->easy, CURLOPT_WRITEFUNCTION, blob_write);
	curl_easy_setopt(b->easy, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(b->easy, CURLOPT_BUFFERSIZE, 256L * 1024);
	if (curl_multi_add_handle(b->multi, b->easy) != CURLM_OK)
		return cstor_error_set(err, EIO, "%s: cannot start the download", b->what);
	b->running = true;
	return 0;
}

int cstor_reg_blob_open(struct cstor_reg_blob **out, struct cstor_reg *r, const char *digest,
			uint64_t size, cstor_error *err)
{
	pthread_mutex_lock(&r->lock);
	int rc = ping(r, err);
	pthread_mutex_unlock(&r->lock);
	if (rc < 0)
		return rc;
	struct cstor_reg_blob *b = calloc(1, sizeof(*b));
	if (!b)
		return cstor_error_set(err, ENOMEM, "out of memory");
	b->r = r;
	b->size = size;
	if (asprintf(&b->url, "%s/v2/%s/blobs/%s", r->base, r->repo, digest) < 0 || /* base: set once */
	    asprintf(&b->what, "%s: blob %s", r->name, digest) < 0 ||
	    !(b->multi = curl_multi_init())) {
		cstor_reg_blob_close(b);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	if ((rc = blob_start(b, err)) < 0) {
		cstor_reg_blob_close(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* The transfer ended: done, restarted, or failed. */
static int blob_ended(struct cstor_reg_blob *b, CURLcode cc, cstor_error *err)
{
	long status = 0;
	curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &status);
	b->running = false;
	b->p.status = status;
	if (cc == CURLE_OK && (status == 200 || status == 206)) {
		if (b->got == b->size) {
			b->done = true;
			return 0;
		}
		if (b->got > b->size)
			return cstor_error_set(err, EBADMSG,
					       "%s: the registry sent more than the %llu bytes the "
					       "manifest says",
					       b->what, (unsigned long long)b->size);
		/* Short but "complete": the connection was cut cleanly. */
		cc = CURLE_PARTIAL_FILE;
	}
	if (cc == CURLE_OK && status == 401 && !b->answered) {
		/* A registry that wants credentials for blobs only, or a token
		 * that expired: answered once. */
		b->answered = true;
		_cleanup_free_ char *ch = b->p.www_auth ? strdup(b->p.www_auth) : NULL;
		pthread_mutex_lock(&b->r->lock);
		int rc = authenticate(b->r, ch, b->what, err);
		pthread_mutex_unlock(&b->r->lock);
		return rc < 0 ? rc : blob_start(b, err);
	}
	if (cc == CURLE_OK && (status == 429 || status >= 500) && b->attempt + 1 < MAX_ATTEMPTS) {
		nap_ms(b->r, backoff_ms(b->attempt++, b->p.retry_after));
		return blob_start(b, err);
	}
	if (cc == CURLE_OK && status == 416 && b->got == b->size) {
		b->done = true;
		return 0;
	}
	if (cc == CURLE_OK)
		return status_fail(err, &b->p, b->what);
	if (transient(cc) && b->resumes < MAX_RESUMES) {
		/* Resumed where it broke off; a wait only when no bytes came. */
		if (b->resumes++ > 0)
			nap_ms(b->r, backoff_ms(b->resumes > 4 ? 4 : b->resumes - 1, -1));
		return blob_start(b, err);
	}
	if (transient(cc))
		return cstor_error_set(err, EIO, "%s: the connection broke %d times (%s) at byte %llu",
				       b->what, b->resumes + 1,
				       b->errbuf[0] ? b->errbuf : curl_easy_strerror(cc),
				       (unsigned long long)b->got);
	return curl_fail(err, cc, b->errbuf, b->what);
}

ssize_t cstor_reg_blob_read(struct cstor_reg_blob *b, void *buf, size_t len, cstor_error *err)
{
	while (b->pos == b->len) {
		b->pos = b->len = 0;
		if (b->done)
			return 0;
		/* Between chunks (the poll below waits at most a second). */
		if (b->r->cancel && *b->r->cancel)
			return cstor_error_set(err, ECANCELED, "%s: cancelled", b->what);
		int still = 0;
		CURLMcode mc = curl_multi_perform(b->multi, &still);
		if (mc != CURLM_OK)
			return cstor_error_set(err, EIO, "%s: %s", b->what, curl_multi_strerror(mc));
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(b->multi, &left)))
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == b->easy) {
				int rc = blob_ended(b, msg->data.result, err);
				if (rc < 0)
					return rc;
			}
		if (b->got > b->size)
			return cstor_error_set(err, EBADMSG,
					       "%s: the registry sent more than the %llu bytes the "
					       "manifest says",
					       b->what, (unsigned long long)b->size);
		if (b->pos == b->len && b->running &&
		    (mc = curl_multi_poll(b->multi, NULL, 0, 1000, NULL)) != CURLM_OK)
			return cstor_error_set(err, EIO, "%s: %s", b->what, curl_multi_strerror(mc));
	}
	size_t n = b->len - b->pos < len ? b->len - b->pos : len;
	memcpy(buf, b->buf + b->pos, n);
	b->pos += n;
	return (ssize_t)n;
}

void cstor_reg_blob_close(struct cstor_reg_blob *b)
{
	if (!b)
		return;
	if (b->easy) {
		curl_multi_remove_handle(b->multi, b->easy);
		curl_easy_cleanup(b->easy);
	}
	if (b->multi)
		curl_multi_cleanup(b->multi);
	curl_slist_free_all(b->hdrs);
	resp_clear(&b->p);
	free(b->buf);
	free(b->url);
	free(b->what);
	free(b);
}

int cstor_reg_blob_exists(bool *exists, struct cstor_reg *r, const char *digest,
			  cstor_error *err)
{
	_cleanup_free_ char *path = NULL, *what = NULL;
	if (asprintf(&path, "blobs/%s", digest) < 0 ||
	    asprintf(&what, "%s: blob %s", r->name, digest) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	struct resp p = { .max = 1 << 16 };
	int rc = request(r, &(struct req){ .method = "HEAD", .path = path }, &p, what, err);
	if (rc == 0 && p.status != 200 && p.status != 404)
		rc = status_fail(err, &p, what);
	*exists = rc == 0 && p.status == 200;
	resp_clear(&p);
	return rc;
}

int cstor_reg_blob_mount(bool *mounted, char **session, struct cstor_reg *r, const char *digest,
			 const char *from, cstor_error *err)
{
	_cleanup_free_ char *path = NULL, *what = NULL;
	char *ed = curl_easy_escape(r->easy, digest, 0), *ef = curl_easy_escape(r->easy, from, 0);
	int n = asprintf(&path, "blobs/uploads/?mount=%s&from=%s", ed, ef);
	curl_free(ed);
	curl_free(ef);
	if (n < 0 || asprintf(&what, "%s: mount of blob %s from %s", r->name, digest, from) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	struct resp p = { .max = 1 << 16 };
	int rc = request(r, &(struct req){ .method = "POST", .path = path }, &p, what, err);
	/* 202: not mounted, an upload session was opened instead: the
	 * upload goes on in it (one that is not used expires). */
	if (rc == 0 && p.status != 201 && p.status != 202)
		rc = status_fail(err, &p, what);
	*mounted = rc == 0 && p.status == 201;
	if (rc == 0 && p.status == 202 && p.location) {
		free(*session);
		*session = TAKE_PTR(p.location);
	}
	resp_clear(&p);
	return rc;
}

/* The next upload URL from a Location (relative or absolute). */
static int take_location(char **loc, struct resp *p, const char *what, cstor_error *err)
{
	if (!p->location)
		return cstor_error_set(err, EPROTO, "%s: the registry gave no upload location", what);
	free(*loc);
	*loc = TAKE_PTR(p->location);
	return 0;
}

int cstor_reg_blob_upload(struct cstor_reg *r, const char *digest, uint64_t size,
			  const char *session, cstor_reg_read_fn read, void *ctx, size_t chunk,
			  cstor_error *err)
{
	_cleanup_free_ char *what = NULL, *loc = NULL, *put = NULL;
	if (asprintf(&what, "%s: upload of blob %s", r->name, digest) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	struct resp p = { .max = 1 << 16 };
	int rc = 0;
	if (session) {
		if (!(loc = strdup(session)))
			return cstor_error_set(err, ENOMEM, "out of memory");
	} else {
		rc = request(r, &(struct req){ .method = "POST", .path = "blobs/uploads/" }, &p,
			     what, err);
		if (rc == 0 && p.status != 202)
			rc = status_fail(err, &p, what);
		if (rc == 0)
			rc = take_location(&loc, &p, what, err);
	}
	uint64_t off = 0;
	while (rc == 0 && chunk && off < size) {
		uint64_t n = size - off < chunk ? size - off : chunk;
		char range[64];
		snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)off,
			 (unsigned long long)(off + n - 1));
		struct req q = { .method = "PATCH",
				 .path = loc,
				 .absolute = true,
				 .content_type = "application/octet-stream",
				 .content_range = range,
				 .read = read,
				 .read_ctx = ctx,
				 .read_len = n };
		rc = request(r, &q, &p, what, err);
		if (rc == 0 && p.status != 202)
			rc = status_fail(err, &p, what);
		if (rc == 0)
			rc = take_location(&loc, &p, what, err);
		off += n;
	}
	if (rc == 0) {
		char *esc = curl_easy_escape(r->easy, digest, 0);
		if (asprintf(&put, "%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', esc) < 0)
			put = NULL;
		curl_free(esc);
		if (!put)
			rc = cstor_error_set(err, ENOMEM, "out of memory");
	}
	if (rc == 0) {
		struct req q = { .method = "PUT",
				 .path = put,
				 .absolute = true,
				 .content_type = "application/octet-stream" };
		if (!chunk) {
			q.read = read;
			q.read_ctx = ctx;
			q.read_len = size;
		}
		rc = request(r, &q, &p, what, err);
		if (rc == 0 && p.status != 201)
			rc = status_fail(err, &p, what);
	}
	resp_clear(&p);
	return rc;
}

/* The next page's URL from a Link header (RFC 8288): the target of the
 * link whose rel is "next"; NULL when there is none. */
static char *link_next(const char *link)
{
	const char *s = link;
	while (s && (s = strchr(s, '<'))) {
		const char *e = strchr(s, '>');
		if (!e)
			return NULL;
		const char *params = e + 1, *end = strchr(params, ',');
		size_t pl = end ? (size_t)(end - params) : strlen(params);
		_cleanup_free_ char *p = strndup(params, pl);
		if (p && (strstr(p, "rel=\"next\"") || strstr(p, "rel=next")))
			return strndup(s + 1, (size_t)(e - s - 1));
		s = end;
	}
	return NULL;
}

#define MAX_TAG_PAGES 10000
#define MAX_TAGS_PAGE (4u << 20)

int cstor_reg_list_tags(char ***out, struct cstor_reg *r, cstor_error *err)
{
	_cleanup_strv_free_ char **tags = calloc(1, sizeof(char *));
	_cleanup_free_ char *next = strdup("tags/list"), *what = NULL;
	if (!tags || !next || asprintf(&what, "%s: tags list", r->name) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	bool absolute = false;
	for (int page = 0; next; page++) {
		if (page == MAX_TAG_PAGES)
			return cstor_error_set(err, E2BIG, "%s: over %d pages", what, MAX_TAG_PAGES);
		struct resp p = { .max = MAX_TAGS_PAGE };
		struct req q = { .path = next, .absolute = absolute, .accept = "application/json" };
		int rc = request(r, &q, &p, what, err);
		if (rc == 0 && p.status != 200)
			rc = status_fail(err, &p, what);
		if (rc == 0 && p.too_big)
			rc = cstor_error_set(err, EBADMSG, "%s: a page over %u bytes", what,
					     MAX_TAGS_PAGE);
		json_t *j = rc == 0 ? json_loadb(p.body ? p.body : "", p.len, 0, NULL) : NULL;
		json_t *list = json_object_get(j, "tags"), *t;
		if (rc == 0 && (!json_is_object(j) || (list && !json_is_array(list) &&
						       !json_is_null(list))))
			rc = cstor_error_set(err, EBADMSG, "%s: not a tags list", what);
		size_t i;
		json_array_foreach(list, i, t) if (rc == 0)
		{
			if (!json_is_string(t))
				rc = cstor_error_set(err, EBADMSG, "%s: a tag that is not a string",
						     what);
			else if (strv_append(&tags, json_string_value(t)) < 0)
				rc = cstor_error_set(err, ENOMEM, "out of memory");
		}
		json_decref(j);
		char *n = rc == 0 && p.link ? link_next(p.link) : NULL;
		/* A page that names itself as the next would never end. */
		if (n && streq(n, next))
			rc = cstor_error_set(err, ELOOP, "%s: page %s names itself as the next", what,
					     n);
		resp_clear(&p);
		if (rc < 0) {
			free(n);
			return rc;
		}
		free(next);
		next = n;
		absolute = true;
	}
	*out = TAKE_PTR(tags);
	return 0;
}

int cstor_reg_put_manifest(struct cstor_reg *r, const char *ref, const char *media_type,
			   const char *body, size_t len, cstor_error *err)
{
	_cleanup_free_ char *path = NULL, *what = NULL;
	if (asprintf(&path, "manifests/%s", ref) < 0 ||
	    asprintf(&what, "%s:%s: manifest upload", r->name, ref) < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	struct resp p = { .max = 1 << 16 };
	struct req q = { .method = "PUT",
			 .path = path,
			 .content_type = media_type,
			 .body = body,
			 .body_len = len };
	int rc = request(r, &q, &p, what, err);
	if (rc == 0 && p.status != 201 && p.status != 200)
		rc = status_fail(err, &p, what);
	resp_clear(&p);
	return rc;
}
