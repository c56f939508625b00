#!/usr/bin/env bash
# Installs the benchmark's optional baselines from Debian's archive: task-spooler (`tsp`), the
# queue `deno task bench` compares with when it is present. Needs root (or sudo) and apt-get.
set -euo pipefail
if command -v tsp >/dev/null 2>&1; then
  echo "task-spooler is installed: $(command -v tsp)"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq task-spooler >/dev/null
echo "installed task-spooler: $(command -v tsp)"
