#!/bin/bash
# Install the Debian packages cstor needs, when run as root and something is
# missing. Usage: scripts/deps.sh [--build|--demo|--test]  (--demo and --test
# include --build; --test includes --demo)
set -eu
# scdoc: the man pages (the build skips them without it).
build_pkgs=(meson ninja-build gcc pkg-config libjansson-dev zlib1g-dev libzstd-dev libssl-dev
            liblzma-dev libbz2-dev libisal-dev libcurl4-openssl-dev scdoc)
demo_pkgs=(busybox-static tar gzip)
# clang (14, Debian 12's default), clang-19 and dpkg-dev (dpkg-buildflags):
# the build matrix of tests/build-matrix.sh. docker-registry (the CNCF
# distribution registry), htpasswd (apache2-utils) and openssl: the
# registries tests/interop/test-registry.sh starts. fuse3 and libfuse3-dev:
# the power-cut filesystem of tests/cli/test-power-cut.sh (tests/tools/cutfs.c).
test_pkgs=(clang clang-19 dpkg-dev containers-storage skopeo podman runc attr zstd xfsprogs e2fsprogs util-linux jq fuse-overlayfs fuse3 libfuse3-dev python3 man-db bash-completion zsh fish
           docker-registry apache2-utils openssl)
want=("${build_pkgs[@]}")
case ${1:-} in
--demo) want+=("${demo_pkgs[@]}") ;;
--test) want+=("${demo_pkgs[@]}" "${test_pkgs[@]}") ;;
esac

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
