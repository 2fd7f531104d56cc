#!/bin/sh
# deps.sh - install the Debian packages zcshim needs, only those missing.
#   sh tools/deps.sh build   compiler, make, headers the library and helpers use
#   sh tools/deps.sh test    build + Criterion and what the tests run
#   sh tools/deps.sh deb     build + the Debian packaging tools
# Runs apt-get (as root, or through sudo) only when something is missing,
# so a machine that has everything pays one dpkg query.
set -eu
need="gcc make pkg-config libc6-dev libunwind-dev libseccomp-dev libmnl-dev strace"
case "${1:-build}" in
build) ;;
test) need="$need g++ libcriterion-dev curl socat iperf3 openssl python3 procps valgrind prometheus prometheus-node-exporter iproute2 ethtool redis-server nginx haproxy openjdk-17-jdk-headless postgresql postgresql-client" ;;
fuzz) need="$need clang libclang-rt-dev" ;;
deb) need="$need debhelper dpkg-dev lintian git fakeroot" ;;
*) echo "usage: deps.sh build|test|fuzz|deb" >&2; exit 2 ;;
esac
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
	echo "deps: need root to install:$missing" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null || $sudo apt-get update
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null || \
	$sudo apt-get install -y --no-install-recommends $missing
