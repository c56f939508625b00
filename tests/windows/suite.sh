#!/usr/bin/env bash
# Inside the lane's chroot: runs the Windows suite with deno.exe under Wine.
set -uo pipefail
cd /src
if [[ ! -d $WINEPREFIX/drive_c ]]; then
  echo "windows lane: creating the Wine prefix"
  wineboot --init >/dev/null 2>&1
fi
wine --version
wine "$QUEUECTL_DENO_EXE" --version | head -n 1
# The Windows suite, and the cross-platform tests of what it relies on.
files=("$@")
[[ ${#files[@]} == 0 ]] && files=(tests/windows/ tests/worker_unit_test.ts
  tests/supervisor_stop_test.ts tests/stop_now_test.ts)
wine "$QUEUECTL_DENO_EXE" test --frozen \
  --allow-read --allow-write --allow-env --allow-run --allow-net --allow-sys=hostname "${files[@]}"
status=$?
wineserver -k 2>/dev/null
exit "$status"
