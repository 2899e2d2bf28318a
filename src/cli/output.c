/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "cli.h"
#include "gojson.h"

void cli_json_string(FILE *f, const char *s)
{
	cstor_buf b = { 0 };
	cstor_json_str(&b, s);
	if (b.data)
		fwrite(b.data, 1, b.len, f);
	cstor_buf_free(&b);
}
