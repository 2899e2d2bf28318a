/* SPDX-License-Identifier: Apache-2.0 */
/* How a layer directory represents deleted paths and opaque directories. */
#ifndef CSTOR_ARCHIVE_WHITEOUT_H
#define CSTOR_ARCHIVE_WHITEOUT_H

#ifndef CSTOR_WHITEOUT_MODE_DEFINED
#define CSTOR_WHITEOUT_MODE_DEFINED
enum cstor_whiteout_mode {
	CSTOR_WHITEOUT_EXECUTE, /* vfs: deletions are carried out */
	CSTOR_WHITEOUT_OVERLAY, /* overlay upper: 0/0 char devices, opaque xattr */
	CSTOR_WHITEOUT_KEEP,    /* AUFS ".wh." files kept as they are */
};
#endif

#endif
