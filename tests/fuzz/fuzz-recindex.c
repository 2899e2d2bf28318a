/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lookup index (store/recindex.h). The first byte chooses:
 *  - even: the rest is an index file, opened and probed as a store would
 *    (the index is hostile input): no memory error, and every record
 *    number it gives is one record_at accepts or refuses, never more;
 *  - odd: the rest is a records file (layers, images or containers by the
 *    byte's value); when the codec accepts it, the index written for it
 *    finds every record by its ID, its names and its prefix, and its span
 *    parses as the same record.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "records/container-rec.h"
#include "records/fields.h"
#include "records/image-rec.h"
#include "records/layer-rec.h"
#include "store/recindex.h"
#include "util/error-internal.h"
#include "util/gojson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[48];
static int dfd = -1;

/* The scratch directory goes with the process (replays run in CI). */
static void remove_dir(void)
{
	unlinkat(dfd, "x.index", 0);
	rmdir(dir);
}

static void probe(const struct cstor_recindex *ix, const char *key, uint64_t file_size)
{
	bool amb;
	enum cstor_recindex_kind kind;
	long rec = cstor_recindex_find(ix, key, &amb, &kind);
	if (rec < -2)
		abort();
	uint64_t off, len;
	const char *id;
	if (rec >= 0 && cstor_recindex_record(ix, rec, file_size, &off, &len, &id) &&
	    (off + len > file_size || strlen(id) > 1u << 30))
		abort();
	(void)cstor_recindex_find_key(ix, CSTOR_RECINDEX_ALT, key);
}

static void hostile_index(const uint8_t *data, size_t size)
{
	int fd = openat(dfd, "x.index", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	struct cstor_recindex *ix = cstor_recindex_open(dfd, "x.index");
	if (!ix)
		return;
	static const char *const keys[] = { "", "a", "0", "aaaa", "example.com/a:1", "x" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		probe(ix, keys[i], size);
	/* Keys taken from the input itself hit its strings, if any. */
	char key[80];
	for (size_t at = 0; at + 1 < size && at < 4096; at += 97) {
		size_t l = size - at < sizeof(key) - 1 ? size - at : sizeof(key) - 1;
		memcpy(key, data + at, l);
		key[l] = 0;
		probe(ix, key, size);
	}
	cstor_recindex_close(ix);
}

static void round_trip(const struct cstor_rec_codec *c, const char *text, size_t len)
{
	struct cstor_obj_head **recs = NULL;
	size_t n = 0;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = cstor_recs_parse(c, &recs, &n, text, len, "fuzz.json", &err);
	cstor_error_clear(&err);
	if (r < 0)
		return;
	if (n == 0) /* blank or null: nothing to index (the engine writes none) */
		goto out;
	cstor_lock_token token = { .len = 3, .bytes = "tok" };
	struct stat st = { .st_size = (off_t)len, .st_ino = 7, .st_dev = 9 };
	r = cstor_recindex_write(dfd, "x.index", text, len, recs, n, NULL, &token, &st);
	if (r == -ENOMEM || r == -E2BIG) {
		goto out;
	}
	if (r < 0)
		abort(); /* a file the codec accepted has n elements */
	struct cstor_recindex *ix = cstor_recindex_open(dfd, "x.index");
	if (!ix || !cstor_recindex_matches(ix, &token, &st))
		abort();
	for (size_t i = 0; i < n; i++) {
		/* IDs may repeat in a damaged file (the engine drops such a
		 * load's index); the first keeps its key, as in the engine. */
		long rec = cstor_recindex_find_key(ix, CSTOR_RECINDEX_ID, recs[i]->id);
		if (rec < 0 || !streq(recs[rec]->id, recs[i]->id))
			abort();
		uint64_t off, l;
		const char *id;
		if (!cstor_recindex_record(ix, (long)i, len, &off, &l, &id) || !streq(id, recs[i]->id))
			abort();
		/* The span parses as the record: the same text written. */
		json_t *j = json_loadb(text + off, l, JSON_ALLOW_NUL, NULL);
		struct cstor_obj_head *one = NULL;
		if (!j || c->parse(&one, j, "span", NULL) < 0 || (c->loaded && c->loaded(one, "span", NULL) < 0))
			abort();
		json_decref(j);
		cstor_buf a = { 0 }, b = { 0 };
		c->write(&a, recs[i]);
		c->write(&b, one);
		if (!a.oom && !b.oom && (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
			abort();
		cstor_buf_free(&a);
		cstor_buf_free(&b);
		c->free(one);
		for (size_t k = 0; recs[i]->names && recs[i]->names[k]; k++)
			if (cstor_recindex_find_key(ix, CSTOR_RECINDEX_NAME, recs[i]->names[k]) < 0)
				abort();
		bool amb;
		enum cstor_recindex_kind kind;
		if (cstor_recindex_find(ix, recs[i]->id, &amb, &kind) < 0)
			abort();
	}
	cstor_recindex_close(ix);
out:
	for (size_t i = 0; i < n; i++)
		c->free(recs[i]);
	free(recs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dfd < 0) {
		snprintf(dir, sizeof(dir), "/tmp/cstor-fuzz-recindex-XXXXXX");
		if (!mkdtemp(dir) || (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			abort();
		atexit(remove_dir);
	}
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		hostile_index(data + 1, size - 1);
		return 0;
	}
	static const struct cstor_rec_codec *const codecs[] = {
		&cstor_layer_rec_codec,
		&cstor_image_rec_codec,
		&cstor_container_rec_codec,
	};
	round_trip(codecs[(data[0] / 2) % 3], (const char *)data + 1, size - 1);
	return 0;
}
