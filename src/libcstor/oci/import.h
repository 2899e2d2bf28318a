/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_OCI_IMPORT_H
#define CSTOR_OCI_IMPORT_H

#include <stdbool.h>

#include <cstor/transfer.h>

#include "oci/source.h"

/* Import the image @ref names in an open source (an OCI layout when not
 * @docker): what cstor_store_import_image does once it has opened its
 * source, and what a pull does with a registry's (oci/pull.c). @source
 * names the source in messages. @o must be valid. */
int cstor_oci_import_src(char **image_id, cstor_store *s, struct cstor_oci_src *src, bool docker,
			 const char *ref, const char *source, const cstor_import_options *o,
			 cstor_error *err);

#endif
