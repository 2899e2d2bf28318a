/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_OCI_PULL_H
#define CSTOR_OCI_PULL_H

#include <cstor/error.h>

/* A "[docker://]REF" split for the registry client. */
struct cstor_docker_ref {
	char *name; /* normalised: "docker.io/library/busybox:latest" */
	char *host; /* "docker.io", "localhost:5000" */
	char *repo; /* "library/busybox" */
	char *ref;  /* the tag, or the digest when there is one */
};

int cstor_oci_parse_docker_ref(struct cstor_docker_ref *ref, const char *in, cstor_error *err);
void cstor_docker_ref_clear(struct cstor_docker_ref *ref);

#endif
