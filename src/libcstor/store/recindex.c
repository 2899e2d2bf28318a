/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/recindex.h"
#include "util/cleanup.h"
#include "util/strhash.h"
#include "util/fileutil.h"
#include "util/macro.h"

#define MAGIC "CSTORIX\n"
#define VERSION 1
#define BOM 0x01020304u
/* Records and slots are numbered in 30 bits, the key's kind in the top 2. */
#define REC_MASK ((1u << 30) - 1)
/* A record the index points to is parsed alone: anything bigger than this
 * is not a record the index was made for. */
#define MAX_RECORD (64u << 20)

struct header {
	char magic[8];
	uint32_t version;
	uint32_t bom;
	uint32_t token_len;
	uint32_t pad;
	uint8_t token[CSTOR_LOCK_TOKEN_SIZE];
	uint64_t size, mtime_sec, mtime_nsec, ino, dev;
	uint64_t n_recs, n_slots;
	uint64_t recs_off, slots_off, sorted_off, strings_off, strings_len;
	uint64_t total;
};

struct rec {
	uint64_t off, len;
	uint32_t id; /* offset of the ID in the strings */
	uint32_t pad;
};

struct slot {
	uint32_t key; /* offset of the key in the strings; 0: empty */
	uint32_t rec; /* kind << 30 | record */
};

struct cstor_recindex {
	void *map;
	size_t map_len;
	const struct header *h;
	const struct rec *recs;
	const struct slot *slots;
	const uint32_t *sorted;
	const char *strings;
};

/* ---- finding the records' spans ---- */

static bool ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Past the string starting at @i (its opening quote). */
static size_t skip_string(const char *d, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (d[i] == '\\')
			i++;
		else if (d[i] == '"')
			return i + 1;
	}
	return len;
}

/* Past the value starting at @i. */
static size_t skip_value(const char *d, size_t len, size_t i)
{
	if (d[i] != '{' && d[i] != '[' && d[i] != '"') {
		while (i < len && d[i] != ',' && d[i] != ']' && !ws(d[i]))
			i++;
		return i;
	}
	size_t depth = 0;
	do {
		char c = d[i];
		if (c == '"') {
			i = skip_string(d, len, i);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		i++;
	} while (depth > 0 && i < len);
	return i;
}

long cstor_recindex_spans(const char *d, size_t len, uint64_t *spans, size_t max)
{
	size_t i = 0;
	while (i < len && ws(d[i]))
		i++;
	if (i == len || d[i] != '[')
		return -1;
	i++;
	size_t n = 0;
	for (;;) {
		while (i < len && ws(d[i]))
			i++;
		if (i == len)
			return -1;
		if (d[i] == ']')
			return (long)n;
		if (d[i] == ',') {
			i++;
			continue;
		}
		size_t end = skip_value(d, len, i);
		if (n == max)
			return -1;
		spans[2 * n] = i;
		spans[2 * n + 1] = end;
		n++;
		i = end;
	}
}

/* ---- writing ---- */

struct sort_item {
	const char *id;
	uint32_t rec;
};

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct sort_item *)a)->id, ((const struct sort_item *)b)->id);
}

struct builder {
	char *buf;
	struct slot *slots;
	uint64_t mask;
	char *strings;
	uint64_t used; /* bytes of strings */
};

static uint32_t add_string(struct builder *b, const char *s)
{
	size_t l = strlen(s) + 1;
	uint32_t off = (uint32_t)b->used;
	memcpy(b->strings + b->used, s, l);
	b->used += l;
	return off;
}

/* The first record keeps a key, as the engine's index does. */
static void put(struct builder *b, enum cstor_recindex_kind kind, const char *key, uint32_t off,
		uint32_t rec)
{
	for (uint64_t i = cstor_strhash(key) & b->mask;; i = (i + 1) & b->mask) {
		struct slot *s = &b->slots[i];
		if (!s->key) {
			*s = (struct slot){ off, (uint32_t)kind << 30 | rec };
			return;
		}
		if (s->rec >> 30 == (uint32_t)kind && streq(b->strings + s->key, key))
			return;
	}
}

