#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Build the hostile layer archives that tests/cli/test-hostile.sh applies.

    make-corpus.py OUTDIR SANDBOX TAG

OUTDIR receives NAME.tar for every case (and NAME.pre.tar when the case
needs content in the root before the hostile layer is applied), plus
manifest.tsv with one line per case:

    NAME <TAB> EXPECT <TAB> CHECKS

EXPECT is "ok", "fail" or "any", optionally per whiteout mode
("execute=ok,overlay=fail,keep=ok"). CHECKS are space-separated assertions on
the root after a successful apply: "f:PATH" regular file, "d:PATH" directory,
"l:PATH" symlink, "c:PATH" character device, "b:PATH" block device,
"p:PATH" fifo, "-:PATH"
absent, "=PATH=TEXT" file content (spaces as %20), each optionally
prefixed with a mode and a slash ("overlay/c:x").

SANDBOX is the absolute path of the directory that holds the layer root
(SANDBOX/root) and the canaries (SANDBOX/outside/...); archives aim
absolute symlinks at it. TAG is a unique name used for absolute paths on the
host (/etc/TAG, /tmp/TAG, /TAG), which the test checks never appear.

Python's tarfile writes whatever names, link names, types and pax records it
is given, which is what makes it a good tool for hostile input.
"""
import io
import os
import random
import sys
import tarfile

OUT, SB, TAG = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
OUTSIDE = SB + "/outside"
manifest = []


class T:
    """One archive under construction."""

    def __init__(self, fmt=tarfile.PAX_FORMAT):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=fmt)

    def add(self, name, kind="f", data=b"", mode=None, link="", uid=0, gid=0,
            mtime=1600000000, pax=None, major=0, minor=0):
        ti = tarfile.TarInfo(name)
        ti.type = {"f": tarfile.REGTYPE, "d": tarfile.DIRTYPE,
                   "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE,
                   "c": tarfile.CHRTYPE, "b": tarfile.BLKTYPE,
                   "p": tarfile.FIFOTYPE}.get(kind) or kind.encode()
        ti.mode = mode if mode is not None else (0o755 if kind == "d" else 0o644)
        ti.linkname = link
        ti.uid, ti.gid, ti.mtime = uid, gid, mtime
        ti.devmajor, ti.devminor = major, minor
        if pax:
            ti.pax_headers = dict(pax)
        if kind == "f":
            if isinstance(data, str):
                data = data.encode()
            ti.size = len(data)
            self.tar.addfile(ti, io.BytesIO(data))
        else:
            self.tar.addfile(ti)
        return self

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


def case(name, t, expect="ok", checks="", pre=None, raw=None):
    data = raw if raw is not None else t.bytes()
    with open(os.path.join(OUT, name + ".tar"), "wb") as f:
        f.write(data)
    if pre is not None:
        with open(os.path.join(OUT, name + ".pre.tar"), "wb") as f:
            f.write(pre.bytes())
    manifest.append("%s\t%s\t%s" % (name, expect, checks))


# ---- names that climb out ----------------------------------------------------

case("dotdot", T().add("../../outside/evil", data="x")
     .add("a/../../../outside/evil2", data="x").add("..", "d", mode=0o750),
     checks="f:outside/evil f:outside/evil2 d:outside")
case("absolute", T().add("/etc/" + TAG, data="x").add("/" + TAG, data="x")
     .add(OUTSIDE + "/evil", data="x"),
     checks="f:etc/%s f:%s f:%s/evil" % (TAG, TAG, OUTSIDE.lstrip("/")))
case("gnu-longname-dotdot", T(tarfile.GNU_FORMAT)
     .add("../" * 60 + "outside/evil-" + "x" * 50, data="x"),
     checks="f:outside/evil-" + "x" * 50)
case("pax-path-dotdot", T().add("safe", data="x",
                                pax={"path": "../../../../../../outside/pax"}),
     checks="f:outside/pax -:safe")

# ---- symlinks planted, then written through ----------------------------------

case("symlink-abs-out-write", T().add("l", "l", link=OUTSIDE).add("l/evil", data="x"),
     expect="fail")
case("symlink-abs-out-inroot", T().add(OUTSIDE.lstrip("/") + "/", "d")
     .add("l", "l", link=OUTSIDE).add("l/evil", data="x"),
     checks="f:%s/evil l:l" % OUTSIDE.lstrip("/"))
case("symlink-rel-out-write", T().add("l", "l", link="../../../../../../.." + OUTSIDE)
     .add("l/evil", data="x"), expect="fail")
case("symlink-rel-out-inroot", T().add("outside/", "d")
     .add("a/b/", "d").add("a/b/l", "l", link="../../../../outside")
     .add("a/b/l/evil", data="x"),
     checks="f:outside/evil")
case("symlink-root-slash", T().add("r", "l", link="/")
     .add("r/etc/" + TAG, data="x").add("r/../../" + TAG, data="y"),
     checks="f:etc/%s f:%s l:r" % (TAG, TAG))
case("symlink-root-slash-mkdir", T().add("etc/", "d").add("r", "l", link="/")
     .add("r/etc/" + TAG, data="x"),
     checks="f:etc/" + TAG)
case("symlink-dir-out-subdir", T().add("d", "l", link=OUTSIDE)
     .add("d/sub/file", data="x"), expect="fail")
case("symlink-over-file", T().add("f", "l", link=OUTSIDE + "/canary")
     .add("f", data="replaced"),
     checks="f:f =f=replaced")
case("symlink-over-file-hardlink", T().add("g", data="g")
     .add("f", "l", link=OUTSIDE + "/canary").add("f", "h", link="g"),
     checks="f:f =f=g")
case("symlink-over-dir-entry", T().add("d", "l", link=OUTSIDE)
     .add("d", "d", mode=0o700).add("d/x", data="x"),
     checks="d:d f:d/x")
case("symlink-chain", T().add("a", "l", link="b").add("b", "l", link="c")
     .add("c", "l", link=OUTSIDE).add("a/evil", data="x"), expect="fail")
case("symlink-loop", T().add("a", "l", link="b").add("b", "l", link="a")
     .add("a/x", data="x"), expect="fail")
case("symlink-self-loop", T().add("l", "l", link="l").add("l/x", data="x"),
     expect="fail")
case("symlink-proc-magic", T().add("p", "l", link="/proc/self/cwd")
     .add("p/evil", data="x"), expect="fail")
case("symlink-proc-root", T().add("proc/self/", "d")
     .add("p", "l", link="/proc/self/root").add("p/evil", data="x"),
     expect="fail")
case("symlink-dev", T().add("d", "l", link="/dev").add("d/null", "c", major=1, minor=3),
     expect="fail")
case("symlink-long-target", T().add("l", "l", link="a/" * 2100), expect="fail")
case("symlink-then-hardlink-through", T().add("d", "l", link=OUTSIDE)
     .add("h", "h", link="d/canary"), expect="fail")

# ---- hard links --------------------------------------------------------------

case("hardlink-dotdot", T().add("h", "h", link="../../../outside/canary"),
     expect="fail")
case("hardlink-abs", T().add("h", "h", link=OUTSIDE + "/canary"), expect="fail")
case("hardlink-abs-inroot", T().add(OUTSIDE.lstrip("/") + "/canary", data="inner")
     .add("h", "h", link=OUTSIDE + "/canary"),
     checks="f:h =h=inner")
case("hardlink-to-symlink-out", T().add("s", "l", link=OUTSIDE + "/canary")
     .add("h", "h", link="s", mode=0o777).add("h2", "h", link="s"),
     checks="l:s l:h l:h2")
case("hardlink-to-symlink-then-write", T().add("s", "l", link=OUTSIDE + "/canary")
     .add("h", "h", link="s").add("h", data="new").add("s", data="new2"),
     checks="f:h f:s =h=new =s=new2")
case("hardlink-to-dir", T().add("d/", "d").add("h", "h", link="d"), expect="fail")
case("hardlink-to-root", T().add("h", "h", link="/"), expect="fail")
case("hardlink-to-self", T().add("a", data="x").add("a", "h", link="a"), expect="fail")
case("hardlink-missing", T().add("h", "h", link="nope"), expect="fail")
case("hardlink-to-device", T().add("dev", "c", major=1, minor=3, mode=0o600)
     .add("h", "h", link="dev", mode=0o640),
     checks="c:dev c:h")
case("hardlink-to-fifo-then-file", T().add("fifo", "p").add("h", "h", link="fifo")
     .add("h", data="not through the fifo"),
     checks="p:fifo f:h")

# ---- whiteouts ----------------------------------------------------------------

case("wh-dotdot-name", T().add("x", data="x").add("../.wh.x"),
     checks="execute/-:x keep/f:.wh.x",
     expect="execute=ok,overlay=fail,keep=ok")
case("wh-dotdot-target", T().add(".wh...", data=""), expect="execute=fail,overlay=fail,keep=ok")
case("wh-dot-target", T().add("a/b", data="x").add("a/.wh..", data=""),
     expect="execute=fail,overlay=fail,keep=ok")
case("wh-empty-target", T().add("a/b", data="x").add("a/.wh.", data=""),
     expect="execute=fail,overlay=fail,keep=ok")
case("wh-of-dotdot-dir", T().add("a/b/.wh...", data=""),
     expect="execute=fail,overlay=fail,keep=ok")
case("wh-symlinked-dir-out", T().add("l", "l", link=OUTSIDE).add("l/.wh.canary"),
     expect="execute=ok,overlay=fail,keep=fail")
case("wh-symlink-itself", T().add("l", "l", link=OUTSIDE).add(".wh.l"),
     checks="execute/-:l overlay/c:l keep/f:.wh.l",
     expect="execute=ok,overlay=fail,keep=ok")
case("wh-opaque-symlinked-dir-out", T().add("l", "l", link=OUTSIDE)
     .add("l/.wh..wh..opq"), expect="execute=ok,overlay=fail,keep=fail")
case("wh-opaque-symlinked-dir-in", T().add("sub/keep", data="k")
     .add("l", "l", link="sub").add("l/.wh..wh..opq"),
     checks="execute/f:sub/keep overlay/f:sub/keep l:l")
case("wh-opaque-root-with-outside-links",
     T().add(".wh..wh..opq").add("new", data="n"),
     pre=T().add("old", data="o").add("ol", "l", link=OUTSIDE)
     .add("od/", "d").add("od/l", "l", link=OUTSIDE + "/canary"),
     checks="execute/-:old execute/-:ol execute/-:od f:new keep/f:.wh..wh..opq")
case("wh-opaque-subdir", T().add("d/", "d").add("d/.wh..wh..opq")
     .add("d/new", data="n"),
     pre=T().add("d/old", data="o").add("d/sub/l", "l", link=OUTSIDE),
     checks="execute/-:d/old execute/-:d/sub f:d/new overlay/f:d/old")
case("wh-remove-dir-with-outside-link", T().add(".wh.d"),
     pre=T().add("d/l", "l", link=OUTSIDE).add("d/h", "l", link="/"),
     checks="execute/-:d overlay/d:d keep/f:.wh.d",
     expect="execute=ok,overlay=fail,keep=ok")
case("wh-meta-plnk", T().add(".wh..wh.plnk/", "d")
     .add(".wh..wh.plnk/123", data="linked", mode=0o600)
     .add("a", "h", link=".wh..wh.plnk/123").add("b", "h", link="/.wh..wh.plnk/123"),
     expect="execute=fail,overlay=ok,keep=ok")
case("wh-meta-plnk-ok", T().add(".wh..wh.plnk/123", data="linked", mode=0o600)
     .add("a", "h", link=".wh..wh.plnk/123"),
     checks="execute/f:a execute/=a=linked")
case("wh-plnk-missing", T().add("a", "h", link=".wh..wh.plnk/nope"),
     expect="fail")
case("wh-under-file", T().add("f", data="x").add("f/.wh.y"),
     expect="execute=fail,overlay=ok,keep=fail")
case("wh-over-device", T().add(".wh.a").add("a/.wh.b"),
     expect="execute=ok,overlay=ok,keep=ok")
case("wh-existing-target-overlay", T().add("x", data="x").add(".wh.x"),
     expect="execute=ok,overlay=fail,keep=ok")

# ---- devices and replacement --------------------------------------------------

case("fifo-then-file", T().add("passwd", "p").add("passwd", data="file"),
     checks="f:passwd =passwd=file")
case("chardev-then-file", T().add("shadow", "c", major=1, minor=3)
     .add("shadow", data="file"), checks="f:shadow =shadow=file")
case("fifo-then-dir", T().add("d", "p").add("d/", "d").add("d/x", data="x"),
     checks="d:d f:d/x")
case("fifo-then-symlink", T().add("f", "p").add("f", "l", link=OUTSIDE),
     checks="l:f")
case("blockdev", T().add("sda", "b", major=8, minor=0, mode=0o660),
     checks="b:sda")
case("dir-replaced-by-file", T().add("d/", "d").add("d/x", data="x")
     .add("d/sub/y", data="y").add("d", data="file"),
     checks="f:d =d=file")
case("file-replaced-by-dir", T().add("d", data="file").add("d/", "d")
     .add("d/x", data="x"), checks="d:d f:d/x")
case("dir-replaced-by-symlink", T().add("d/x", data="x").add("d", "l", link=OUTSIDE)
     .add("d/y", data="y"), expect="fail")
case("duplicates", T().add("f", data="one").add("f", data="two")
     .add("d/", "d", mode=0o700).add("d/", "d", mode=0o750).add("f", data="three"),
     checks="=f=three d:d")
case("parent-is-file", T().add("f", data="x").add("f/x", data="y"), expect="fail")
case("root-as-file", T().add("./", data="x"), expect="execute=fail,overlay=ok,keep=ok")
case("root-as-symlink", T().add(".", "l", link=OUTSIDE),
     expect="execute=fail,overlay=ok,keep=ok")
case("root-dotdot-as-file", T().add("..", data="x"), expect="fail")
case("unknown-type", T().add("v", "V"), expect="fail")
case("contiguous-type", T().add("c7", "7"), expect="fail")

# ---- names the kernel refuses -------------------------------------------------

case("long-component", T().add("a" * 300, data="x"), expect="fail")
case("long-path", T().add(("d" * 200 + "/") * 25 + "f", data="x"), expect="fail")
case("long-hardlink-target", T().add("h", "h", link="x" * 5000), expect="fail")
case("deep-path-ok", T().add("a/" * 1000 + "f", data="deep"),
     checks="f:" + "a/" * 1000 + "f")

# ---- broken archives -----------------------------------------------------------

good = T().add("d/", "d").add("d/file", data="y" * 5000).add("d/other", data="z").bytes()
case("truncated-content", None, raw=good[:512 * 3 + 100], expect="fail")
case("truncated-header", None, raw=good[:512 * 2 + 5120 + 200], expect="fail")
case("truncated-block", None, raw=good[:200], expect="fail")
rnd = random.Random(1234)
case("garbage", None, raw=bytes(rnd.getrandbits(8) for _ in range(20000)), expect="fail")
case("header-then-garbage", None,
     raw=good[:512] + bytes(rnd.getrandbits(8) for _ in range(4096)), expect="fail")
nul = T().add("ok", data="x").bytes()
# a pax record "path=a<NUL>b": the reader must refuse it, not cut the name
nulrec = b"path=a\x00/../../outside/nul\n"
rec = b"%d %s" % (len(nulrec) + 3, nulrec)
paxhdr = tarfile.TarInfo("PaxHeader")
paxhdr.type = tarfile.XHDTYPE
paxhdr.size = len(rec)
hb = paxhdr.tobuf(tarfile.USTAR_FORMAT)
body = rec + b"\0" * (-len(rec) % 512)
case("pax-name-nul", None, raw=hb + body + nul, expect="fail")

# ---- many entries ----------------------------------------------------------------

bomb = T(tarfile.USTAR_FORMAT)
for d in range(50):
    bomb.add("d%02d/" % d, "d")
    for i in range(1000):
        bomb.add("d%02d/f%04d" % (d, i))
case("bomb-50k", bomb, checks="f:d49/f0999 d:d00")

with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
    f.write("\n".join(manifest) + "\n")
