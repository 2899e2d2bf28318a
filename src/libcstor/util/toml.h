/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict TOML 1.0 parser producing jansson values, for storage.conf and
 * friends (Debian 12 packages no C TOML library).
 *
 * Mapping: tables -> objects (insertion order kept), arrays -> arrays,
 * strings -> strings (may contain NUL, use json_string_length()), integers ->
 * integers, finite floats -> reals, booleans -> true/false. Values jansson
 * cannot represent keep their original text as a string: offset and local
 * date-times, local dates and times, and the floats inf and nan (with their
 * sign as written, e.g. "-inf").
 *
 * Errors return -EBADMSG with the message
 * "<filename>:<line>:<column>: <what is wrong>" (1-based, columns count
 * characters), or -ENOMEM. Nesting deeper than 64 levels is rejected.
 */
#ifndef CSTOR_TOML_H
#define CSTOR_TOML_H

#include <stddef.h>

#include <jansson.h>

#include <cstor/error.h>

#define CSTOR_TOML_MAX_DEPTH 64

/* Parse @len bytes of TOML at @text. On success *@out is a new reference to
 * the root table; on failure *@out is left untouched. @filename only appears
 * in error messages. */
int cstor_toml_parse(json_t **out, const char *text, size_t len, const char *filename,
		     cstor_error *err);

/* Read the file at @path and parse it. Returns -errno with "open <path>: ..."
 * or "read <path>: ..." when it cannot be read. */
int cstor_toml_parse_file(json_t **out, const char *path, cstor_error *err);

#endif
