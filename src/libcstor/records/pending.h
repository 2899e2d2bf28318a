/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Journals of layers an operation may leave behind unused if it dies: an
 * import lists each layer it creates, an image delete each layer it is
 * about to delete. <graphroot>/<driver>-layers/cstor-pending-<random>, one
 * layer ID per line after a first line naming the operation ("import",
 * "delete-image"), with an OFD write lock held by its writer for as long as
 * it runs. The writer removes it when done; one whose lock is free belongs
 * to a writer that died, and the next writer of the layer store (or gc, or
 * check --repair) removes the layers it lists that nothing uses and no
 * live journal lists, then the journal. Kept in the graph root, not
 * the run root, because the layers outlive a reboot and so must the list.
 * containers/storage ignores files it does not know in that directory.
 */
#ifndef CSTOR_RECORDS_PENDING_H
#define CSTOR_RECORDS_PENDING_H

#include <cstor/error.h>

#define CSTOR_PENDING_PREFIX "cstor-pending-"

struct cstor_pending;

/* Start a journal in @dir for operation @what. */
int cstor_pending_open(struct cstor_pending **out, const char *dir, const char *what,
		       cstor_error *err);
/* Note layer @id, on disk before it returns. */
int cstor_pending_add(struct cstor_pending *p, const char *id, cstor_error *err);
/* Note image @id, about to be made by the operation (import): if it dies,
 * the image goes too while nothing claimed it (records/pending.h, above). */
int cstor_pending_add_image(struct cstor_pending *p, const char *id, cstor_error *err);
/* The same for each of @ids (NULL-terminated), with one sync. */
int cstor_pending_add_all(struct cstor_pending *p, char *const *ids, cstor_error *err);
/* The operation finished (either way): remove the journal. NULL is fine. */
void cstor_pending_done(struct cstor_pending *p);

/* A journal whose writer died. */
struct cstor_pending_dead {
	char *file; /* its name in the directory */
	char *what; /* the operation */
	char **ids; /* the layers it lists, in order */
	char **images; /* the images it made ("image <id>" lines) */
};

/* The journals of dead writers in @dir; *n of them. */
int cstor_pending_scan(struct cstor_pending_dead **out, size_t *n, const char *dir,
		       cstor_error *err);
void cstor_pending_dead_free(struct cstor_pending_dead *d, size_t n);
/* The same, and (when @live is not NULL) in the same pass what the
 * journals of live writers list, layers and images (NULL-terminated, NULL
 * for none): an operation in progress may be about to use them. */
int cstor_pending_scan_all(struct cstor_pending_dead **out, size_t *n, char ***live,
			   const char *dir, cstor_error *err);
/* Remove journal @file of @dir, if its writer is still dead. */
void cstor_pending_remove(const char *dir, const char *file);

#endif
