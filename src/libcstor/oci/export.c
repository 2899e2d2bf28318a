/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include <cstor/transfer.h>

#include "error-internal.h"

void cstor_export_result_clear(cstor_export_result *result)
{
	if (!result)
		return;
	free(result->manifest_digest);
	result->manifest_digest = NULL;
	result->manifest_rewritten = 0;
}

int cstor_store_export_image(cstor_export_result *result, cstor_store *store, const char *ref,
			     const char *dest, const cstor_export_options *opts, cstor_error *err)
{
	(void)result, (void)store, (void)ref, (void)dest, (void)opts;
	return cstor_error_set(err, ENOTSUP, "export: not implemented yet");
}
