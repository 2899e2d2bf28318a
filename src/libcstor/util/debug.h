/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Debug messages from layers below the store (lock files, driver probes
 * and mounts), which have no store to log to: a process-wide sink that
 * cstor_store_open() points at its log callback when the caller asks for
 * debug messages (CSTOR_STORE_DEBUG). Lock files are per process, not per
 * store, so the sink is too: the last store opened with the flag gets
 * the messages, until it is freed.
 */
#ifndef CSTOR_UTIL_DEBUG_H
#define CSTOR_UTIL_DEBUG_H

#include <stdbool.h>

#include "util/macro.h"

typedef void (*cstor_debug_fn)(void *ctx, int level, const char *msg);

void cstor_debug_set_sink(cstor_debug_fn fn, void *ctx);
/* Only if @fn and @ctx are still the sink. */
void cstor_debug_unset_sink(cstor_debug_fn fn, void *ctx);
/* Cheap: check before formatting anything costly. */
bool cstor_debug_enabled(void);
void cstor_debug(const char *fmt, ...) _printf_(1, 2);

#endif
