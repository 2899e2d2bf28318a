/* SPDX-License-Identifier: Apache-2.0 */
/* Files and directories: atomic durable writes, whole-file reads, mkdir -p. */
#ifndef CSTOR_FILEUTIL_H
#define CSTOR_FILEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cstor/error.h>

/* Create @path and missing parents with @mode (existing ones are left as
 * they are, like MkdirAll). */
int cstor_mkdir_p(const char *path, mode_t mode, cstor_error *err);
/* Create the missing parent directories of @path. */
int cstor_mkdir_parents(const char *path, mode_t mode, cstor_error *err);

enum {
	/* fdatasync the data and fsync the directory: the new content
	 * survives a crash once this returns. Without it (volatile files)
	 * the rename is still atomic. */
	CSTOR_WRITE_DURABLE = 1 << 0,
	/* Keep a spare file (".spare-<name>", its blocks allocated) next to
	 * the file, and write into it when the filesystem has no inode or no
	 * block left for a new temporary file: a store's records can always
	 * be rewritten, so deleting on a full disk frees space. */
	CSTOR_WRITE_KEEP_SPARE = 1 << 1,
};

/* Replace @name in @dirfd with @data, atomically: a temporary file
 * ".tmp-<name><random>" in the same directory (the name containers/storage
 * uses), written, synced, given @mode and renamed over @name. Readers see the
 * old or the new content, never a mix; on failure the old file is untouched
 * and the temporary file is removed. @what names the file in errors. */
int cstor_atomic_write_at(int dirfd, const char *name, const void *data, size_t len,
			  mode_t mode, unsigned flags, const char *what, cstor_error *err);

/* Read all of @name (relative to @dirfd) into a NUL-terminated buffer.
 * -ENOENT (with a message) when it does not exist. */
int cstor_read_file_at(int dirfd, const char *name, char **out, size_t *out_len,
		       const char *what, cstor_error *err);

/* Write the whole buffer, retrying short writes and EINTR. */
int cstor_write_all(int fd, const void *buf, size_t len);

/* Join two path pieces with one '/'. NULL on OOM. */
char *cstor_path_join(const char *a, const char *b);

#endif
