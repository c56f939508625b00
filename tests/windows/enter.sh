#!/usr/bin/env bash
# Runs inside the lane's own mount and pid namespaces (see lane.sh): mounts what
# the chroot needs, the checkout read-only at /src, and runs suite.sh in it with
# a clean environment. Everything started here ends with this namespace.
set -euo pipefail
root=$1
checkout=$2
version=$3
shift 3
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
mkdir -p "$root/src"
mount --bind "$checkout" "$root/src"
mount -o remount,bind,ro "$root/src"
# Deno verifies npm's TLS with this machine's CA bundle (a proxy may sign with its own).
cp /etc/ssl/certs/ca-certificates.crt "$root/opt/ca.pem"
mkdir -m 0700 "$root/tmp/xdg"
exec chroot "$root" /usr/bin/env -i \
  PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 XDG_RUNTIME_DIR=/tmp/xdg \
  WINEDEBUG=-all WINEPREFIX=/opt/prefix WINEDLLOVERRIDES="mscoree,mshtml=" \
  DENO_CERT='Z:\opt\ca.pem' NO_COLOR=1 CI="${CI:-}" QUEUECTL_DENO_EXE="/opt/deno-$version/deno.exe" \
  bash /src/tests/windows/suite.sh "$@"
