/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by check.c, check-tree.c and repair.c (include/cstor/check.h). */
#ifndef CSTOR_STORE_CHECK_INTERNAL_H
#define CSTOR_STORE_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cstor/check.h>

#define CHECK_PATH_MAX 4352

/* What `check` keeps of a tar header of a layer's diff. */
struct check_hdr {
	char *name; /* as in the tar; NULL once in a tree */
	char *link; /* hard link target, or NULL */
	char type;  /* tar typeflag */
	int64_t mode, uid, gid, size, mtime;
};

struct check_tree;
int check_tree_new(struct check_tree **out);
void check_tree_free(struct check_tree *t);
/* Apply one layer's headers (base layers first). -ENOMEM. */
int check_tree_add_layer(struct check_tree *t, const struct check_hdr *hs, size_t n);
/* Compare the tree under @root with @t: *diffs gets "+/added", "-/removed"
 * and "/changed(size:1->2,...)" lines, sorted. -errno. */
int check_tree_compare(char ***diffs, struct check_tree *t, const char *root,
		       bool compare_owners);

/* A layer as check saw it. */
struct check_layer {
	char *id, *parent, *diff_id, *blob_digest, *created, *data_dir;
	char *layers_dir; /* its store's <driver>-layers directory */
	int64_t diff_size;
	char **data;  /* big-data names */
	bool ro;      /* in a read-only store */
	/* A read-only store's copy of a layer an earlier store also has:
	 * never used through this ID, only a source of kept blobs. */
	bool shadowed;
	bool idmapped;
	int incomplete;     /* CSTOR_LAYER_INCOMPLETE_* or 0 */
	bool busy;          /* an apply into it is running */
	bool content_bad;   /* its files are damaged: rebuild them */
	bool other_bad;     /* a problem a rebuild does not fix */
	bool diff_ok;       /* its diff gave the recorded DiffID and size */
	bool referenced;
	bool leftover;      /* listed by the journal of a dead writer */
	/* Reported as unused (too old, or a dead writer's leftover): repair
	 * removes it. */
	bool unused;
	char **bad_blobs;   /* kept-blob keys that are gone or wrong */
	struct check_hdr *hdrs;
	size_t n_hdrs;
	bool have_hdrs;
};

struct check_image {
	char *id;
	char **layers; /* top layers: the top, then mapped ones */
	bool ro;
};

struct check_container {
	char *id, *image, *layer;
};

struct check_problem {
	cstor_check_problem p;
	char *id, *msg;
};

struct cstor_check_report {
	struct check_layer *layers;
	size_t n_layers;
	/* Indexes into layers of those used by their IDs (not shadowed),
	 * sorted by ID (indexes, not pointers: layers grows while the stores
	 * are copied); NULL before the first store is copied. */
	size_t *by_id;
	size_t n_by_id;
	struct check_image *images;
	size_t n_images;
	struct check_container *containers;
	size_t n_containers;
	char **unaccounted; /* driver directories no record owns */
	char **journals;    /* journal files of dead writers */
	struct check_problem *problems;
	size_t n_problems;
};

/* The layer with @id, or NULL. */
struct check_layer *check_find_layer(const struct cstor_check_report *r, const char *id);
int check_add_problem(struct cstor_check_report *r, int object, int code, const char *id,
		      bool ro, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
bool check_has_problem(const struct cstor_check_report *r, int object, const char *id);

#endif
