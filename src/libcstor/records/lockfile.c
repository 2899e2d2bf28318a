/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error-internal.h"
#include "util/fileutil.h"
#include "records/lockfile.h"
#include "util/cleanup.h"
#include "util/debug.h"

struct cstor_lockfile {
	char *path;
	bool read_only;
	unsigned refs;              /* guarded by registry_mutex */
	struct cstor_lockfile *next; /* registry list, guarded by registry_mutex */

	int fd; /* -1 for a read-only lock whose file cannot be opened */
	pthread_rwlock_t rw; /* threads: readers share, a writer excludes */
	pthread_mutex_t state;
	unsigned holders; /* holds of the file lock, under `state` */
};

/* One object per path per process. A list is enough: a process uses a
 * handful of lock files (a few per store). */
static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct cstor_lockfile *registry;

static atomic_uint_fast64_t token_counter;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static int open_lock_fd(const char *path, bool read_only)
{
	if (read_only)
		return open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
}

/*
 * fork() duplicates our fds but not their locks' ownership the way classic
 * POSIX locks behave: an OFD lock belongs to the open file description,
 * which parent and child now share. Without this, a child locking an
 * inherited object would "hold" the parent's lock too. So the child gets
 * its own file descriptions and starts with no locks held, which is what
 * POSIX record locks give a child.
 */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&registry_mutex);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&registry_mutex);
}

static void atfork_child(void)
{
	pthread_mutex_init(&registry_mutex, NULL);
	for (struct cstor_lockfile *i = registry; i; i = i->next) {
		if (i->fd >= 0) {
			close(i->fd);
			i->fd = open_lock_fd(i->path, i->read_only);
		}
		pthread_rwlock_destroy(&i->rw);
		pthread_rwlockattr_t attr;
		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&i->rw, &attr);
		pthread_rwlockattr_destroy(&attr);
		pthread_mutex_init(&i->state, NULL);
		i->holders = 0;
	}
}

static void register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void cstor_lock_token_new(cstor_lock_token *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	uint64_t counter = atomic_fetch_add(&token_counter, 1) + 1;
	uint32_t pid = (uint32_t)getpid();
	/* Layout of containers/storage's newLastWrite: little-endian time,
	 * counter and pid, then random bytes. Readers treat it as opaque. */
	for (int i = 0; i < 8; i++) {
		t->bytes[i] = (uint8_t)(ns >> (8 * i));
		t->bytes[8 + i] = (uint8_t)(counter >> (8 * i));
	}
	for (int i = 0; i < 4; i++)
		t->bytes[16 + i] = (uint8_t)(pid >> (8 * i));
	size_t got = 0;
	while (got < 44) {
		ssize_t n = getrandom(t->bytes + 20 + got, 44 - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno != EINTR) {
			/* No entropy source: time+counter+pid stay unique per
			 * process; fill the rest deterministically. */
			for (; got < 44; got++)
				t->bytes[20 + got] = (uint8_t)(ns >> (got % 8));
		}
	}
	t->len = CSTOR_LOCK_TOKEN_SIZE;
}

static void lockfile_free(struct cstor_lockfile *lf)
{
	if (lf->fd >= 0)
		close(lf->fd);
	pthread_rwlock_destroy(&lf->rw);
	pthread_mutex_destroy(&lf->state);
	free(lf->path);
	free(lf);
}

