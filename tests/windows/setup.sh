#!/usr/bin/env bash
# Builds the Windows lane's cache once: a Debian 13 (trixie) minbase chroot with
# Wine 10, a Wine prefix of its own, and the Windows build of the same Deno
# version as ours (from npm). Idempotent: a finished part is left as it is.
# Usage: setup.sh <cache dir> <deno version>. Needs root, Linux x86_64.
set -euo pipefail
cache=$1
version=$2
root="$cache/rootfs"
# Bump when the recipe changes, so an old cache is rebuilt rather than trusted.
recipe=1

say() { echo "windows lane: $*"; }

# The Debian mirror apt already uses (deb822 or one-line format).
mirror() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
    grep -vE 'security|updates' | grep -E '/debian/?$' | head -n 1 || true)
  [[ -z $uri ]] && uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

if [[ $(cat "$root/.queuectl-ready" 2>/dev/null) != "$recipe" ]]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  # A cache from an older recipe, or a setup that was interrupted, starts over.
  rm -rf "$root" "$root.partial"
  mkdir -p "$cache"
  say "debootstrap --variant=minbase trixie from $(mirror)"
  debootstrap --variant=minbase trixie "$root.partial" "$(mirror)" >"$cache/debootstrap.log" 2>&1 ||
    { tail -n 20 "$cache/debootstrap.log"; exit 1; }
  say "installing Wine in the chroot"
  # apt in the chroot needs /proc and /dev only for a few maintainer scripts.
  unshare --mount --fork bash -euo pipefail -c '
    root=$1
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
      sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends wine wine64 >/dev/null && apt-get clean"
  ' _ "$root.partial" >"$cache/apt.log" 2>&1 || { tail -n 20 "$cache/apt.log"; exit 1; }
  echo "$recipe" >"$root.partial/.queuectl-ready"
  mv "$root.partial" "$root"
fi

deno_exe="$root/opt/deno-$version/deno.exe"
if [[ ! -x $deno_exe ]]; then
  say "fetching deno.exe $version: npm pack @deno/win32-x64@$version --ignore-scripts"
  work=$(mktemp -d)
  (cd "$work" && npm pack "@deno/win32-x64@$version" --ignore-scripts --silent >/dev/null)
  tar -xzf "$work"/deno-win32-x64-*.tgz -C "$work"
  mkdir -p "$(dirname "$deno_exe")"
  install -m 0755 "$work/package/deno.exe" "$deno_exe.partial"
  mv "$deno_exe.partial" "$deno_exe"
  rm -rf "$work"
fi