int cstor_recindex_write(int dirfd, const char *index_name, const char *data, size_t len,
			 struct cstor_obj_head *const *recs, size_t n,
			 const char *(*alt_key)(const struct cstor_obj_head *h),
			 const cstor_lock_token *token, const struct stat *st)
{
	if (n > REC_MASK)
		return -E2BIG;
	_cleanup_free_ uint64_t *spans = malloc((2 * n + 2) * sizeof(*spans));
	if (!spans)
		return -ENOMEM;
	if (cstor_recindex_spans(data, len, spans, n) != (long)n)
		return -EBADMSG;
	uint64_t keys = 0, strings = 1;
	for (size_t i = 0; i < n; i++) {
		keys++;
		strings += strlen(recs[i]->id) + 1;
		for (size_t k = 0; recs[i]->names && recs[i]->names[k]; k++, keys++)
			strings += strlen(recs[i]->names[k]) + 1;
		const char *alt = alt_key ? alt_key(recs[i]) : NULL;
		if (alt && alt[0]) {
			keys++;
			strings += strlen(alt) + 1;
		}
	}
	uint64_t cap = 16;
	while (cap < 2 * keys + 2)
		cap *= 2;
	if (strings > UINT32_MAX || cap > REC_MASK)
		return -E2BIG;
	struct header h = { .version = VERSION, .bom = BOM };
	memcpy(h.magic, MAGIC, 8);
	h.token_len = (uint32_t)token->len;
	memcpy(h.token, token->bytes, token->len);
	h.size = (uint64_t)st->st_size;
	h.mtime_sec = (uint64_t)st->st_mtim.tv_sec;
	h.mtime_nsec = (uint64_t)st->st_mtim.tv_nsec;
	h.ino = st->st_ino;
	h.dev = st->st_dev;
	h.n_recs = n;
	h.n_slots = cap;
	h.recs_off = sizeof(h);
	h.slots_off = h.recs_off + n * sizeof(struct rec);
	h.sorted_off = h.slots_off + cap * sizeof(struct slot);
	h.strings_off = h.sorted_off + ((n * sizeof(uint32_t) + 7) & ~(uint64_t)7);
	h.strings_len = strings;
	h.total = h.strings_off + strings;
	_cleanup_free_ char *buf = calloc(1, h.total);
	_cleanup_free_ struct sort_item *items = malloc((n + 1) * sizeof(*items));
	if (!buf || !items)
		return -ENOMEM;
	struct builder b = {
		.buf = buf,
		.slots = (struct slot *)(buf + h.slots_off),
		.mask = cap - 1,
		.strings = buf + h.strings_off,
		.used = 1, /* offset 0 is the empty slot */
	};
	struct rec *rv = (struct rec *)(buf + h.recs_off);
	for (size_t i = 0; i < n; i++) {
		const struct cstor_obj_head *r = recs[i];
		rv[i] = (struct rec){ spans[2 * i], spans[2 * i + 1] - spans[2 * i],
				      add_string(&b, r->id), 0 };
		put(&b, CSTOR_RECINDEX_ID, r->id, rv[i].id, (uint32_t)i);
		items[i] = (struct sort_item){ r->id, (uint32_t)i };
	}
	/* IDs first: by_id is asked before names, so an ID is never shadowed. */
	for (size_t i = 0; i < n; i++) {
		const struct cstor_obj_head *r = recs[i];
		for (size_t k = 0; r->names && r->names[k]; k++)
			put(&b, CSTOR_RECINDEX_NAME, r->names[k], add_string(&b, r->names[k]),
			    (uint32_t)i);
		const char *alt = alt_key ? alt_key(r) : NULL;
		if (alt && alt[0])
			put(&b, CSTOR_RECINDEX_ALT, alt, add_string(&b, alt), (uint32_t)i);
	}
	if (n)
		qsort(items, n, sizeof(*items), cmp_item);
	uint32_t *sorted = (uint32_t *)(buf + h.sorted_off);
	for (size_t i = 0; i < n; i++)
		sorted[i] = items[i].rec;
	memcpy(buf, &h, sizeof(h));
	/* A cache: atomic (readers see the old or the new index) but not
	 * synced; after a crash a stale or empty one only costs a full load. */
	return cstor_atomic_write_at(dirfd, index_name, buf, h.total, 0600, 0, index_name, NULL);
}

/* ---- reading ---- */

void cstor_recindex_close(struct cstor_recindex *ix)
{
	if (!ix)
		return;
	munmap(ix->map, ix->map_len);
	free(ix);
}

/* @off + @count * @size fits in @total. */
static bool fits(uint64_t off, uint64_t count, uint64_t size, uint64_t total)
{
	uint64_t bytes, end;
	return !__builtin_mul_overflow(count, size, &bytes) &&
	       !__builtin_add_overflow(off, bytes, &end) && end <= total && off % 8 == 0;
}

struct cstor_recindex *cstor_recindex_open(int dirfd, const char *index_name)
{
	if (dirfd < 0)
		return NULL;
	_cleanup_close_ int fd = openat(dirfd, index_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < sizeof(struct header) || (uint64_t)st.st_size > (1ULL << 32))
		return NULL;
	size_t len = (size_t)st.st_size;
	void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return NULL;
	const struct header *h = map;
	bool ok = memcmp(h->magic, MAGIC, 8) == 0 && h->version == VERSION && h->bom == BOM &&
		  h->token_len <= CSTOR_LOCK_TOKEN_SIZE && h->total == len &&
		  h->n_recs <= REC_MASK && h->n_slots >= 2 && h->n_slots <= REC_MASK + 1ULL &&
		  (h->n_slots & (h->n_slots - 1)) == 0 && h->recs_off >= sizeof(*h) &&
		  fits(h->recs_off, h->n_recs, sizeof(struct rec), len) &&
		  fits(h->slots_off, h->n_slots, sizeof(struct slot), len) &&
		  fits(h->sorted_off, h->n_recs, sizeof(uint32_t), len) &&
		  fits(h->strings_off, h->strings_len, 1, len) && h->strings_len >= 1 &&
		  h->strings_len <= UINT32_MAX;
	struct cstor_recindex *ix = ok ? calloc(1, sizeof(*ix)) : NULL;
	if (!ix) {
		munmap(map, len);
		return NULL;
	}
	const char *base = map;
	*ix = (struct cstor_recindex){
		.map = map,
		.map_len = len,
		.h = h,
		.recs = (const struct rec *)(base + h->recs_off),
		.slots = (const struct slot *)(base + h->slots_off),
		.sorted = (const uint32_t *)(base + h->sorted_off),
		.strings = base + h->strings_off,
	};
	return ix;
}

