/* SPDX-License-Identifier: Apache-2.0 */
/* NULL-terminated arrays of owned strings. */
#ifndef CSTOR_UTIL_STRV_H
#define CSTOR_UTIL_STRV_H

#include <stdbool.h>
#include <stddef.h>

size_t strv_length(char *const *v);
/* Append a copy of @s. 0 or -ENOMEM (v unchanged). */
int strv_append(char ***v, const char *s);
/* Append @s, taking ownership (freed on failure). */
int strv_consume(char ***v, char *s);
bool strv_contains(char *const *v, const char *s);
/* Remove every element equal to @s. */
void strv_remove(char **v, const char *s);
char **strv_copy(char *const *v);
/* Split on a single separator character; empty pieces are kept. */
char **strv_split(const char *s, char sep);
/* Join with @sep; NULL on OOM. */
char *strv_join(char *const *v, const char *sep);

#endif
