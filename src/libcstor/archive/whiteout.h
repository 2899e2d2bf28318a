/* SPDX-License-Identifier: Apache-2.0 */
/* How a layer directory represents deleted paths and opaque directories:
 * the drivers choose, the apply engine carries it out. */
#ifndef CSTOR_ARCHIVE_WHITEOUT_H
#define CSTOR_ARCHIVE_WHITEOUT_H

enum cstor_whiteout_mode {
	/*
	 * vfs, and a naive overlay apply through a mount (Go's UnpackLayer):
	 * ".wh.NAME" removes NAME (rm -rf); ".wh..wh..opq" removes every
	 * entry of its directory that this same archive did not create;
	 * regular files under a top-level ".wh..wh.plnk/" are kept aside as
	 * targets for AUFS hard links, which become copies of them; other
	 * top-level ".wh..wh.*" members are ignored. Whiteout members are not
	 * written.
	 */
	CSTOR_WHITEOUT_EXECUTE,
	/*
	 * Native overlay upper directory (Go's Unpack with the overlay
	 * converter): ".wh.NAME" becomes a character device 0/0, mode 0000,
	 * owned by the member's uid/gid; ".wh..wh..opq" sets
	 * trusted.overlay.opaque=y on its directory. Members not written.
	 */
	CSTOR_WHITEOUT_OVERLAY,
	/* Everything, ".wh.*" included, written as ordinary members
	 * (fuse-overlayfs / AUFS format, overlay with a mount program). */
	CSTOR_WHITEOUT_KEEP,
};

#endif
