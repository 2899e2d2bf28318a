/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record samples as containers/storage 1.43 wrote them (the Go CLI
 * `containers-storage -s vfs` on a scratch store: import-layer with a tar of
 * files owned by 1000:2000, create-container with --uidmap/--gidmap and
 * --volatile, set-names/add-names, set-metadata with characters Go escapes,
 * set-image-data/set-container-data/set-layer-data), one record per string,
 * and a helper that makes such a store afresh when the Go CLI is installed,
 * so the round trips are also checked against whatever Go writes today.
 */
#ifndef CSTOR_TESTS_REC_SAMPLES_H
#define CSTOR_TESTS_REC_SAMPLES_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "records/fields.h"
#include "util/fileutil.h"
#include "util/gojson.h"

/* layers.json: an imported layer (digests, sizes, compression, ID sets, big
 * data, metadata set with an invalid UTF-8 byte: Go's first save writes it
 * as the escape \ufffd, every later save as the raw U+FFFD read back, as
 * here), a mapped copy made
 * for a container with ID maps, a container layer, a plain child. */
static const char *const go_layers[] = {
	"{\"id\":\"b9978cf1e1dacf8794c8cb9c8ffad7d2e55252909380c0275d2d1d79365ca153\",\"names\":["
	"\"base\"],\"metadata\":\"bad \xef\xbf\xbd" " utf8\",\"created\":\"2026-12-05T01:29:32.348558725Z\","
	"\"compressed-diff-digest\":\"sha256:"
	"b042c3377315d4f43da9613098582a1217170f6ec23b345e099ba57779b66af5\",\"compressed-size\":166,"
	"\"diff-digest\":\"sha256:3c20dbd02787a2d75505233506314e8fec7a439b664729cb6b723ef4643c7248\","
	"\"diff-size\":10240,\"compression\":2,\"uidset\":[0,1000],\"gidset\":[0,2000],\"big-data-"
	"names\":[\"Some Data\"]}",
	"{\"id\":\"8e8be2b5f36688de4fc80c75d59cb6f7763b14cb5442079a1f8b797dfea17b8b\",\"created\":"
	"\"2026-12-05T01:29:32.381516791Z\",\"compressed-diff-digest\":\"sha256:"
	"b042c3377315d4f43da9613098582a1217170f6ec23b345e099ba57779b66af5\",\"compressed-size\":166,"
	"\"diff-digest\":\"sha256:3c20dbd02787a2d75505233506314e8fec7a439b664729cb6b723ef4643c7248\","
	"\"diff-size\":10240,\"compression\":2,\"uidset\":[0,1000],\"gidset\":[0,2000],\"uidmap\":[{"
	"\"container_id\":0,\"host_id\":100000,\"size\":65536}],\"gidmap\":[{\"container_id\":0,"
	"\"host_id\":200000,\"size\":65536}]}",
	"{\"id\":\"d7bcb6760dd5856ff2785d172fac580050275dc189a68af540300d7ac0867bd0\",\"parent\":"
	"\"8e8be2b5f36688de4fc80c75d59cb6f7763b14cb5442079a1f8b797dfea17b8b\",\"created\":\"2026-12-"
	"05T01:29:32.398364736Z\",\"uidmap\":[{\"container_id\":0,\"host_id\":100000,\"size\":65536}],"
	"\"gidmap\":[{\"container_id\":0,\"host_id\":200000,\"size\":65536}]}",
	"{\"id\":\"d0addacc4f92bc4f8f7a4d1d842eb3dff38bcb8c237b7c17bea83deaae175ac9\",\"parent\":"
	"\"b9978cf1e1dacf8794c8cb9c8ffad7d2e55252909380c0275d2d1d79365ca153\",\"created\":\"2026-12-"
	"05T01:29:32.407750955Z\"}",
	NULL,
};

/* images.json: names history after set-names/add-names/set-names, a mapped
 * layer; and one with manifest big data (so a digest), two names, metadata
 * with a quote, a big-data key with upper case, spaces and '/' (sizes and
 * digests maps written with sorted keys, names in insertion order). */
