/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records/bigdata.h"
#include "store/engine.h"
#include "store/recindex.h"
#include "util/cleanup.h"
#include "util/strhash.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/rm.h"
#include "util/strv.h"
#include "util/failpoint.h"

static int oom(cstor_error *err)
{
	return cstor_error_set(err, ENOMEM, "out of memory");
}

/* A record of the store, with the copy snapshots share. */
static void free_record(const struct cstor_objstore_ops *ops, struct cstor_obj_head *h)
{
	cstor_rec_unref(ops->codec, h->snap);
	cstor_rec_unref(ops->codec, h->old_snap);
	ops->codec->free(h);
}

static void free_records(const struct cstor_objstore_ops *ops, struct cstor_obj_head **recs,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		free_record(ops, recs[i]);
	free(recs);
}

/* The records are about to change: snapshots taken from now on get copies
 * of their own, and the shared ones are set aside (their holders keep
 * theirs). After the change, the first copy of a record shares the old one
 * again when the record writes the same text, which costs one write of the
 * record instead of a JSON round trip: listing 10,000 records after
 * changing one then copies one. */
static void drop_shared_copies(struct cstor_objstore *os) CSTOR_REQUIRES(&os->lock)
{
	for (size_t i = 0; i < os->n; i++) {
		struct cstor_obj_head *h = os->recs[i];
		if (!h->snap)
			continue;
		cstor_rec_unref(os->ops->codec, h->old_snap);
		h->old_snap = h->snap;
		h->snap = NULL;
	}
}

/* @old is still a true copy of @h: @h writes the text @old was made of. */
static bool same_text(const struct cstor_rec_codec *codec, const struct cstor_obj_head *h,
		      const struct cstor_obj_head *old)
{
	if (!old->text)
		return false;
	cstor_buf b = { 0 };
	cstor_buf_reserve(&b, old->text_len + 1);
	codec->write(&b, h);
	bool same = !b.oom && b.len == old->text_len && memcmp(b.data, old->text, b.len) == 0;
	cstor_buf_free(&b);
	return same;
}

int cstor_objstore_copy(struct cstor_objstore *os, const struct cstor_obj_head *h,
			struct cstor_obj_head **out)
{
	if (os->writing)
		return cstor_rec_copy(os->ops->codec, out, h);
	struct cstor_obj_head **slot = &((struct cstor_obj_head *)h)->snap;
	struct cstor_obj_head *c = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!c) {
		/* The first reader takes the old copy (with the store's
		 * reference): shared again, or dropped at once. */
		struct cstor_obj_head *o = __atomic_exchange_n(
			&((struct cstor_obj_head *)h)->old_snap, NULL, __ATOMIC_ACQ_REL);
		if (o && same_text(os->ops->codec, h, o))
			c = o;
		else {
			cstor_rec_unref(os->ops->codec, o);
			int r = cstor_rec_copy(os->ops->codec, &c, h);
			if (r < 0)
				return r;
		}
		struct cstor_obj_head *none = NULL;
		/* Readers hold the lock shared: another may have made one. */
		if (!__atomic_compare_exchange_n(slot, &none, c, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			cstor_rec_unref(os->ops->codec, c);
			c = none;
		}
	}
	*out = cstor_rec_ref(c);
	return 0;
}

/* ---- the lookup index ---- */

/* Open addressing over a power-of-two table: key -> first record with it. */
struct slot {
	const char *key;
	struct cstor_obj_head *h;
};

struct cstor_obj_index {
	size_t mask;
	struct slot *ids, *names, *alts;
	/* Keys put in each table so far: a record added to the store goes
	 * into the index while the tables stay at most half full. */
	size_t n_ids, n_names;
	/* Two records share a key (a damaged file): removing one must give
	 * the key to the other, which only a rebuild does. */
	bool shared_keys;
	/* Sorted by ID, for prefixes: built by the first prefix lookup
	 * (installed atomically, as the index), dropped by an add. */
	struct cstor_obj_head **by_id;
	size_t n;
};

/* A removed key's slot: probes go on past it. */
static const char tombstone[] = "";

/* The slot holding @key, else the empty one ending its probe. */
static struct slot *probe(struct slot *t, size_t mask, const char *key)
{
	for (size_t i = cstor_strhash(key) & mask;; i = (i + 1) & mask)
		if (!t[i].key || (t[i].key != tombstone && streq(t[i].key, key)))
			return &t[i];
}

/* The first record keeps a key, as the linear scans of Go do: false when
 * another had it. */
static bool put(struct slot *t, size_t mask, const char *key, struct cstor_obj_head *h)
{
	struct slot *sl = probe(t, mask, key);
	if (!sl->key)
		*sl = (struct slot){ key, h };
	return sl->h == h;
}

/* Forget @key when @h holds it (its string may be about to go). */
static void unput(struct slot *t, size_t mask, const char *key, const struct cstor_obj_head *h)
{
	struct slot *sl = probe(t, mask, key);
	if (sl->key && sl->h == h)
		*sl = (struct slot){ tombstone, NULL };
}

static struct cstor_obj_head *get(const struct slot *t, size_t mask, const char *key)
{
	return probe((struct slot *)t, mask, key)->h;
}

static void index_free(struct cstor_obj_index *ix)
{
	if (!ix)
		return;
	free(ix->ids);
	free(ix->names);
	free(ix->alts);
	free(ix->by_id);
	free(ix);
}

/* Add @h's keys: the first record keeps a key, as Go's linear scans. */
static void index_put(struct cstor_objstore *os, struct cstor_obj_index *ix,
		      struct cstor_obj_head *h)
{
	bool own = put(ix->ids, ix->mask, h->id, h);
	ix->n_ids++;
	for (size_t k = 0; h->names && h->names[k]; k++, ix->n_names++)
		own &= put(ix->names, ix->mask, h->names[k], h);
	const char *alt = os->ops->alt_key ? os->ops->alt_key(h) : NULL;
	if (alt && alt[0])
		own &= put(ix->alts, ix->mask, alt, h);
	ix->shared_keys |= !own;
	ix->n++;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp((*(struct cstor_obj_head *const *)a)->id,
		      (*(struct cstor_obj_head *const *)b)->id);
}

