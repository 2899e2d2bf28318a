/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_OCI_REGISTRY_SRC_H
#define CSTOR_OCI_REGISTRY_SRC_H

#include <stdbool.h>

#include <cstor/error.h>

#include "oci/source.h"
#include "registry/client.h"

/* Repository @repo of registry @host as an image source whose index.json
 * names the manifest @ref (a tag or a digest), fetched now (a 404, 401,
 * a manifest over 4 MiB fail here). Layer blobs are downloaded, up to
 * @parallel at once (0: 3), into unlinked files in @tee_dir, which a
 * layer member's fd is when @keep (for the import to keep the blob). */
int cstor_oci_registry_src_open(struct cstor_oci_src **out, const char *host, const char *repo,
				const char *ref, const struct cstor_reg_options *ro,
				const char *tee_dir, bool keep, unsigned parallel,
				cstor_error *err);

#endif