static const char *const go_images[] = {
	"{\"id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"names\":["
	"\"third\"],\"names-history\":[\"third\",\"second\",\"renamed\"],\"layer\":"
	"\"b9978cf1e1dacf8794c8cb9c8ffad7d2e55252909380c0275d2d1d79365ca153\",\"mapped-layers\":["
	"\"8e8be2b5f36688de4fc80c75d59cb6f7763b14cb5442079a1f8b797dfea17b8b\"],\"metadata\":"
	"\"imgmeta\",\"created\":\"2026-12-05T01:29:32.376942999Z\"}",
	"{\"id\":\"b4610e5c442b1f162fef4330e0a0d2e52ec797b3c7126132e05550daff5a6d40\",\"digest\":"
	"\"sha256:e6e990d980b9f2dd2075743d03168a6ead793676498a21d45816607c4e6baee8\",\"names\":["
	"\"img:latest\",\"other:1\"],\"metadata\":\"meta\\\"data\",\"big-data-names\":[\"manifest-"
	"sha256:abc\",\"Key With/Slash\"],\"big-data-sizes\":{\"Key With/Slash\":13,\"manifest-"
	"sha256:abc\":13},\"big-data-digests\":{\"Key With/Slash\":\"sha256:"
	"e6e990d980b9f2dd2075743d03168a6ead793676498a21d45816607c4e6baee8\",\"manifest-sha256:abc\":"
	"\"sha256:e6e990d980b9f2dd2075743d03168a6ead793676498a21d45816607c4e6baee8\"},\"created\":"
	"\"2026-12-05T01:29:26.406837764Z\"}",
	NULL,
};

/* containers.json: ID maps, big data, metadata with what Go escapes (<, >,
 * &, U+2028, control characters; é kept as UTF-8), flags Go sets; and a
 * volatile container. */
static const char *const go_containers[] = {
	"{\"id\":\"2fb00c4db14791629e38d10903a69c0d189b02ef4e27cfd8af22827ef1ac9f04\",\"names\":["
	"\"c1\"],\"image\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
	"\"layer\":\"d7bcb6760dd5856ff2785d172fac580050275dc189a68af540300d7ac0867bd0\",\"metadata\":"
	"\"\\u003ca href=\\\"x\\\"\\u003e\\u0026amp;\\u003c/a\\u003e\\t\\u2028 \xc3\xa9"
	" \\u0001\",\"big-data-names\":[\"config.json\"],\"big-data-sizes\":{\"config.json\":4},"
	"\"big-data-digests\":{\"config.json\":\"sha256:"
	"4d523dee6bc8c17a3e283570526d8d6ed3d1edda07c53e94c55e491bbf780337\"},\"created\":\"2026-12-"
	"05T01:29:32.401286825Z\",\"uidmap\":[{\"container_id\":0,\"host_id\":100000,\"size\":65536}"
	"],\"gidmap\":[{\"container_id\":0,\"host_id\":200000,\"size\":65536}],\"flags\":{"
	"\"MountLabel\":\"\",\"ProcessLabel\":\"\"}}",
	"{\"id\":\"24d1503854d7742566ca5a7b0eb52914350c46226a9d7396530db413b3a7c0f9\",\"names\":["
	"\"c2\"],\"image\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
	"\"layer\":\"d0addacc4f92bc4f8f7a4d1d842eb3dff38bcb8c237b7c17bea83deaae175ac9\",\"created\":"
	"\"2026-12-05T01:29:32.416032265Z\",\"flags\":{\"MountLabel\":\"\",\"ProcessLabel\":\"\","
	"\"Volatile\":true}}",
	NULL,
};

/* "[a,b,...]" of the samples, as Go writes a whole file (no newline). */
static inline char *samples_join(const char *const *v)
{
	cstor_buf b = { 0 };
	cstor_buf_putc(&b, '[');
	for (size_t i = 0; v[i]; i++) {
		if (i)
			cstor_buf_putc(&b, ',');
		cstor_buf_puts(&b, v[i]);
	}
	cstor_buf_putc(&b, ']');
	return cstor_buf_steal(&b, NULL);
}

