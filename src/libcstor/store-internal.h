/* SPDX-License-Identifier: Apache-2.0 */
/* The store object shared by the library's modules. */
#ifndef CSTOR_STORE_INTERNAL_H
#define CSTOR_STORE_INTERNAL_H

#include <cstor/store.h>

#include "config.h"
#include "drivers/driver.h"
#include "layer-store.h"
#include "lockfile.h"

struct cstor_store {
	struct cstor_config cfg;
	const struct cstor_driver_ops *driver_ops;
	struct cstor_driver *driver;
	char *driver_home; /* <graphroot>/<driver> */
	char *layers_dir;  /* <graphroot>/<driver>-layers */
	char *images_dir;
	char *containers_dir;
	char *run_layers_dir; /* <runroot>/<driver>-layers */
	char **driver_opts_for_driver;

	/* storage.lock: driver (re)initialisation and shutdown, first in the
	 * lock order (docs/locking.md). */
	cstor_lock graph_lock;

	/* The primary layer store, then the read-only ones of additional
	 * image stores, in configuration order (the lock order). */
	struct cstor_layer_store *layers;
	struct cstor_layer_store **ro_layers;
	size_t n_ro_layers;
	char **image_stores; /* roots of the additional image stores */

	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
};

/* A new random ID: 64 hex digits, never 12 leading digits (which Docker
 * tooling would mistake for a number), as containers/storage makes them. */
int cstor_random_id(char out[65]);

void cstor_store_log(struct cstor_store *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
