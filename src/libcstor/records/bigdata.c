/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "records/bigdata.h"
#include "util/error-internal.h"
#include "util/fileutil.h"
#include "util/cleanup.h"

static char *base64(const unsigned char *in, size_t len)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1), *p = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*p++ = tbl[(v >> 18) & 63];
		*p++ = tbl[(v >> 12) & 63];
		*p++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		*p++ = i + 2 < len ? tbl[v & 63] : '=';
	}
	*p = 0;
	return out;
}

int cstor_big_data_file_name(char **out, const char *key, cstor_error *err)
{
	if (!key || !key[0])
		return cstor_error_set(err, EINVAL, "a data item needs a non-empty name");
	bool plain = true;
	for (const char *c = key; *c && plain; c++)
		plain = *c == '.' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z');
	/* "." and ".." are plain by the rule but name directories. */
	if (plain && (strcmp(key, ".") == 0 || strcmp(key, "..") == 0))
		return cstor_error_set(err, EINVAL, "data item name \"%s\" is not allowed", key);
	char *name;
	if (plain)
		name = strdup(key);
	else {
		_cleanup_free_ char *b = base64((const unsigned char *)key, strlen(key));
		name = b && asprintf(&name, "=%s", b) >= 0 ? name : NULL;
	}
	if (!name)
		return cstor_error_set(err, ENOMEM, "out of memory");
	if (strchr(name, '/')) {
		free(name);
		return cstor_error_set(err, EINVAL,
				       "data item name \"%s\" cannot be stored (its encoded file name "
				       "contains '/')",
				       key);
	}
	*out = name;
	return 0;
}

int cstor_big_data_read(void **data, size_t *len, const char *dir, const char *key,
			cstor_error *err)
{
	_cleanup_free_ char *name = NULL;
	int r = cstor_big_data_file_name(&name, key, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT)
		return cstor_error_set(err, ENOENT, "data item \"%s\" does not exist", key);
	if (dfd < 0)
		return cstor_error_errno(err, errno, "open %s", dir);
	char *buf = NULL;
	r = cstor_read_file_at(dfd, name, &buf, len, key, err);
	if (r == -ENOENT)
		return cstor_error_set(err, ENOENT, "data item \"%s\" does not exist", key);
	if (r < 0)
		return r;
	*data = buf;
	return 0;
}

int cstor_big_data_open_dir(int *dfd, char **name, const char *dir, const char *key,
			    cstor_error *err)
{
	_cleanup_free_ char *n = NULL;
	int r = cstor_big_data_file_name(&n, key, err);
	if (r < 0)
		return r;
	if ((r = cstor_mkdir_p(dir, 0700, err)) < 0)
		return r;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cstor_error_errno(err, errno, "open %s", dir);
	*dfd = fd;
	*name = TAKE_PTR(n);
	return 0;
}

int cstor_big_data_write(const char *dir, const char *key, const void *data, size_t len,
			 cstor_error *err)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int dfd = -1;
	int r = cstor_big_data_open_dir(&dfd, &name, dir, key, err);
	if (r < 0)
		return r;
	return cstor_atomic_write_at(dfd, name, data, len, 0600, CSTOR_WRITE_DURABLE, key, err);
}