static inline void go_store_remove(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
}

/*
 * A scratch store written by the Go CLI (vfs driver), with the same kinds of
 * records as the samples above; its graph root is <dir>/g. Returns 0, or 77
 * when the Go CLI is not installed or cannot make a store here (e.g. not
 * root; nothing is left then), or -1 on a harness failure. On success the
 * caller removes <dir> with go_store_remove().
 */
static inline int go_store_make(char dir[], size_t size)
{
	if (system("command -v containers-storage >/dev/null 2>&1") != 0)
		return 77;
	snprintf(dir, size, "/tmp/cstor-go-rec.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "(set -e; cd '%s'; CS=\"containers-storage -g $PWD/g --run $PWD/r -s vfs\"; "
		 "mkdir -p t/d; echo hi >t/d/f; chown 1000:2000 t/d/f 2>/dev/null || true; "
		 "tar -C t -czf l.tgz d; echo data >data; "
		 "$CS import-layer --name base <l.tgz; $CS create-layer base; "
		 "$CS create-image --name img:1 --name '<other>&' -m 'm<&>\"' base; "
		 "$CS set-image-data -f data img:1 manifest-sha256:x; "
		 "$CS set-image-data -f data img:1 'Key With/Slash'; "
		 "$CS set-names -n a img:1; $CS add-names -n b a; "
		 "$CS set-layer-data -f data base 'Some Data'; "
		 "$CS create-container --uidmap 0:100000:65536 --gidmap 0:200000:65536 -n c1 a; "
		 "$CS create-container --volatile -n c2 a; "
		 "$CS set-container-data -f data c1 config.json; "
		 "$CS set-metadata -m \"$(printf 'x\\t\\342\\200\\250\\303\\251\\001')\" c1; "
		 ") >'%s/log' 2>&1",
		 dir, dir);
	if (system(cmd) != 0) {
		go_store_remove(dir);
		return 77;
	}
	return 0;
}

/* Read <dir>/<rel> whole; NULL when it cannot be read. */
static inline char *go_store_read(const char *dir, const char *rel, size_t *len)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "re");
	if (!f)
		return NULL;
	cstor_buf b = { 0 };
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		cstor_buf_put(&b, tmp, n);
	fclose(f);
	return cstor_buf_steal(&b, len);
}

/* Parse one record of @c's kind from JSON text (@where names it in
 * errors). */
static inline int rec_parse_text(const struct cstor_rec_codec *c, struct cstor_obj_head **out,
				 const char *text, const char *where, cstor_error *err)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j) {
		printf("# test input does not parse: %s\n", je.text);
		return -EINVAL;
	}
	int r = c->parse(out, j, where, err);
	json_decref(j);
	return r;
}

/* One record written as its store writes it. */
static inline char *rec_write_text(const struct cstor_rec_codec *c,
				   const struct cstor_obj_head *h)
{
	cstor_buf b = { 0 };
	c->write(&b, h);
	return cstor_buf_steal(&b, NULL);
}

/* Parse @text as a whole records file of @c's kind (named @path in
 * errors) and write every record back as its store does (a JSON list, no
 * whitespace). */
static inline int rec_file_roundtrip(const struct cstor_rec_codec *c, const char *text,
				     const char *path, char **out, cstor_error *err)
{
	struct cstor_obj_head **recs = NULL;
	size_t n = 0;
	int r = cstor_recs_parse(c, &recs, &n, text, strlen(text), path, err);
	if (r < 0)
		return r;
	cstor_buf b = { 0 };
	cstor_buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			cstor_buf_putc(&b, ',');
		c->write(&b, recs[i]);
		c->free(recs[i]);
	}
	free(recs);
	cstor_buf_putc(&b, ']');
	*out = cstor_buf_steal(&b, NULL);
	return *out ? 0 : -ENOMEM;
}

#endif
