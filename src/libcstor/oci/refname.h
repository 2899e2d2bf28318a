/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_OCI_REFNAME_H
#define CSTOR_OCI_REFNAME_H

#include <cstor/error.h>

/*
 * A Docker reference as containers/image normalises it before storing it
 * as an image name: "busybox" is "docker.io/library/busybox:latest",
 * "quay.io/a/b" is "quay.io/a/b:latest"; a tag or digest is kept. -EINVAL
 * naming @in when it is not a valid reference (upper case in the path,
 * empty components, a bad tag or digest).
 */
int cstor_refname_normalize(char **out, const char *in, cstor_error *err);

#endif