static struct cstor_obj_index *index_build(struct cstor_objstore *os)
	CSTOR_REQUIRES_SHARED(&os->lock)
{
	size_t keys = os->n;
	for (size_t i = 0; i < os->n; i++)
		keys += strv_length(os->recs[i]->names);
	/* Room for a quarter more before a rebuild. */
	keys += keys / 4 + 16;
	size_t cap = 16;
	while (cap < 2 * keys + 2)
		cap *= 2;
	struct cstor_obj_index *ix = calloc(1, sizeof(*ix));
	if (!ix || !(ix->ids = calloc(cap, sizeof(struct slot))) ||
	    !(ix->names = calloc(cap, sizeof(struct slot))) ||
	    (os->ops->alt_key && !(ix->alts = calloc(cap, sizeof(struct slot))))) {
		index_free(ix);
		return NULL;
	}
	ix->mask = cap - 1;
	for (size_t i = 0; i < os->n; i++)
		index_put(os, ix, os->recs[i]);
	return ix;
}

/* The records sorted by ID (for prefixes), built when missing; NULL only
 * when out of memory. */
static struct cstor_obj_head **sorted_ids(struct cstor_objstore *os, struct cstor_obj_index *ix)
	CSTOR_REQUIRES_SHARED(&os->lock)
{
	struct cstor_obj_head **v = __atomic_load_n(&ix->by_id, __ATOMIC_ACQUIRE);
	if (v)
		return v;
	if (!(v = malloc((ix->n + 1) * sizeof(*v))))
		return NULL;
	if (ix->n) { /* os->recs is NULL in an empty store */
		memcpy(v, os->recs, ix->n * sizeof(*v));
		qsort(v, ix->n, sizeof(*v), cmp_id);
	}
	struct cstor_obj_head **none = NULL;
	if (!__atomic_compare_exchange_n(&ix->by_id, &none, v, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		free(v);
		return none;
	}
	return v;
}

/* The index, built when missing; NULL only when out of memory, and then
 * lookups scan the records instead. */
static struct cstor_obj_index *index_of(struct cstor_objstore *os)
	CSTOR_REQUIRES_SHARED(&os->lock)
{
	struct cstor_obj_index *ix = __atomic_load_n(&os->index, __ATOMIC_ACQUIRE);
	if (ix)
		return ix;
	ix = index_build(os);
	if (!ix)
		return NULL;
	struct cstor_obj_index *none = NULL;
	if (!__atomic_compare_exchange_n(&os->index, &none, ix, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		/* Another reader installed one first. */
		index_free(ix);
		return none;
	}
	return ix;
}

void cstor_objstore_changed(struct cstor_objstore *os)
{
	index_free(os->index);
	os->index = NULL;
}

/* ---- opening, loading, saving ---- */

int cstor_objstore_open(struct cstor_objstore **out, const struct cstor_objstore_ops *ops,
			const char *dir, bool read_only, cstor_error *err)
{
	struct cstor_objstore_where w = { .dir = dir };
	return cstor_objstore_open_at(out, ops, &w, read_only, err);
}

/* Forget the records parsed through the lookup index, and the index. */
static void drop_partial(struct cstor_objstore *os) CSTOR_REQUIRES(&os->lock)
{
	for (size_t i = 0; i < os->n_partial; i++)
		free_record(os->ops, os->partial[i].h);
	free(os->partial);
	os->partial = NULL;
	os->n_partial = 0;
	cstor_recindex_close(os->pix);
	os->pix = NULL;
}

/* Nobody else can hold a reference to the store being freed. */
void cstor_objstore_free(struct cstor_objstore *os) CSTOR_NO_TSA
{
	if (!os)
		return;
	drop_partial(os);
	free(os->index_name);
	index_free(os->index);
	free_records(os->ops, os->recs, os->n);
	strv_free(os->cleaned);
	cstor_recfile_close(&os->file, &os->lock);
	if (os->has_split)
		cstor_recfile_close(&os->split_file, &os->split_lock);
	if (os->aside_dirfd >= 0)
		close(os->aside_dirfd);
	free(os->aside_dir);
	free(os);
}

int cstor_objstore_open_at(struct cstor_objstore **out, const struct cstor_objstore_ops *ops,
			   const struct cstor_objstore_where *w, bool read_only, cstor_error *err)
{
	struct cstor_objstore *os = calloc(1, sizeof(*os));
	if (!os)
		return oom(err);
	os->ops = ops;
	os->read_only = read_only;
	os->aside_dirfd = -1;
	/* "layers.json" -> "cstor-layers.index" */
	size_t stem = strcspn(ops->json_name, ".");
	if (asprintf(&os->index_name, "cstor-%.*s.index", (int)stem, ops->json_name) < 0) {
		free(os);
		return oom(err);
	}
	int r = cstor_recfile_open_at(&os->file, &os->lock, w->dir, ops->json_name,
				      w->lock_dir ? w->lock_dir : w->dir, ops->lock_name, read_only,
				      err);
	if (r < 0) {
		free(os->index_name);
		free(os);
		return r;
	}
	if (w->aside_dir && !streq(w->aside_dir, w->dir) && ops->aside_name) {
		if (!(os->aside_dir = strdup(w->aside_dir)))
			r = oom(err);
		else if (!read_only)
			r = cstor_mkdir_p(w->aside_dir, 0700, err);
		if (r == 0) {
			os->aside_dirfd = open(w->aside_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (os->aside_dirfd < 0 && !(read_only && errno == ENOENT))
				r = cstor_error_errno(err, errno, "open store directory %s", w->aside_dir);
		}
	}
	if (r == 0 && w->split_dir && ops->split) {
		r = cstor_recfile_open(&os->split_file, &os->split_lock, w->split_dir,
				       ops->json_name, ops->lock_name, read_only, err);
		os->has_split = r == 0;
	}
	if (r < 0) {
		cstor_objstore_free(os);
		return r;
	}
	*out = os;
	return 0;
}

/* A table of @keys keys, empty. */
static struct slot *table_new(size_t keys, size_t *mask)
{
	size_t cap = 16;
	while (cap < 2 * keys + 2)
		cap *= 2;
	*mask = cap - 1;
	return calloc(cap, sizeof(struct slot));
}

/* Of a records file's text: 128 bits from two 64-bit hashes, never 0. */
static uint64_t text_hash(const char *data, size_t len)
{
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x9e3779b97f4a7c15ULL ^ len;
	for (size_t i = 0; i < len; i++) {
		a = (a ^ (unsigned char)data[i]) * 0x100000001b3ULL;
		b = (b + (unsigned char)data[i]) * 0xff51afd7ed558ccdULL;
		b ^= b >> 29;
	}
	uint64_t h = a ^ (b * 0xc4ceb9fe1a85ec53ULL) ^ (b >> 31);
	return h ? h : 1;
}

/* Append records parsed from @data to @recs, skipping IDs already there,
 * marking each with @mark. */
static int append_more(struct cstor_objstore *os, struct cstor_obj_head ***recs, size_t *n,
		       const char *data, size_t len, const char *path,
		       void (*mark)(struct cstor_obj_head *h), cstor_error *err)
{
	struct cstor_obj_head **more = NULL;
	size_t nm = 0;
	int r = cstor_recs_parse(os->ops->codec, &more, &nm, data, len, path, err);
	if (r < 0)
		return r;
	struct cstor_obj_head **all = nm ? realloc(*recs, (*n + nm + 1) * sizeof(*all)) : *recs;
	if (!all) {
		free_records(os->ops, more, nm);
		return oom(err);
	}
	*recs = all;
	size_t mask;
	_cleanup_free_ struct slot *ids = table_new(*n, &mask);
	if (!ids) {
		free_records(os->ops, more, nm);
		return oom(err);
	}
	for (size_t j = 0; j < *n; j++)
		put(ids, mask, all[j]->id, all[j]);
	for (size_t i = 0; i < nm; i++) {
		if (get(ids, mask, more[i]->id)) {
			os->ops->codec->free(more[i]);
			continue;
		}
		mark(more[i]);
		all[(*n)++] = more[i];
	}
	free(more);
	return 0;
}

static int aside_dirfd(const struct cstor_objstore *os)
{
	return os->aside_dir ? os->aside_dirfd : os->file.dirfd;
}

/* Append the records of the aside file to @recs, skipping IDs the main
 * file has. */
static int load_aside(struct cstor_objstore *os, struct cstor_obj_head ***recs, size_t *n,
		      cstor_error *err) CSTOR_REQUIRES(&os->lock)
{
	const char *name = os->ops->aside_name;
	int dfd = aside_dirfd(os);
	if (!name || dfd < 0)
		return 0;
	_cleanup_free_ char *path = cstor_path_join(os->aside_dir ? os->aside_dir : os->file.dir,
						    name);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (!path)
		return oom(err);
	int r = cstor_read_file_at(dfd, name, &data, &len, path, err);
	if (r == -ENOENT) {
		cstor_error_clear(err);
		return 0;
	}
	if (r < 0 || !data)
		return r;
	return append_more(os, recs, n, data, len, path, os->ops->set_aside, err);
}

/* The split file's lock is held whenever the store's is (the lock
 * primitives take both): these helpers only run with the store's held. */
static int load_split(struct cstor_objstore *os, struct cstor_obj_head ***recs, size_t *n,
		      struct cstor_recfile_seen *seen, uint64_t *hash, cstor_error *err) CSTOR_NO_TSA
{
	*hash = 0;
	if (!os->has_split)
		return 0;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = cstor_recfile_read(&os->split_file, &os->split_lock, &data, &len, seen, err);
	if (r < 0 || !data)
		return r;
	*hash = text_hash(data, len);
	return append_more(os, recs, n, data, len, os->split_file.path, os->ops->set_split, err);
}

static bool split_stale(struct cstor_objstore *os) CSTOR_NO_TSA
{
	return os->has_split &&
	       cstor_recfile_stale(&os->split_file, &os->split_lock, &os->split_seen);
}

static int save_split(struct cstor_objstore *os, const cstor_buf *b, cstor_error *err) CSTOR_NO_TSA
{
	uint64_t h = text_hash(b->data, b->len);
	if (h == os->text_hash[1])
		return 0; /* no record there changed: not even its token */
	int r = cstor_recfile_write(&os->split_file, &os->split_lock, b->data, b->len,
				    &os->split_seen, err);
	os->text_hash[1] = r == 0 ? h : 0;
	return r;
}

/* How split_lock() takes the split file's lock: as the store's is taken. */
enum split_how { SPLIT_SHARED, SPLIT_EXCLUSIVE, SPLIT_THREADS, SPLIT_UNLOCK };

/* Take (or release) the split file's lock with the store's. */
static void split_lock(struct cstor_objstore *os, enum split_how how) CSTOR_NO_TSA
{
	if (!os->has_split)
		return;
	switch (how) {
	case SPLIT_SHARED:
		cstor_lock_rlock(&os->split_lock);
		break;
	case SPLIT_EXCLUSIVE:
		cstor_lock_lock(&os->split_lock);
		break;
	case SPLIT_THREADS:
		cstor_lock_lock_threads(&os->split_lock);
		break;
	case SPLIT_UNLOCK:
		cstor_lock_unlock(&os->split_lock);
		break;
	}
}

/* Names a record lost to its own repeat, freed after the pass. */
struct names_gone {
	char **v;
	size_t n, cap;
};

static void names_gone_free(struct names_gone *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i]);
	free(g->v);
}

/* Names are unique: as Go's load does, records are taken in order and each
 * name goes to the record naming it last, taken from the one that had it
 * (for a name a record repeats, see own_repeats_kept). 1 when any was
 * taken, 0 when none, -ENOMEM. Linear: one table of the names seen. */
static int take_duplicate_names(const struct cstor_objstore_ops *ops,
				struct cstor_obj_head **recs, size_t n)
{
	size_t keys = 0;
	for (size_t i = 0; i < n; i++)
		keys += strv_length(recs[i]->names);
	size_t mask;
	_cleanup_free_ struct slot *seen = table_new(keys, &mask);
	if (!seen)
		return -ENOMEM;
	/* Names a record lost to its own repeat: the table's key may be one
	 * of them, so they are freed last. */
	_cleanup_(names_gone_free) struct names_gone gone = { 0 };
	int dup = 0;
	for (size_t i = 0; i < n; i++) {
		char **names = recs[i]->names;
		bool lost_own = false;
		/* The record loses names only after the loop, which so sees
		 * them all, as Go's range over the names as they were. */
		for (size_t k = 0; names && names[k]; k++) {
			struct slot *sl = probe(seen, mask, names[k]);
			if (sl->key && sl->h != recs[i]) {
				/* An earlier record has it: it is this one's now.
				 * That frees the key, replaced just below. */
				strv_remove(sl->h->names, names[k]);
				dup = 1;
			} else if (sl->key && !ops->own_repeats_kept) {
				lost_own = true;
				dup = 1;
			}
			*sl = (struct slot){ names[k], recs[i] };
		}
		if (!lost_own)
			continue;
		/* Every name this record repeats goes, all its copies, as
		 * Go's removeName takes them. Rare: quadratic in the one
		 * record's names, as Go is. */
		size_t count = strv_length(names);
		if (gone.n + count > gone.cap) {
			size_t cap = 2 * (gone.n + count);
			char **v = realloc(gone.v, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			gone.v = v;
			gone.cap = cap;
		}
		_cleanup_free_ char **orig = malloc(count * sizeof(*orig));
		if (!orig)
			return -ENOMEM;
		memcpy(orig, names, count * sizeof(*orig));
		size_t o = 0;
		for (size_t k = 0; k < count; k++) {
			bool rep = false;
			for (size_t j = 0; j < count && !rep; j++)
				rep = j != k && streq(orig[j], orig[k]);
			if (rep)
				gone.v[gone.n++] = orig[k];
			else
				names[o++] = orig[k];
		}
		names[o] = NULL;
	}
	return dup;
}

/* One record per ID. A file listing an ID twice (hand-edited, or merged
 * badly) is read the way Go's lookups see it: the last record is the
 * object (Go indexes records by ID in file order, later ones replacing
 * earlier ones). The earlier records' names are moved to it, so no name
 * is lost; their other fields go. Without this, deleting the object would
 * remove its files and leave the other record naming them. 1 when any
 * record was dropped, 0 when none, -ENOMEM. */
static int drop_duplicate_ids(const struct cstor_objstore_ops *ops, struct cstor_obj_head **recs,
			      size_t *n)
{
	size_t cap = 16;
	while (cap < 2 * *n + 2)
		cap *= 2;
	_cleanup_free_ struct slot *seen = calloc(cap, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	int dup = 0;
	for (size_t i = *n; i-- > 0;) {
		struct slot *sl = probe(seen, cap - 1, recs[i]->id);
		if (!sl->key) {
			*sl = (struct slot){ recs[i]->id, recs[i] };
			continue;
		}
		for (size_t k = 0; recs[i]->names && recs[i]->names[k]; k++)
			if (!strv_contains(sl->h->names, recs[i]->names[k]) &&
			    strv_append(&sl->h->names, recs[i]->names[k]) < 0)
				return -ENOMEM;
		free_record(ops, recs[i]);
		recs[i] = NULL;
		dup = 1;
	}
	size_t m = 0;
	for (size_t i = 0; i < *n; i++)
		if (recs[i])
			recs[m++] = recs[i];
	*n = m;
	return dup;
}

/* ---- the lookup index cached next to the file (store/recindex.h) ---- */

/* After a reader's full load of @data (which @seen saw), unless the index
 * there already matches. A writer's load is about to be outdated by its
 * save, so it makes none. Errors are ignored: it is a cache. */
/* The index covers the records file alone: a store whose records are
 * spread over more files (a split image store's layers.json, a transient
 * store's volatile file on the run root, each changed under its own lock
 * or token) loads them whole. */
static bool index_usable(const struct cstor_objstore *os)
{
	return !os->has_split && os->aside_dirfd < 0;
}

static void write_index(struct cstor_objstore *os, const char *data, size_t len,
			struct cstor_obj_head *const *recs, size_t n,
			const struct cstor_recfile_seen *seen) CSTOR_REQUIRES(&os->lock)
{
	if (os->read_only || os->writing || os->file.dirfd < 0 || !index_usable(os))
		return;
	struct stat st;
	/* The file read is the one stat'ed: same mtime as when the token was
	 * read, and the size read. */
	if (fstatat(os->file.dirfd, os->file.name, &st, 0) < 0 || (size_t)st.st_size != len ||
	    st.st_mtim.tv_sec != seen->mtime.tv_sec || st.st_mtim.tv_nsec != seen->mtime.tv_nsec)
		return;
	struct cstor_recindex *old = cstor_recindex_open(os->file.dirfd, os->index_name);
	bool current = old && cstor_recindex_matches(old, &seen->token, &st);
	cstor_recindex_close(old);
	if (!current)
		(void)cstor_recindex_write(os->file.dirfd, os->index_name, data, len, recs, n,
					   os->ops->alt_key, &seen->token, &st);
}

/* A record parsed alone through the index lives until the index stops
 * matching; a process that asks for more than this many loads the file
 * instead (a daemon then answers from memory). */
#define MAX_PARTIAL 32

/* Read bytes [@off, @off + @len) of @fd and parse them as record @rec. */
static int parse_one(struct cstor_objstore *os, int fd, uint64_t off, uint64_t len, long rec,
		     struct cstor_obj_head **out)
{
	_cleanup_free_ char *buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < len) {
		ssize_t k = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EIO;
		got += (size_t)k;
	}
	json_t *j = json_loadb(buf, len, JSON_ALLOW_NUL, NULL);
	if (!j)
		return -EBADMSG;
	char where[4200];
	snprintf(where, sizeof(where), "loading \"%s\": %s %ld", os->file.path,
		 os->ops->codec->what, rec);
	int r = json_is_object(j) ? os->ops->codec->parse(out, j, where, NULL) : -EBADMSG;
	json_decref(j);
	if (r == 0 && os->ops->codec->loaded && (r = os->ops->codec->loaded(*out, where, NULL)) < 0) {
		os->ops->codec->free(*out);
		*out = NULL;
	}
	return r;
}

/* Whether @h is what the index said: its ID, and the key that matched. */
static bool has_key(struct cstor_objstore *os, const struct cstor_obj_head *h, const char *id,
		    enum cstor_recindex_kind kind, const char *key)
{
	if (!streq(h->id, id))
		return false;
	switch (kind) {
	case CSTOR_RECINDEX_ID:
		return strncmp(h->id, key, strlen(key)) == 0;
	case CSTOR_RECINDEX_NAME:
		return strv_contains(h->names, key);
	case CSTOR_RECINDEX_ALT:
		return os->ops->alt_key && streq_ptr(os->ops->alt_key(h), key);
	}
	return false;
}

/* The record @ref (or the name @name2) names, through the index: 1 with
 * *out, or with *out NULL when the index has none and @final_miss; 0 when
 * the index cannot say (missing, outdated, an ambiguous prefix, anything
 * that does not hold together), -ENOMEM. The lock is held exclusively
 * among our threads. */
static int find_partial(struct cstor_objstore *os, const char *ref, const char *name2,
			bool final_miss, struct cstor_obj_head **out) CSTOR_REQUIRES(&os->lock)
{
	*out = NULL;
	if (os->read_only || os->file.dirfd < 0 || os->n_partial >= MAX_PARTIAL ||
	    !index_usable(os))
		return 0;
	cstor_lock_token token;
	if (cstor_lock_read_token(&os->lock, &token, NULL) < 0)
		return 0;
	_cleanup_close_ int fd = openat(os->file.dirfd, os->file.name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return 0;
	if (os->pix && !cstor_recindex_matches(os->pix, &token, &st))
		drop_partial(os);
	if (!os->pix) {
		os->pix = cstor_recindex_open(os->file.dirfd, os->index_name);
		if (os->pix && !cstor_recindex_matches(os->pix, &token, &st))
			drop_partial(os);
		if (!os->pix)
			return 0;
	}
	bool amb = false;
	enum cstor_recindex_kind kind;
	const char *key = ref;
	long rec = cstor_recindex_find(os->pix, ref, &amb, &kind);
	if (rec == -1 && !amb && name2) {
		key = name2;
		kind = CSTOR_RECINDEX_NAME;
		rec = cstor_recindex_find_key(os->pix, kind, name2);
	}
	/* The index lists every record of the file, as it was loaded whole
	 * (no repair, no second file): a miss there is a miss. */
	if (rec == -1 && !amb && final_miss)
		return 1;
	uint64_t off, len;
	const char *id;
	if (rec < 0 || !cstor_recindex_record(os->pix, rec, (uint64_t)st.st_size, &off, &len, &id))
		return 0;
	for (size_t i = 0; i < os->n_partial; i++)
		if (os->partial[i].rec == rec) {
			/* Parsed for another key: checked for this one too. */
			if (!has_key(os, os->partial[i].h, id, kind, key))
				return 0;
			*out = os->partial[i].h;
			return 1;
		}
	struct cstor_objstore_partial *v =
		realloc(os->partial, (os->n_partial + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	os->partial = v;
	struct cstor_obj_head *h = NULL;
	int r = parse_one(os, fd, off, len, rec, &h);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || !has_key(os, h, id, kind, key)) {
		if (h)
			free_record(os->ops, h);
		return 0;
	}
	v[os->n_partial++] = (struct cstor_objstore_partial){ rec, h };
	*out = h;
	return 1;
}

static int reload(struct cstor_objstore *os, cstor_error *err) CSTOR_REQUIRES(&os->lock)
{
	struct cstor_recfile_seen seen;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = cstor_recfile_read(&os->file, &os->lock, &data, &len, &seen, err);
	if (r < 0)
		return r;
	struct cstor_obj_head **recs = NULL;
	size_t n = 0;
	if (data && (r = cstor_recs_parse(os->ops->codec, &recs, &n, data, len, os->file.path, err)) < 0)
		return r;
	size_t n_file = n;
	/* In Go's order: the stable file, the image store's, the volatile. */
	struct cstor_recfile_seen split_seen = { 0 };
	uint64_t hashes[2] = { data ? text_hash(data, len) : 0, 0 };
	if ((r = load_split(os, &recs, &n, &split_seen, &hashes[1], err)) < 0 ||
	    (r = load_aside(os, &recs, &n, err)) < 0) {
		free_records(os->ops, recs, n);
		return r;
	}
	int dup_ids = drop_duplicate_ids(os->ops, recs, &n);
	int dup = dup_ids < 0 ? dup_ids : take_duplicate_names(os->ops, recs, n);
	if (dup < 0) {
		free_records(os->ops, recs, n);
		return oom(err);
	}
	if (dup && os->read_only) {
		free_records(os->ops, recs, n);
		return cstor_error_set(err, EBADMSG,
				       "read-only %s store %s assigns the same name to multiple %ss",
				       os->ops->kind, os->file.dir, os->ops->kind);
	}
	/* Only the file's own records, as they are in it, are indexed. */
	if (!dup && !dup_ids && n == n_file && data)
		write_index(os, data, len, recs, n, &seen);
	drop_partial(os);
	cstor_objstore_changed(os);
	free_records(os->ops, os->recs, os->n);
	os->recs = recs;
	os->n = n;
	os->seen = seen;
	os->split_seen = split_seen;
	os->text_hash[0] = hashes[0];
	os->text_hash[1] = hashes[1];
	/* Rewritten by the next write (a reader leaves the file alone). */
	os->needs_save = dup || dup_ids;
	os->cleanup_pending = true;
	return 0;
}

static bool stale(struct cstor_objstore *os) CSTOR_REQUIRES_SHARED(&os->lock)
{
	return cstor_recfile_stale(&os->file, &os->lock, &os->seen) || split_stale(os);
}

static int begin_writing(struct cstor_objstore *os, cstor_error *err) CSTOR_NO_TSA;

/* A lock primitive: the lock is taken shared or handed back with an error,
 * across an exclusive reload in between, which the analysis cannot follow. */
int cstor_objstore_start_reading(struct cstor_objstore *os, cstor_error *err) CSTOR_NO_TSA
{
	bool cleaned = false;
	for (;;) {
		cstor_lock_rlock(&os->lock);
		split_lock(os, SPLIT_SHARED);
		bool fresh = !stale(os);
		if (fresh && !cleaned && os->cleanup_pending && !os->read_only && os->ctx &&
		    os->ops->reader_cleanup && os->ops->reader_cleanup(os)) {
			/* Once: a cleanup that cannot run (no write access)
			 * leaves the reader reading what is there. */
			cleaned = true;
			split_lock(os, SPLIT_UNLOCK);
			cstor_lock_unlock(&os->lock);
			/* Without waiting: a lock held elsewhere (or by this
			 * very thread, reading in a nested call) must not turn
			 * a read into a deadlock; the layer is then shown as
			 * it is and removed by the next writer. The split
			 * file's lock is only ever taken under the store's,
			 * so once that one is ours, waiting for it is safe. */
			cstor_error e = CSTOR_ERROR_INIT;
			if (cstor_lock_trylock(&os->lock)) {
				split_lock(os, SPLIT_EXCLUSIVE);
				if (begin_writing(os, &e) == 0)
					cstor_objstore_done(os);
			}
			cstor_error_clear(&e);
			continue;
		}
		if (fresh)
			return 0;
		split_lock(os, SPLIT_UNLOCK);
		cstor_lock_unlock(&os->lock);
		/* Reloading replaces records other threads may be reading: it
		 * needs the lock exclusively among our threads. On the file a
		 * shared lock is enough (a reader's reload writes nothing:
		 * repairs wait for the next writer), so a new process's first
		 * read does not wait for other processes' readers (a mount of
		 * another layer holds the layer store shared throughout). */
		cstor_lock_lock_threads(&os->lock);
		split_lock(os, SPLIT_THREADS);
		int r = stale(os) ? reload(os, err) : 0;
		split_lock(os, SPLIT_UNLOCK);
		cstor_lock_unlock(&os->lock);
		if (r < 0)
			return r;
	}
}

/* A lock primitive, as start_reading: the lock is held shared, or
 * exclusively among our threads (shared on the file) when the record came
 * from the index. */
int cstor_objstore_start_lookup(struct cstor_objstore *os, const char *ref, const char *name2,
				bool final_miss, struct cstor_obj_head **h, bool *absent,
				cstor_error *err) CSTOR_NO_TSA
{
	*h = NULL;
	*absent = false;
	/* Stores the index does not cover take the whole way (and their
	 * split file's lock with it). */
	if (os->read_only || !ref || !ref[0] || !index_usable(os))
		return cstor_objstore_start_reading(os, err);
	cstor_lock_rlock(&os->lock);
	if (!stale(os))
		return 0;
	cstor_lock_unlock(&os->lock);
	/* The parsed records are kept for later lookups: changing them
	 * needs the lock exclusively among our threads, as a reload. */
	cstor_lock_lock_threads(&os->lock);
	int r = stale(os) ? find_partial(os, ref, name2, final_miss, h) : 0;
	if (r > 0) {
		*absent = !*h;
		return 0;
	}
	cstor_lock_unlock(&os->lock);
	if (r < 0)
		return cstor_error_set(err, ENOMEM, "out of memory");
	return cstor_objstore_start_reading(os, err);
}

/* A lock primitive: returns with the lock held on success only. */
int cstor_objstore_start_writing(struct cstor_objstore *os, cstor_error *err) CSTOR_NO_TSA
{
	if (os->read_only)
		return cstor_error_set(err, EROFS, "%s store %s is read-only", os->ops->kind,
				       os->file.dir);
	cstor_lock_lock(&os->lock);
	split_lock(os, SPLIT_EXCLUSIVE);
	return begin_writing(os, err);
}

/* With the lock (and the split file's) just taken exclusively: up-to-date
 * records, cleaned up; on failure both are released. */
static int begin_writing(struct cstor_objstore *os, cstor_error *err) CSTOR_NO_TSA
{
	os->writing = true;
	drop_shared_copies(os);
	int r = stale(os) ? reload(os, err) : 0;
	/* Also after a reader's reload: a process whose first look at the
	 * store was a read would otherwise never clean up. */
	if (r == 0 && os->cleanup_pending && os->ops->writer_cleanup && os->ctx) {
		r = os->ops->writer_cleanup(os, err);
		if (r == 0)
			os->cleanup_pending = false;
	}
	if (r == 0 && os->needs_save)
		r = cstor_objstore_save(os, err);
	if (r < 0) {
		os->writing = false;
		split_lock(os, SPLIT_UNLOCK);
		cstor_lock_unlock(&os->lock);
	}
	return r;
}

void cstor_objstore_done(struct cstor_objstore *os) CSTOR_NO_TSA
{
	/* Only a writer ever sets it; a reader (shared) finds it false. */
	if (os->writing)
		os->writing = false;
	split_lock(os, SPLIT_UNLOCK);
	cstor_lock_unlock(&os->lock);
}

/* Which file a record is saved in. */
enum { IN_MAIN, IN_SPLIT, IN_ASIDE };

static int file_of(const struct cstor_objstore *os, const struct cstor_obj_head *h)
{
	if (os->ops->aside && os->ops->aside(h))
		return IN_ASIDE;
	if (os->has_split && os->ops->split(h))
		return IN_SPLIT;
	return IN_MAIN;
}

static void write_list(cstor_buf *b, struct cstor_objstore *os, int which, size_t *count)
	CSTOR_REQUIRES_SHARED(&os->lock)
{
	*count = 0;
	cstor_buf_putc(b, '[');
	for (size_t i = 0; i < os->n; i++) {
		if (file_of(os, os->recs[i]) != which)
			continue;
		if ((*count)++)
			cstor_buf_putc(b, ',');
		os->ops->codec->write(b, os->recs[i]);
	}
	cstor_buf_putc(b, ']');
}

/* The aside file, when the kind has one and it exists or has records. */
static int save_aside(struct cstor_objstore *os, cstor_error *err) CSTOR_REQUIRES(&os->lock)
{
	const char *name = os->ops->aside_name;
	if (!name)
		return 0;
	cstor_buf b = { 0 };
	size_t count;
	write_list(&b, os, IN_ASIDE, &count);
	int r = 0;
	struct stat st;
	int dfd = aside_dirfd(os);
	if (b.oom)
		r = oom(err);
	else if (count > 0 || fstatat(dfd, name, &st, 0) == 0)
		/* Go writes it without fsync: its records are of volatile
		 * containers, which do not outlive a crash. */
		r = cstor_atomic_write_at(dfd, name, b.data, b.len, 0600, 0, name, err);
	cstor_buf_free(&b);
	return r;
}

int cstor_objstore_save(struct cstor_objstore *os, cstor_error *err)
{
	if (os->read_only)
		return cstor_error_set(err, EROFS, "%s store %s is read-only", os->ops->kind,
				       os->file.dir);
	int r = save_aside(os, err);
	if (r < 0)
		return r;
	cstor_buf b = { 0 };
	size_t count;
	if (os->has_split) {
		/* Both files every time: a reader of either store notices. */
		write_list(&b, os, IN_SPLIT, &count);
		r = b.oom ? oom(err) : save_split(os, &b, err);
		cstor_buf_free(&b);
		if (r < 0)
			return r;
		b = (cstor_buf){ 0 };
	}
	cstor_buf_reserve(&b, os->saved_len + os->saved_len / 8 + 4096);
	write_list(&b, os, IN_MAIN, &count);
	if (b.oom) {
		cstor_buf_free(&b);
		return oom(err);
	}
	os->saved_len = b.len;
	uint64_t h = text_hash(b.data, b.len);
	/* The same text: only the token, which tells readers to reload (the
	 * aside file may have changed). */
	if (h == os->text_hash[0])
		r = cstor_recfile_touch(&os->file, &os->lock, &os->seen, err);
	else
		r = cstor_recfile_write(&os->file, &os->lock, b.data, b.len, &os->seen, err);
	os->text_hash[0] = r == 0 ? h : 0;
	cstor_buf_free(&b);
	if (r == 0)
		os->needs_save = false;
	return r;
}

/* ---- lookup ---- */

struct cstor_obj_head *cstor_objstore_by_id(struct cstor_objstore *os, const char *id)
{
	struct cstor_obj_index *ix = index_of(os);
	if (ix)
		return get(ix->ids, ix->mask, id);
	for (size_t i = 0; i < os->n; i++)
		if (streq(os->recs[i]->id, id))
			return os->recs[i];
	return NULL;
}

struct cstor_obj_head *cstor_objstore_by_name(struct cstor_objstore *os, const char *name)
{
	struct cstor_obj_index *ix = index_of(os);
	if (ix)
		return get(ix->names, ix->mask, name);
	for (size_t i = 0; i < os->n; i++)
		if (strv_contains(os->recs[i]->names, name))
			return os->recs[i];
	return NULL;
}

static struct cstor_obj_head *by_alt_key(struct cstor_objstore *os, const char *key)
	CSTOR_REQUIRES_SHARED(&os->lock)
{
	if (!os->ops->alt_key)
		return NULL;
	struct cstor_obj_index *ix = index_of(os);
	if (ix)
		return get(ix->alts, ix->mask, key);
	for (size_t i = 0; i < os->n; i++)
		if (streq_ptr(os->ops->alt_key(os->recs[i]), key))
			return os->recs[i];
	return NULL;
}

/* The only record whose ID starts with @ref; *ambiguous when several do. */
static struct cstor_obj_head *by_prefix(struct cstor_objstore *os, const char *ref,
					bool *ambiguous) CSTOR_REQUIRES_SHARED(&os->lock)
{
	size_t l = strlen(ref);
	struct cstor_obj_index *ix = index_of(os);
	struct cstor_obj_head **by_id = ix ? sorted_ids(os, ix) : NULL;
	if (by_id) {
		size_t lo = 0, hi = ix->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(by_id[mid]->id, ref) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == ix->n || strncmp(by_id[lo]->id, ref, l) != 0)
			return NULL;
		if (lo + 1 < ix->n && strncmp(by_id[lo + 1]->id, ref, l) == 0) {
			*ambiguous = true;
			return NULL;
		}
		return by_id[lo];
	}
	struct cstor_obj_head *h = NULL;
	for (size_t i = 0; i < os->n; i++) {
		if (strncmp(os->recs[i]->id, ref, l) != 0)
			continue;
		if (h) {
			*ambiguous = true;
			return NULL;
		}
		h = os->recs[i];
	}
	return h;
}

struct cstor_obj_head *cstor_objstore_lookup(struct cstor_objstore *os, const char *ref,
					     bool *ambiguous)
{
	bool amb = false;
	struct cstor_obj_head *h = NULL;
	if (ref && ref[0]) {
		h = cstor_objstore_by_id(os, ref);
		if (!h)
			h = cstor_objstore_by_name(os, ref);
		if (!h)
			h = by_alt_key(os, ref);
		if (!h)
			h = by_prefix(os, ref, &amb);
	}
	if (ambiguous)
		*ambiguous = amb;
	return h;
}

/* ---- changes ---- */

int cstor_objstore_add(struct cstor_objstore *os, struct cstor_obj_head *h)
{
	struct cstor_obj_head **n = realloc(os->recs, (os->n + 1) * sizeof(*n));
	if (!n) {
		os->ops->codec->free(h);
		return -ENOMEM;
	}
	n[os->n++] = h;
	os->recs = n;
	/* The lock is held exclusively: no lookup uses the index. Adding to
	 * it keeps a create from rebuilding it (linear in the store). */
	struct cstor_obj_index *ix = os->index;
	size_t names = strv_length(h->names);
	if (ix && 2 * (ix->n_ids + 1) + 2 <= ix->mask + 1 &&
	    2 * (ix->n_names + names) + 2 <= ix->mask + 1) {
		index_put(os, ix, h);
		free(ix->by_id);
		ix->by_id = NULL;
	} else
		cstor_objstore_changed(os);
	return 0;
}

/* Take @h's keys out of the index (the lock is held exclusively: no lookup
 * uses it), so that a delete does not rebuild it; or drop it when another
 * record shares a key. */
static void index_remove(struct cstor_objstore *os, struct cstor_obj_head *h)
	CSTOR_REQUIRES(&os->lock)
{
	struct cstor_obj_index *ix = os->index;
	if (!ix || ix->shared_keys) {
		cstor_objstore_changed(os);
		return;
	}
	unput(ix->ids, ix->mask, h->id, h);
	for (size_t k = 0; h->names && h->names[k]; k++)
		unput(ix->names, ix->mask, h->names[k], h);
	const char *alt = os->ops->alt_key ? os->ops->alt_key(h) : NULL;
	if (alt && alt[0])
		unput(ix->alts, ix->mask, alt, h);
	ix->n--;
	free(ix->by_id);
	ix->by_id = NULL;
}

void cstor_objstore_remove(struct cstor_objstore *os, struct cstor_obj_head *h)
{
	for (size_t i = 0; i < os->n; i++)
		if (os->recs[i] == h) {
			memmove(&os->recs[i], &os->recs[i + 1], (os->n - i - 1) * sizeof(*os->recs));
			os->n--;
			index_remove(os, h);
			free_record(os->ops, h);
			return;
		}
}

char *cstor_objstore_data_dir(struct cstor_objstore *os, const char *id)
{
	return cstor_path_join(os->file.dir, id);
}

static int remove_files(struct cstor_objstore *os, const char *id, cstor_error *err)
	CSTOR_REQUIRES(&os->lock)
{
	int r = os->ops->remove_files && os->ctx ? os->ops->remove_files(os, id, err) : 0;
	return r < 0 ? r : cstor_rm_rf_at(os->file.dirfd, id, err);
}

int cstor_objstore_delete(struct cstor_objstore *os, struct cstor_obj_head *h, cstor_error *err)
{
	_cleanup_free_ char *id = strdup(h->id);
	if (!id)
		return oom(err);
	int r;
	if (os->ops->mark_dying) {
		if ((r = os->ops->mark_dying(h)) < 0)
			return oom(err);
		if ((r > 0 && (r = cstor_objstore_save(os, err)) < 0) ||
		    (r = cstor_failpoint_err(err, "delete:after-mark", os->ops->kind,
					     "remove the files")) < 0 ||
		    (r = remove_files(os, id, err)) < 0 ||
		    (r = cstor_failpoint_err(err, "delete:after-files", os->ops->kind,
					     "remove the record")) < 0)
			return r;
		cstor_objstore_remove(os, h);
		return cstor_objstore_save(os, err);
	}
	cstor_objstore_remove(os, h);
	if ((r = cstor_objstore_save(os, err)) < 0)
		return r;
	/* The record is gone: the files are only garbage now. */
	if ((r = cstor_failpoint_err(err, "delete:after-record", os->ops->kind,
				     "remove the files")) < 0)
		return r;
	return remove_files(os, id, err);
}

int cstor_objstore_set_names(struct cstor_objstore *os, struct cstor_obj_head *h,
			     char *const *names)
{
	_cleanup_strv_free_ char **v = cstor_names_dedup(names);
	if (!v)
		return -ENOMEM;
	/* Names are unique among the records (see the load), so the index
	 * finds the one record to take each from, as Go's byname map does;
	 * and it follows the change instead of being rebuilt (linear in the
	 * store) when it has the room. */
	struct cstor_obj_index *ix = index_of(os);
	size_t count = strv_length(v);
	if (!ix || ix->shared_keys || 2 * (ix->n_names + count) + 2 > ix->mask + 1) {
		for (size_t i = 0; v[i]; i++)
			for (size_t k = 0; k < os->n; k++)
				if (os->recs[k] != h)
					strv_remove(os->recs[k]->names, v[i]);
		strv_free(h->names);
		h->names = TAKE_PTR(v);
		cstor_objstore_changed(os);
		return 0;
	}
	for (size_t i = 0; v[i]; i++) {
		struct slot *sl = probe(ix->names, ix->mask, v[i]);
		if (sl->key && sl->h != h) {
			struct cstor_obj_head *o = sl->h;
			/* The key is o's string, which goes now. */
			*sl = (struct slot){ tombstone, NULL };
			strv_remove(o->names, v[i]);
		}
	}
	for (size_t k = 0; h->names && h->names[k]; k++)
		unput(ix->names, ix->mask, h->names[k], h);
	strv_free(h->names);
	h->names = TAKE_PTR(v);
	for (size_t k = 0; h->names[k]; k++, ix->n_names++)
		put(ix->names, ix->mask, h->names[k], h);
	return 0;
}

int cstor_objstore_write_big_data(struct cstor_objstore *os, struct cstor_obj_head *h,
				  const char *key, const void *data, size_t len,
				  const char *digest, bool *changed, cstor_error *err)
{
	_cleanup_free_ char *dir = cstor_objstore_data_dir(os, h->id);
	if (!dir)
		return oom(err);
	int r = cstor_big_data_write(dir, key, data, len, err);
	if (r == 0)
		r = cstor_failpoint_err(err, "big-data:after-file", os->ops->kind,
					"record the big data item");
	if (r < 0)
		return r;
	if (cstor_bigdata_index_set(&h->bd, key, (int64_t)len,
				    os->ops->big_data_names_only ? NULL : digest, changed) < 0)
		return oom(err);
	return 0;
}

int cstor_objstore_new_id(struct cstor_objstore *os, char id[65], cstor_error *err)
{
	do {
		if (cstor_random_id(id) < 0)
			return cstor_error_errno(err, errno, "generate a random ID");
	} while (cstor_objstore_by_id(os, id));
	return 0;
}

int cstor_obj_not_found(cstor_error *err, const char *kind, const char *ref, bool ambiguous)
{
	if (ambiguous)
		return cstor_error_set(err, EINVAL, "%s reference \"%s\" is ambiguous", kind, ref);
	return cstor_error_set(err, ENOENT, "%s not known: %s", kind, ref);
}
