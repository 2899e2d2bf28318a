#!/usr/bin/env python3
# Write a store of N named layers and M images straight into layers.json and
# images.json, as Go writes them (docs/formats.md "layers.json",
# "images.json"), for benchmarks on big stores: building 100,000 layers through
# either CLI would take hours. Layer i is named "layer-i" and has an empty vfs
# directory, so it can be mounted and deleted; image i is named
# "example.com/bench/img-i:latest" and has layer i as its top layer. IDs are
# derived from the index, so two runs give the same store.
#   bench/gen-store.py GRAPHROOT --layers N [--images M] [--driver vfs]
#                      [--dup-names K]
# --dup-names K gives the names of the first K layers (and images) to the
# next one too, as a damaged or hand-edited file might: the load keeps each
# such name on the later record.
import argparse
import hashlib
import json
import os


def ident(kind, i):
    return hashlib.sha256(f"{kind}-{i}".encode()).hexdigest()


def write(path, recs):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(recs, f, separators=(",", ":"))
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("graphroot")
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--images", type=int, default=0)
    ap.add_argument("--driver", default="vfs")
    ap.add_argument("--dup-names", type=int, default=0)
    a = ap.parse_args()
    if a.images > a.layers:
        ap.error("--images must not exceed --layers (each image has its own layer)")
    created = "2026-01-01T00:00:00Z"
    g = a.graphroot
    ldir = os.path.join(g, f"{a.driver}-layers")
    idir = os.path.join(g, f"{a.driver}-images")
    ddir = os.path.join(g, a.driver, "dir")
    for d in (ldir, idir, os.path.join(g, f"{a.driver}-containers"), ddir):
        os.makedirs(d, mode=0o700, exist_ok=True)

    layers = []
    for i in range(a.layers):
        lid = ident("layer", i)
        names = [f"layer-{i}"]
        if i > 0 and i - 1 < a.dup_names:
            names.append(f"layer-{i - 1}")
        layers.append({"id": lid, "names": names, "created": created})
        if a.driver == "vfs":
            os.makedirs(os.path.join(ddir, lid), mode=0o555, exist_ok=True)
    write(os.path.join(ldir, "layers.json"), layers)

    images = []
    for i in range(a.images):
        names = [f"example.com/bench/img-{i}:latest"]
        if i > 0 and i - 1 < a.dup_names:
            names.append(f"example.com/bench/img-{i - 1}:latest")
        images.append({"id": ident("image", i), "names": names,
                       "layer": ident("layer", i), "created": created})
    write(os.path.join(idir, "images.json"), images)


if __name__ == "__main__":
    main()