int cstor_lock_open(cstor_lock *lock, const char *path, bool read_only, cstor_error *err)
{
	lock->file = NULL;
	if (path[0] != '/')
		return cstor_error_set(err, EINVAL, "lock file path %s is not absolute", path);

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&registry_mutex);
	for (struct cstor_lockfile *i = registry; i; i = i->next) {
		if (streq(i->path, path)) {
			if (i->read_only != read_only) {
				pthread_mutex_unlock(&registry_mutex);
				/* Same rule as containers/storage: one path has one
				 * writability for the life of the process. */
				return cstor_error_set(err, EINVAL,
						       "lock file %s is already open %s", path,
						       i->read_only ? "read-only" : "read-write");
			}
			i->refs++;
			lock->file = i;
			pthread_mutex_unlock(&registry_mutex);
			return 0;
		}
	}

	_cleanup_close_ int fd = -1;
	/* A read-only store may lack the file or sit on a read-only or foreign
	 * filesystem: then only threads are excluded. Nothing of a read-only
	 * store is ever created. */
	fd = open_lock_fd(path, read_only);
	if (!read_only) {
		if (fd < 0 && errno == ENOENT) {
			int r = cstor_mkdir_parents(path, 0700, err);
			if (r < 0) {
				pthread_mutex_unlock(&registry_mutex);
				return r;
			}
			fd = open_lock_fd(path, false);
		}
		if (fd < 0) {
			int e = errno;
			pthread_mutex_unlock(&registry_mutex);
			/* Every user of a store, readers too, takes its locks,
			 * which needs write access: say so, and whose it is. */
			struct stat st;
			if ((e == EACCES || e == EPERM) && stat(path, &st) == 0)
				return cstor_error_set(
					err, e,
					"open lock file %s: Permission denied: using a store, even only "
					"to read it, takes its lock files, which needs write access; "
					"this store belongs to uid %u and this process runs as uid %u "
					"(run as its owner, or use a store of your own with -g/-R)",
					path, (unsigned)st.st_uid, (unsigned)geteuid());
			return cstor_error_errno(err, e, "open lock file %s", path);
		}
	}

	struct cstor_lockfile *lf = calloc(1, sizeof(*lf));
	char *p = strdup(path);
	if (!lf || !p) {
		free(lf);
		free(p);
		pthread_mutex_unlock(&registry_mutex);
		return cstor_error_set(err, ENOMEM, "out of memory");
	}
	lf->path = p;
	lf->read_only = read_only;
	lf->refs = 1;
	lf->fd = TAKE_FD(fd);
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	/* Writers must not starve behind a stream of readers (a long-running
	 * engine lists layers all the time). */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&lf->rw, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&lf->state, NULL);
	lf->next = registry;
	registry = lf;
	lock->file = lf;
	pthread_mutex_unlock(&registry_mutex);
	return 0;
}

void cstor_lock_close(cstor_lock *lock)
{
	struct cstor_lockfile *lf = lock->file;
	if (!lf)
		return;
	lock->file = NULL;
	pthread_mutex_lock(&registry_mutex);
	if (--lf->refs == 0) {
		for (struct cstor_lockfile **i = &registry; *i; i = &(*i)->next)
			if (*i == lf) {
				*i = lf->next;
				break;
			}
		pthread_mutex_unlock(&registry_mutex);
		lockfile_free(lf);
		return;
	}
	pthread_mutex_unlock(&registry_mutex);
}

bool cstor_lock_is_read_only(const cstor_lock *lock)
{
	return lock->file->read_only;
}

const char *cstor_lock_path(const cstor_lock *lock)
{
	return lock->file->path;
}

