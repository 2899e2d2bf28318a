/* SPDX-License-Identifier: Apache-2.0 */
/* Big-data items of layers, images and containers: one file per key in a
 * per-object directory, named as containers/storage names them. */
#ifndef CSTOR_BIGDATA_H
#define CSTOR_BIGDATA_H

#include <stddef.h>

#include <cstor/error.h>

/* The file name of @key (docs/formats.md §1.5): the key itself when it is
 * only [.0-9a-z], else "=" + standard padded base64 of it. -EINVAL for an
 * empty key or one whose name would contain '/' (Go cannot store those
 * either). */
int cstor_big_data_file_name(char **out, const char *key, cstor_error *err);

/* Read/write the item @key in directory @dir (created 0700 on write). */
int cstor_big_data_read(void **data, size_t *len, const char *dir, const char *key,
			cstor_error *err);
int cstor_big_data_write(const char *dir, const char *key, const void *data, size_t len,
			 cstor_error *err);

/* Open (creating it 0700) the big-data directory @dir, and name @key's
 * file in it: *dfd and *name are the caller's. */
int cstor_big_data_open_dir(int *dfd, char **name, const char *dir, const char *key,
			    cstor_error *err);

#endif
