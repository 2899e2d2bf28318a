/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arbitrary bytes as the mount state of a run root: mountpoints.json
 * (shared with containers/storage) when the first byte is even, a layer's
 * holder state file (cstor's own) when it is odd. mountpoints.json must
 * load or fail with an error naming it, and what loads must save and load
 * again with the same records; a holder state is never an error (a torn one
 * counts as none) and what is read writes and reads back the same.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount/holders.h"
#include "mount/mountpoints.h"
#include "records/fields.h"
#include "util/error-internal.h"
#include "util/cleanup.h"
#include "util/rm.h"
#include "util/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], dir2[80];

/* The scratch directory goes with the process (replays run in CI). */
static void remove_dir(void)
{
	cstor_rm_rf_at_quiet(AT_FDCWD, dir);
}

static void put(const char *name, const uint8_t *data, size_t size)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

static void mountpoints(const uint8_t *data, size_t size) CSTOR_NO_TSA
{
	put("mountpoints.json", data, size);
	struct cstor_mounts *m = NULL;
	cstor_error err = CSTOR_ERROR_INIT;
	if (cstor_mounts_open(&m, dir, &err) < 0)
		abort();
	int r = cstor_mounts_start(m, &err);
	if (r < 0) {
		if (r != -ENOMEM && (!err.msg || !strstr(err.msg, "mountpoints.json")))
			abort();
		cstor_error_clear(&err);
		cstor_mounts_free(m);
		return;
	}
	/* What each ID counts now (a file may list an ID twice: the last
	 * record counts, as for Go). */
	size_t n = m->n;
	char **ids = NULL;
	int64_t *counts = calloc(n + 1, sizeof(*counts));
	if (!counts)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (strv_contains(ids, m->recs[i].id))
			continue;
		const struct cstor_mount_rec *rec = cstor_mounts_get(m, m->recs[i].id);
		if (!rec)
			continue; /* an ID that is not one (never looked up) */
		/* A record without a path is not a mount: saves drop it. */
		counts[strv_length(ids)] = rec->path && rec->path[0] ? rec->count : 0;
		if (strv_append(&ids, m->recs[i].id) < 0)
			abort();
	}
	/* Written back as it is (a change of nothing forces the save). */
	const struct cstor_mount_rec *first = ids ? cstor_mounts_get(m, ids[0]) : NULL;
	if (first && cstor_mounts_set(m, first->id, first->path, first->count, &err) < 0)
		abort();
	r = cstor_mounts_save(m, &err);
	cstor_mounts_done(m);
	cstor_mounts_free(m);
	if (r == 0) {
		if (cstor_mounts_open(&m, dir, &err) < 0 || cstor_mounts_start(m, &err) < 0)
			abort(); /* what we wrote must load */
		for (size_t i = 0; ids && ids[i]; i++) {
			const struct cstor_mount_rec *rec = cstor_mounts_get(m, ids[i]);
			/* A record whose ID is not a layer ID is dropped. */
			if (!cstor_rec_id_valid(ids[i]))
				continue;
			if (counts[i] > 0 ? !rec || rec->count != counts[i] : rec && rec->count > 0)
				abort(); /* and count the same */
		}
		cstor_mounts_done(m);
		cstor_mounts_free(m);
	}
	strv_free(ids);
	free(counts);
	cstor_error_clear(&err);
}

static bool same_state(const struct cstor_holder_state *a, const struct cstor_holder_state *b)
{
	if (a->written != b->written || a->foreign != b->foreign || a->pending != b->pending ||
	    (a->pending && a->pending_prev != b->pending_prev))
		return false;
	/* An absent path or label and an empty one mean the same. */
	if (strcmp(a->path ? a->path : "", b->path ? b->path : "") != 0 ||
	    strcmp(a->label ? a->label : "", b->label ? b->label : "") != 0)
		return false;
	size_t n = strv_length(a->options);
	if (n != strv_length(b->options))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a->options[i], b->options[i]) != 0)
			return false;
	return true;
}

static void holder_state(const uint8_t *data, size_t size)
{
	put("state", data, size);
	struct cstor_holder_state st, again;
	cstor_error err = CSTOR_ERROR_INIT;
	if (cstor_holder_state_read(&st, dir, &err) < 0) {
		if (err.code != ENOMEM)
			abort(); /* a torn state is none, never an error */
		cstor_error_clear(&err);
		return;
	}
	if (cstor_holder_state_write(dir2, &st, &err) == 0) {
		if (cstor_holder_state_read(&again, dir2, &err) < 0)
			abort();
		if (!same_state(&st, &again))
			abort();
		cstor_holder_state_done(&again);
	}
	cstor_holder_state_done(&st);
	cstor_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		char d[] = "/tmp/cstor-fuzz-mounts-XXXXXX";
		if (!mkdtemp(d))
			abort();
		snprintf(dir, sizeof(dir), "%s", d);
		snprintf(dir2, sizeof(dir2), "%s/w", d);
		mkdir(dir2, 0700);
		atexit(remove_dir);
	}
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		mountpoints(data + 1, size - 1);
	else
		holder_state(data + 1, size - 1);
	return 0;
}
