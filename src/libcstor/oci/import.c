/* SPDX-License-Identifier: Apache-2.0 */
#include <cstor/transfer.h>

#include "error-internal.h"

int cstor_store_import_image(char **image_id, cstor_store *store, const char *source,
			     const cstor_import_options *opts, cstor_error *err)
{
	(void)image_id, (void)store, (void)source, (void)opts;
	return cstor_error_set(err, ENOTSUP, "import: not implemented yet");
}
