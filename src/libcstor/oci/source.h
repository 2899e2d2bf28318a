/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where an image comes from: a directory (OCI layout) or a tarball
 * (oci-archive, docker-archive). Members are named by relative paths
 * ("index.json", "blobs/sha256/<hex>") either way.
 *
 * A tarball is not unpacked: its headers are indexed once and members are
 * read in place with pread(), so a multi-gigabyte archive costs no copy. A
 * compressed tarball is decompressed once into an unlinked temporary file
 * (O_TMPFILE in /var/tmp, as containers/image uses /var/tmp for big
 * files), then indexed the same way.
 */
#ifndef CSTOR_OCI_SOURCE_H
#define CSTOR_OCI_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cstor/error.h>

struct cstor_oci_src;

/* Open @path: a directory, or a (possibly compressed) tar file. A member
 * whose data runs past the end of the file is a truncated archive:
 * -EBADMSG naming it. */
int cstor_oci_src_open(struct cstor_oci_src **out, const char *path, cstor_error *err);
void cstor_oci_src_free(struct cstor_oci_src *src);
bool cstor_oci_src_is_dir(const struct cstor_oci_src *src);
/* The path given at open, for messages. */
const char *cstor_oci_src_path(const struct cstor_oci_src *src);
bool cstor_oci_src_exists(struct cstor_oci_src *src, const char *name);

/* A member opened for reading. */
struct cstor_oci_member {
	int fd;
	bool own_fd;
	off_t off;     /* of the next byte to read */
	uint64_t size; /* bytes */
	uint64_t left;
	/* A streamed member (a registry's blob): read through these, not @fd.
	 * @fd, when not -1, is then a file the stream copies what it read
	 * into (from offset 0), for keeping the blob. */
	void *stream;
	const struct cstor_oci_stream_ops *sops;
	cstor_error serr; /* why a stream read failed */
};

struct cstor_oci_stream_ops {
	ssize_t (*read)(void *stream, void *buf, size_t len, cstor_error *err);
	/* The first bytes, without consuming them. */
	ssize_t (*peek)(void *stream, void *buf, size_t len, cstor_error *err);
	void (*close)(void *stream);
};

/* A source whose members someone else serves (oci/registry-src.c): an OCI
 * layout's names ("oci-layout", "index.json", "blobs/sha256/<hex>"). */
struct cstor_oci_src_ops {
	bool (*exists)(void *ctx, const char *name);
	int (*open_member)(void *ctx, struct cstor_oci_member *m, const char *name,
			   cstor_error *err);
	int (*read)(void *ctx, char **out, size_t *len, const char *name, size_t max,
		    cstor_error *err);
	void (*free)(void *ctx);
};
/* @ctx is the source's from now on, freed with it (also on failure). */
int cstor_oci_src_new_ops(struct cstor_oci_src **out, const char *path,
			  const struct cstor_oci_src_ops *ops, void *ctx, cstor_error *err);
/* The platform ("os/arch[/variant]") to pick from manifest lists; NULL:
 * linux/<host arch>. */
int cstor_oci_src_set_platform(struct cstor_oci_src *src, const char *platform,
			       cstor_error *err);
const char *cstor_oci_src_platform(const struct cstor_oci_src *src);
/* The first bytes of a member, not consumed. */
ssize_t cstor_oci_member_peek(struct cstor_oci_member *m, void *buf, size_t len);

/* -ENOENT with a message naming @name and the source when it is missing;
 * -EBADMSG when it is not a regular file. */
int cstor_oci_src_open_member(struct cstor_oci_member *m, struct cstor_oci_src *src,
			      const char *name, cstor_error *err);
void cstor_oci_member_close(struct cstor_oci_member *m);
/* A read callback over a member (ctx: the member). */
ssize_t cstor_oci_member_read(void *ctx, void *buf, size_t len);

/* Read a whole member of at most @max bytes (NUL-terminated). */
int cstor_oci_src_read(char **out, size_t *len, struct cstor_oci_src *src, const char *name,
		       size_t max, cstor_error *err);

#endif
