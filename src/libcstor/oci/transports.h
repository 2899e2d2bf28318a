/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where an image comes from or goes to, by transport: transports.c picks
 * (docker:// goes to the registry code, pull.c and push.c; everything else
 * to the local layouts and archives, import.c and export.c), so that the
 * local code and the registry code, which builds on it, do not call each
 * other back.
 */
#ifndef CSTOR_OCI_TRANSPORTS_H
#define CSTOR_OCI_TRANSPORTS_H

#include <cstor/transfer.h>

/* cstor_store_import_image for oci:, oci-archive:, docker-archive:; @o is
 * checked by the caller. */
int cstor_oci_import_local(char **image_id, cstor_store *s, const char *source,
			   const cstor_import_options *o, cstor_error *err);
/* cstor_store_export_image for oci:, oci-archive:, docker-archive:, dir:. */
int cstor_oci_export_local(cstor_export_result *result, cstor_store *store, const char *ref,
			   const char *dest, const cstor_export_options *opts, cstor_error *err);

/* What a push asks of the export it sends (cstor_push_options). */
struct cstor_oci_export_tuning {
	int compression; /* cstor_compression: GZIP or ZSTD forces it; 0: as export oci: */
	int level;       /* 0: the format's default */
	unsigned parallel; /* layers compressed at once */
	const volatile int *cancel;
};
/* cstor_oci_export_local with @t (may be NULL). */
int cstor_oci_export_tuned(cstor_export_result *result, cstor_store *store, const char *ref,
			   const char *dest, const cstor_export_options *opts,
			   const struct cstor_oci_export_tuning *t, cstor_error *err);

#endif