static int file_lock(struct cstor_lockfile *lf, short type, bool wait)
{
	if (lf->fd < 0)
		return 0;
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 0,
	};
	for (;;) {
		if (fcntl(lf->fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0)
			return 0;
		if (!wait && (errno == EAGAIN || errno == EACCES))
			return -EAGAIN;
		if (errno == EINTR)
			continue;
		/* ENOLCK and friends: containers/storage retries every 10ms
		 * forever; do the same rather than pretend to hold the lock. */
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* -D: which file lock was taken, and how long it was waited for. */
static void lock_log(const struct cstor_lockfile *lf, bool exclusive, double waited)
{
	if (!cstor_debug_enabled())
		return;
	if (waited >= 0)
		cstor_debug("lock %s: %s, taken after waiting %.3f s for another process", lf->path,
			    exclusive ? "exclusive" : "shared", waited);
	else
		cstor_debug("lock %s: %s, taken", lf->path, exclusive ? "exclusive" : "shared");
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Take the file lock on the first in-process hold. The caller already holds
 * `rw` in the matching mode, so a shared hold never meets an exclusive one. */
static int hold(struct cstor_lockfile *lf, bool exclusive, bool wait)
{
	int r = 0;
	pthread_mutex_lock(&lf->state);
	if (lf->holders == 0) {
		short type = exclusive && !lf->read_only ? F_WRLCK : F_RDLCK;
		/* Without waiting first, so that a wait can be told and timed. */
		r = file_lock(lf, type, false);
		if (r == 0 && lf->fd >= 0) {
			lock_log(lf, type == F_WRLCK, -1);
		} else if (r == -EAGAIN && wait) {
			double t0 = mono_now();
			r = file_lock(lf, type, true);
			if (r == 0)
				lock_log(lf, type == F_WRLCK, mono_now() - t0);
		}
	}
	if (r == 0)
		lf->holders++;
	pthread_mutex_unlock(&lf->state);
	return r;
}

void cstor_lock_lock(cstor_lock *lock) CSTOR_NO_TSA
{
	struct cstor_lockfile *lf = lock->file;
	pthread_rwlock_wrlock(&lf->rw);
	(void)hold(lf, true, true);
}

void cstor_lock_lock_threads(cstor_lock *lock) CSTOR_NO_TSA
{
	struct cstor_lockfile *lf = lock->file;
	pthread_rwlock_wrlock(&lf->rw);
	(void)hold(lf, false, true);
}

void cstor_lock_rlock(cstor_lock *lock) CSTOR_NO_TSA
{
	struct cstor_lockfile *lf = lock->file;
	pthread_rwlock_rdlock(&lf->rw);
	(void)hold(lf, false, true);
}

bool cstor_lock_trylock(cstor_lock *lock) CSTOR_NO_TSA
{
	struct cstor_lockfile *lf = lock->file;
	if (pthread_rwlock_trywrlock(&lf->rw) != 0)
		return false;
	if (hold(lf, true, false) < 0) {
		pthread_rwlock_unlock(&lf->rw);
		return false;
	}
	return true;
}

bool cstor_lock_tryrlock(cstor_lock *lock) CSTOR_NO_TSA
{
	struct cstor_lockfile *lf = lock->file;
	if (pthread_rwlock_tryrdlock(&lf->rw) != 0)
		return false;
	if (hold(lf, false, false) < 0) {
		pthread_rwlock_unlock(&lf->rw);
		return false;
	}
	return true;
}

void cstor_lock_unlock(cstor_lock *lock) CSTOR_NO_TSA
{
	struct cstor_lockfile *lf = lock->file;
	pthread_mutex_lock(&lf->state);
	assert(lf->holders > 0);
	if (--lf->holders == 0)
		(void)file_lock(lf, F_UNLCK, false);
	pthread_mutex_unlock(&lf->state);
	pthread_rwlock_unlock(&lf->rw);
}

int cstor_lock_record_write(cstor_lock *lock, cstor_lock_token *out, cstor_error *err)
{
	struct cstor_lockfile *lf = lock->file;
	if (lf->read_only)
		return cstor_error_set(err, EROFS, "lock file %s belongs to a read-only store",
				       lf->path);
	cstor_lock_token t;
	cstor_lock_token_new(&t);
	ssize_t n = pwrite(lf->fd, t.bytes, t.len, 0);
	if (n < 0)
		return cstor_error_errno(err, errno, "write lock file %s", lf->path);
	if ((size_t)n != t.len)
		return cstor_error_set(err, EIO, "short write to lock file %s", lf->path);
	*out = t;
	return 0;
}

int cstor_lock_read_token(cstor_lock *lock, cstor_lock_token *out, cstor_error *err)
{
	struct cstor_lockfile *lf = lock->file;
	out->len = 0;
	if (lf->fd < 0)
		return 0;
	size_t got = 0;
	while (got < CSTOR_LOCK_TOKEN_SIZE) {
		ssize_t n = pread(lf->fd, out->bytes + got, CSTOR_LOCK_TOKEN_SIZE - got, (off_t)got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cstor_error_errno(err, errno, "read lock file %s", lf->path);
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	out->len = got;
	return 0;
}
