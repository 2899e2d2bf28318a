#!/bin/bash
# Install the Debian packages cstor needs, when run as root and something is
# missing. Usage: scripts/deps.sh [--build|--test]  (--test includes --build)
set -eu
build_pkgs=(meson ninja-build gcc pkg-config libjansson-dev zlib1g-dev libzstd-dev libssl-dev
            liblzma-dev libbz2-dev libisal-dev)
test_pkgs=(clang-19 containers-storage skopeo attr tar gzip zstd xfsprogs e2fsprogs util-linux
           busybox-static jq)
want=("${build_pkgs[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 0
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
	apt-get update -q >/dev/null 2>&1
	apt-get install -y -q "${missing[@]}" >/dev/null
}
