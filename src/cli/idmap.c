/* SPDX-License-Identifier: Apache-2.0 */
/* The ID-mapping flags, as the Go CLI reads them (docs/idmap.md). */
#include <stdlib.h>

#include "cli.h"

void cli_idmaps_free(struct cli_idmaps *m)
{
	free(m->uids);
	free(m->gids);
	*m = (struct cli_idmaps){ 0 };
}

int cli_idmaps_from_args(struct cli_idmaps *out, const struct cli_idmap_args *a, const char *what)
{
	*out = (struct cli_idmaps){ 0 };
	const char *subu = a->subuidmap && a->subuidmap[0] ? a->subuidmap : NULL;
	const char *subg = a->subgidmap && a->subgidmap[0] ? a->subgidmap : NULL;
	if (a->host_uid && ((a->uidmap && a->uidmap[0]) || subu)) {
		fprintf(stderr, "%s: %s: host uid map specified along with UID mapping\n",
			cli_program, what);
		return -1;
	}
	if (a->host_gid && ((a->gidmap && a->gidmap[0]) || subg)) {
		fprintf(stderr, "%s: %s: host gid map specified along with GID mapping\n",
			cli_program, what);
		return -1;
	}
	/* Each names the other's default: a user and the group of that name. */
	if (!subg)
		subg = subu;
	if (!subu)
		subu = subg;
	cstor_error err = CSTOR_ERROR_INIT;
	int r = 0;
	if (subu && (cstor_idmap_from_subid(&out->uids, &out->n_uids, "/etc/subuid", subu, &err) < 0 ||
		     cstor_idmap_from_subid(&out->gids, &out->n_gids, "/etc/subgid", subg, &err) < 0))
		r = -1;
	if (r == 0 && (cstor_idmap_parse(&out->uids, &out->n_uids, a->uidmap, "uid", &err) < 0 ||
		       cstor_idmap_parse(&out->gids, &out->n_gids, a->gidmap, "gid", &err) < 0))
		r = -1;
	if (r < 0) {
		cli_error(what, &err);
		cstor_error_clear(&err);
		cli_idmaps_free(out);
	}
	return r;
}
