/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store-wide lookups of the commands that take "a layer, image or
 * container" (exists, metadata, set-metadata, get/add/set/remove-names,
 * delete, mount/unmount/mounted), in the Go store's order: layers (the
 * primary store, then the read-only ones), images, containers; `delete`
 * tries containers, images, then layers, as Go's Store.Delete does.
 *
 * When nothing matches, the error is the layer lookup's ("layer not known:
 * X"), as it was when only layers existed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cstor/container.h>
#include <cstor/image.h>
#include <cstor/layer.h>

#include "cli.h"
#include "util/strv.h"

/* No match: unknown, or an ambiguous ID prefix (Go's lookups fail then). */
static bool no_match(int r)
{
	return r == -ENOENT || r == -EINVAL;
}

static int oom(cstor_error *err)
{
	err->code = ENOMEM;
	return -ENOMEM;
}

static int fail(cstor_error *err, int code, const char *what, const char *ref)
{
	cstor_error_clear(err);
	err->code = code;
	if (asprintf(&err->msg, "%s: %s", what, ref) < 0)
		err->msg = NULL;
	return -code;
}

int cli_object_kinds(unsigned *kinds, cstor_store *store, const char *ref, cstor_error *err)
{
	*kinds = 0;
	cstor_layer *l = NULL;
	int r = cstor_store_layer(&l, store, ref, err);
	cstor_layer_free(l);
	if (r == 0)
		*kinds |= CLI_OBJ_LAYER;
	else if (!no_match(r))
		return r;
	cstor_error_clear(err);
	cstor_image *i = NULL;
	r = cstor_store_image(&i, store, ref, err);
	cstor_image_free(i);
	if (r == 0)
		*kinds |= CLI_OBJ_IMAGE;
	else if (!no_match(r))
		return r;
	cstor_error_clear(err);
	cstor_container *c = NULL;
	r = cstor_store_container(&c, store, ref, err);
	cstor_container_free(c);
	if (r == 0)
		*kinds |= CLI_OBJ_CONTAINER;
	else if (!no_match(r))
		return r;
	cstor_error_clear(err);
	return 0;
}

int cli_object_lookup(unsigned *kind, char **id, cstor_store *store, const char *ref,
		      cstor_error *err)
{
	cstor_error first = CSTOR_ERROR_INIT;
	cstor_layer *l = NULL;
	int r = cstor_store_layer(&l, store, ref, &first);
	if (r == 0) {
		*kind = CLI_OBJ_LAYER;
		*id = strdup(cstor_layer_id(l));
		cstor_layer_free(l);
		return *id ? 0 : oom(err);
	}
	if (!no_match(r)) {
		*err = first;
		return r;
	}
	cstor_image *i = NULL;
	r = cstor_store_image(&i, store, ref, err);
	if (r == 0) {
		cstor_error_clear(&first);
		*kind = CLI_OBJ_IMAGE;
		*id = strdup(cstor_image_id(i));
		cstor_image_free(i);
		return *id ? 0 : oom(err);
	}
	if (!no_match(r)) {
		cstor_error_clear(&first);
		return r;
	}
	cstor_error_clear(err);
	cstor_container *c = NULL;
	r = cstor_store_container(&c, store, ref, err);
	if (r == 0) {
		cstor_error_clear(&first);
		*kind = CLI_OBJ_CONTAINER;
		*id = strdup(cstor_container_id(c));
		cstor_container_free(c);
		return *id ? 0 : oom(err);
	}
	if (!no_match(r)) {
		cstor_error_clear(&first);
		return r;
	}
	/* Nothing: report the layer lookup's error. */
	cstor_error_clear(err);
	*err = first;
	return -first.code;
}

int cli_object_metadata(char **out, cstor_store *store, const char *ref, cstor_error *err)
{
	unsigned kind = 0;
	char *id = NULL;
	int r = cli_object_lookup(&kind, &id, store, ref, err);
	if (r < 0)
		return r;
	const char *m = NULL;
	cstor_layer *l = NULL;
	cstor_image *i = NULL;
	cstor_container *c = NULL;
	if (kind == CLI_OBJ_LAYER && (r = cstor_store_layer(&l, store, id, err)) == 0)
		m = cstor_layer_metadata(l);
	else if (kind == CLI_OBJ_IMAGE && (r = cstor_store_image(&i, store, id, err)) == 0)
		m = cstor_image_metadata(i);
	else if (kind == CLI_OBJ_CONTAINER && (r = cstor_store_container(&c, store, id, err)) == 0)
		m = cstor_container_metadata(c);
	if (r == 0 && !(*out = strdup(m ? m : "")))
		r = oom(err);
	cstor_layer_free(l);
	cstor_image_free(i);
	cstor_container_free(c);
	free(id);
	return r;
}

