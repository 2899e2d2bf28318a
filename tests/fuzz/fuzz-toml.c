/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arbitrary bytes into the TOML parser. Besides memory errors this checks
 * that failures are -EBADMSG with a positioned message and that whatever is
 * accepted serialises, which jansson refuses for invalid UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error-internal.h"
#include "util/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cstor_error err = CSTOR_ERROR_INIT;
	json_t *root = NULL;
	int r = cstor_toml_parse(&root, (const char *)data, size, "fuzz.toml", &err);
	if (r == 0) {
		char *s = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s || err.code != 0)
			abort();
		free(s);
		json_decref(root);
	} else if (r == -EBADMSG) {
		if (err.code != EBADMSG || !err.msg || strncmp(err.msg, "fuzz.toml:", 10) != 0)
			abort();
	} else if (r != -ENOMEM)
		abort();
	cstor_error_clear(&err);
	return 0;
}
