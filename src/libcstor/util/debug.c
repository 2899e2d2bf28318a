/* SPDX-License-Identifier: Apache-2.0 */
/* The process-wide debug sink (debug.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/debug.h"

static pthread_mutex_t sink_mutex = PTHREAD_MUTEX_INITIALIZER;
static cstor_debug_fn sink_fn;
static void *sink_ctx;
static atomic_bool enabled;

void cstor_debug_set_sink(cstor_debug_fn fn, void *ctx)
{
	pthread_mutex_lock(&sink_mutex);
	sink_fn = fn;
	sink_ctx = ctx;
	atomic_store(&enabled, fn != NULL);
	pthread_mutex_unlock(&sink_mutex);
}

void cstor_debug_unset_sink(cstor_debug_fn fn, void *ctx)
{
	pthread_mutex_lock(&sink_mutex);
	if (sink_fn == fn && sink_ctx == ctx) {
		sink_fn = NULL;
		atomic_store(&enabled, false);
	}
	pthread_mutex_unlock(&sink_mutex);
}

bool cstor_debug_enabled(void)
{
	return atomic_load_explicit(&enabled, memory_order_relaxed);
}

void cstor_debug(const char *fmt, ...)
{
	if (!cstor_debug_enabled())
		return;
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	pthread_mutex_lock(&sink_mutex);
	if (sink_fn)
		sink_fn(sink_ctx, 2 /* CSTOR_LOG_DEBUG */, msg);
	pthread_mutex_unlock(&sink_mutex);
	free(msg);
}
