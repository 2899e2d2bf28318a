/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON output byte-compatible with Go's encoding/json as containers/storage
 * writes it: no whitespace, struct fields in declaration order (callers emit
 * them in that order), map keys sorted, "<", ">", "&", U+2028 and U+2029
 * escaped, invalid UTF-8 replaced by U+FFFD. Byte equality matters: the Go
 * CLI's `--json` output and the store files are compared in tests.
 *
 * Parsing uses jansson; only writing needs Go's exact rules.
 */
#ifndef CSTOR_GOJSON_H
#define CSTOR_GOJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cstor_buf {
	char *data;
	size_t len, cap;
	bool oom; /* set on allocation failure; appends become no-ops */
} cstor_buf;

void cstor_buf_free(cstor_buf *b);
void cstor_buf_put(cstor_buf *b, const void *p, size_t n);
/* Room for @n more bytes, so that a buffer filled to a known size grows
 * once; false (and b->oom) when out of memory. */
bool cstor_buf_reserve(cstor_buf *b, size_t n);
void cstor_buf_puts(cstor_buf *b, const char *s);
void cstor_buf_putc(cstor_buf *b, char c);
void cstor_buf_printf(cstor_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminate and hand the data over (NULL on OOM). */
char *cstor_buf_steal(cstor_buf *b, size_t *len);

void cstor_json_string(cstor_buf *b, const char *s, size_t len);
void cstor_json_str(cstor_buf *b, const char *s); /* NUL-terminated */
/* Any jansson value, with object keys sorted as Go sorts map keys. */
void cstor_json_value(cstor_buf *b, const json_t *v);

/* Object member helpers: `first` tracks whether a comma is needed. */
void cstor_json_key(cstor_buf *b, bool *first, const char *key);
void cstor_json_kv_str(cstor_buf *b, bool *first, const char *key, const char *val);
/* omitempty variants: nothing is written for NULL/"" / 0 / empty. */
void cstor_json_kv_str_omit(cstor_buf *b, bool *first, const char *key, const char *val);
void cstor_json_kv_int_omit(cstor_buf *b, bool *first, const char *key, int64_t val);
void cstor_json_kv_strv_omit(cstor_buf *b, bool *first, const char *key, char **v);

/* Go's time.Time MarshalJSON: RFC 3339 with nanoseconds, trailing zeros of
 * the fraction trimmed, UTC as "Z". */
void cstor_json_time(cstor_buf *b, int64_t sec, long nsec);

#endif
