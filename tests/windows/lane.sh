#!/usr/bin/env bash
# The Windows lane: the Windows suite (tests/windows/) run by the Windows build
# of Deno under Wine 10, in a Debian 13 chroot. Sets itself up once in a cache
# outside the checkout ($QUEUECTL_WINE_CACHE, default ~/.cache/queuectl-wine),
# which later runs reuse. Ends with "windows: N passed, M failed".
# Arguments, if any, are the test files to run instead of the whole suite.
# Needs Linux x86_64 and root (debootstrap, unshare -m, mount, chroot). Where it
# cannot run it is skipped with one line saying why; with CI=true it fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
checkout=$PWD
version=$(cat .ci/deno-version)
cache=${QUEUECTL_WINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/queuectl-wine}
root="$cache/rootfs"

cannot() {
  if [[ ${CI:-} == true ]]; then
    echo "windows lane: FAILED, it cannot run here: $*"
    echo "windows: 0 passed, 1 failed"
    exit 1
  fi
  echo "windows lane: skipped: $*"
  exit 0
}

[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] ||
  cannot "it needs Linux x86_64, this is $(uname -s) $(uname -m)"
[[ $(id -u) == 0 ]] || cannot "it needs root for debootstrap, unshare -m, mount and chroot"
for tool in unshare chroot mount npm flock; do
  command -v "$tool" >/dev/null 2>&1 || cannot "$tool is missing"
done

mkdir -p "$cache"
# One lane at a time per cache: the chroot, the prefix and its wineserver are shared.
exec 9>"$cache/lock"
flock 9

started=$SECONDS
bash tests/windows/setup.sh "$cache" "$version" || cannot "setting up $cache failed (see above)"
echo "windows lane: cache $cache ready in $((SECONDS - started)) s"

# Wine's leftovers: each nested deno.exe start leaves a ~100 MB copy of itself
# behind (Wine cannot rename it over the one in use): about 10 GB over a run of
# the suite if they stayed until its end. So they go while it runs, once a few
# seconds old (a copy is written in well under a second), and the rest at the end.
users="$root/opt/prefix/drive_c/users"
swept="$cache/swept"
: >"$swept"
sweep() {
  [[ -d $users ]] || return 0
  find "$users" -maxdepth 6 -path '*/AppData/Local/deno/node_compat_bin/node.exe.tmp-*' \
    "$@" -print -delete 2>/dev/null >>"$swept" || true
}
(while sleep 5; do sweep ! -newermt '10 seconds ago'; done) &
sweeper=$!
trap 'kill "$sweeper" 2>/dev/null || true' EXIT

log="$cache/last-run.log"
set +e
unshare --mount --pid --fork --kill-child --propagation private \
  bash tests/windows/enter.sh "$root" "$checkout" "$version" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# The pid namespace above already ended wineserver and everything else the suite started.
kill "$sweeper" 2>/dev/null || true
wait "$sweeper" 2>/dev/null || true
sweep
echo "windows lane: removed $(wc -l <"$swept") node.exe.tmp-* files Wine left behind"

summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1 || true)
passed=$(sed -nE 's/.*\| ([0-9]+) passed.*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$summary")
if [[ -z $summary ]]; then
  passed=0
  failed=1
  [[ $status == 0 ]] && status=1
fi
echo "windows lane: $((SECONDS - started)) s in all"
echo "windows: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
