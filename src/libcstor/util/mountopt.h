/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_UTIL_MOUNTOPT_H
#define CSTOR_UTIL_MOUNTOPT_H

/* Split a comma-separated option string the way containers/storage's
 * mount.ParseOptions does: words such as "ro", "nodev", "noatime" become
 * MS_* flags, everything else is kept, in order, in *data (malloc'd, "" when
 * nothing is left). 0 or -ENOMEM. */
int cstor_mount_options_parse(const char *opts, unsigned long *flags, char **data);

#endif
