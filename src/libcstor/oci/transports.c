/* SPDX-License-Identifier: Apache-2.0 */
/* The public import and export calls, by transport (oci/transports.h). */
#include <string.h>

#include <cstor/registry.h>
#include <cstor/transfer.h>

#include "oci/transports.h"
#include "util/error-internal.h"

int cstor_store_import_image(char **image_id, cstor_store *s, const char *source,
			     const cstor_import_options *o, cstor_error *err)
{
	cstor_import_options defaults = CSTOR_IMPORT_OPTIONS_INIT;
	if (!o)
		o = &defaults;
	if (o->version != CSTOR_IMPORT_OPTIONS_VERSION)
		return cstor_error_set(err, EINVAL, "unsupported cstor_import_options version");
	if (o->flags & ~(uint32_t)CSTOR_IMPORT_NO_KEEP_BLOBS)
		return cstor_error_set(err, EINVAL, "unknown import flags 0x%x", o->flags);
	if (strncmp(source, "docker://", 9) == 0) {
		cstor_pull_options po = CSTOR_PULL_OPTIONS_INIT;
		po.import = o;
		return cstor_store_pull_image(image_id, s, source, &po, err);
	}
	return cstor_oci_import_local(image_id, s, source, o, err);
}

int cstor_store_export_image(cstor_export_result *result, cstor_store *store, const char *ref,
			     const char *dest, const cstor_export_options *opts, cstor_error *err)
{
	if (dest && strncmp(dest, "docker://", 9) == 0) {
		if (opts && opts->version != CSTOR_EXPORT_OPTIONS_VERSION)
			return cstor_error_set(err, EINVAL,
					       "unsupported cstor_export_options version");
		cstor_push_options po = CSTOR_PUSH_OPTIONS_INIT;
		if (opts) {
			po.progress = opts->progress;
			po.progress_ctx = opts->progress_ctx;
		}
		return cstor_store_push_image(result, store, ref, dest, &po, err);
	}
	return cstor_oci_export_local(result, store, ref, dest, opts, err);
}