int cli_object_set_metadata(cstor_store *store, const char *ref, const char *metadata,
			    cstor_error *err)
{
	/* Go: the primary layer store, the image store, the containers. */
	cstor_error first = CSTOR_ERROR_INIT;
	int r = cstor_layer_set_metadata(store, ref, metadata, &first);
	if (!no_match(r)) {
		*err = first;
		return r;
	}
	r = cstor_image_set_metadata(store, ref, metadata, err);
	if (no_match(r)) {
		cstor_error_clear(err);
		r = cstor_container_set_metadata(store, ref, metadata, err);
	}
	if (no_match(r)) {
		cstor_error_clear(err);
		*err = first;
		return -first.code;
	}
	cstor_error_clear(&first);
	return r;
}

int cli_object_delete(cstor_store *store, const char *ref, cstor_error *err)
{
	/* Go's Store.Delete: a container, an image, a layer, with no safety
	 * checks. cstor keeps the checks: a container whose layer is mounted,
	 * an image a container uses, a layer in use are refused. An image
	 * goes without its layers, as in Go. */
	int r = cstor_store_delete_container(store, ref, err);
	if (!no_match(r))
		return r;
	cstor_error_clear(err);
	r = cstor_store_delete_image(NULL, store, ref, CSTOR_DELETE_IMAGE_KEEP_LAYERS, err);
	if (!no_match(r))
		return r;
	cstor_error_clear(err);
	return cstor_store_delete_layer(store, ref, err);
}

int cli_object_names(char ***names, cstor_store *store, unsigned kind, const char *id,
		     cstor_error *err)
{
	const char *const *v = NULL;
	cstor_layer *l = NULL;
	cstor_image *i = NULL;
	cstor_container *c = NULL;
	int r = 0;
	if (kind == CLI_OBJ_LAYER && (r = cstor_store_layer(&l, store, id, err)) == 0)
		v = cstor_layer_names(l);
	else if (kind == CLI_OBJ_IMAGE && (r = cstor_store_image(&i, store, id, err)) == 0)
		v = cstor_image_names(i);
	else if (kind == CLI_OBJ_CONTAINER && (r = cstor_store_container(&c, store, id, err)) == 0)
		v = cstor_container_names(c);
	if (r == 0 && !(*names = strv_copy((char *const *)v)))
		r = oom(err);
	cstor_layer_free(l);
	cstor_image_free(i);
	cstor_container_free(c);
	return r;
}

int cli_object_change_names(cstor_store *store, unsigned kind, const char *id,
			    const char *const *names, enum cli_names_op op, cstor_error *err)
{
	typedef int (*fn)(cstor_store *, const char *, const char *const *, cstor_error *);
	static const fn fns[3][3] = {
		{ cstor_layer_add_names, cstor_layer_set_names, cstor_layer_remove_names },
		{ cstor_image_add_names, cstor_image_set_names, cstor_image_remove_names },
		{ cstor_container_add_names, cstor_container_set_names,
		  cstor_container_remove_names },
	};
	int k = kind == CLI_OBJ_LAYER ? 0 : kind == CLI_OBJ_IMAGE ? 1 : 2;
	return fns[k][op](store, id, names, err);
}

int cli_object_mount_layer(char **layer, char ***options, cstor_store *store, const char *ref,
			   cstor_error *err)
{
	/* Go's Mount, Unmount and Mounted: a container's layer first. */
	cstor_container *c = NULL;
	int r = cstor_store_container(&c, store, ref, err);
	cstor_error_clear(err);
	if (options)
		*options = NULL;
	if (r < 0)
		*layer = strdup(ref);
	else {
		*layer = strdup(cstor_container_layer(c));
		if (*layer && options && cstor_container_mount_options(c)[0] &&
		    !(*options = strv_copy((char *const *)cstor_container_mount_options(c)))) {
			free(*layer);
			*layer = NULL;
		}
	}
	cstor_container_free(c);
	return *layer ? 0 : oom(err);
}

int cli_object_image_top_layer(char **layer, cstor_store *store, const char *ref,
			       cstor_error *err)
{
	cstor_image *i = NULL;
	int r = cstor_store_image(&i, store, ref, err);
	if (r < 0)
		return r;
	const char *top = cstor_image_top_layer(i);
	if (!top)
		r = fail(err, EINVAL, "image has no layers", cstor_image_id(i));
	else if (!(*layer = strdup(top)))
		r = oom(err);
	cstor_image_free(i);
	return r;
}