bool cstor_recindex_matches(const struct cstor_recindex *ix, const cstor_lock_token *token,
			    const struct stat *st)
{
	const struct header *h = ix->h;
	return h->token_len == token->len && memcmp(h->token, token->bytes, token->len) == 0 &&
	       h->size == (uint64_t)st->st_size && h->mtime_sec == (uint64_t)st->st_mtim.tv_sec &&
	       h->mtime_nsec == (uint64_t)st->st_mtim.tv_nsec && h->ino == (uint64_t)st->st_ino &&
	       h->dev == (uint64_t)st->st_dev;
}

/* The string at @off, or NULL when it does not end inside the strings. */
static const char *string_at(const struct cstor_recindex *ix, uint64_t off)
{
	if (off == 0 || off >= ix->h->strings_len)
		return NULL;
	const char *s = ix->strings + off;
	return memchr(s, 0, ix->h->strings_len - off) ? s : NULL;
}

long cstor_recindex_find_key(const struct cstor_recindex *ix, enum cstor_recindex_kind kind,
			     const char *key)
{
	uint64_t mask = ix->h->n_slots - 1;
	uint64_t i = cstor_strhash(key) & mask;
	for (uint64_t k = 0; k < ix->h->n_slots; k++, i = (i + 1) & mask) {
		struct slot s = ix->slots[i];
		if (!s.key)
			return -1;
		if (s.rec >> 30 != (uint32_t)kind)
			continue;
		const char *str = string_at(ix, s.key);
		if (!str)
			return -2;
		if (!streq(str, key))
			continue;
		return (s.rec & REC_MASK) < ix->h->n_recs ? (long)(s.rec & REC_MASK) : -2;
	}
	return -2; /* a full table: not one this code wrote */
}

/* The ID of record @rec, NULL when it does not hold together. */
static const char *id_of(const struct cstor_recindex *ix, uint64_t rec)
{
	return rec < ix->h->n_recs ? string_at(ix, ix->recs[rec].id) : NULL;
}

/* The engine's by_prefix over the sorted IDs. */
static long by_prefix(const struct cstor_recindex *ix, const char *ref, bool *ambiguous)
{
	size_t l = strlen(ref);
	uint64_t n = ix->h->n_recs, lo = 0, hi = n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		const char *id = id_of(ix, ix->sorted[mid]);
		if (!id)
			return -2;
		if (strcmp(id, ref) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n)
		return -1;
	const char *id = id_of(ix, ix->sorted[lo]);
	if (!id)
		return -2;
	if (strncmp(id, ref, l) != 0)
		return -1;
	if (lo + 1 < n) {
		const char *next = id_of(ix, ix->sorted[lo + 1]);
		if (!next)
			return -2;
		if (strncmp(next, ref, l) == 0) {
			*ambiguous = true;
			return -1;
		}
	}
	return ix->sorted[lo];
}

long cstor_recindex_find(const struct cstor_recindex *ix, const char *ref, bool *ambiguous,
			 enum cstor_recindex_kind *kind)
{
	*ambiguous = false;
	static const enum cstor_recindex_kind order[] = { CSTOR_RECINDEX_ID, CSTOR_RECINDEX_NAME,
							  CSTOR_RECINDEX_ALT };
	for (size_t i = 0; i < 3; i++) {
		long r = cstor_recindex_find_key(ix, order[i], ref);
		if (r != -1) {
			*kind = order[i];
			return r;
		}
	}
	*kind = CSTOR_RECINDEX_ID;
	return by_prefix(ix, ref, ambiguous);
}

bool cstor_recindex_record(const struct cstor_recindex *ix, long rec, uint64_t file_size,
			   uint64_t *off, uint64_t *len, const char **id)
{
	if (rec < 0 || (uint64_t)rec >= ix->h->n_recs)
		return false;
	const struct rec *r = &ix->recs[rec];
	uint64_t end;
	if (r->len == 0 || r->len > MAX_RECORD || __builtin_add_overflow(r->off, r->len, &end) ||
	    end > file_size || !(*id = string_at(ix, r->id)))
		return false;
	*off = r->off;
	*len = r->len;
	return true;
}
