#!/usr/bin/env bash
# Makes sure Debian's headless-capable Chromium is installed, for the web
# client's end-to-end tests. Idempotent; prints the browser's path.
# CHROMIUM may name another binary (it must exist).
set -euo pipefail

if [[ -n "${CHROMIUM:-}" ]]; then
  [[ -x "$CHROMIUM" ]] || { echo "ensure-chromium: CHROMIUM=$CHROMIUM is not executable" >&2; exit 1; }
  echo "$CHROMIUM"
  exit 0
fi

if [[ -x /usr/bin/chromium ]]; then
  echo /usr/bin/chromium
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: no /usr/bin/chromium and no apt-get to install it; install Chromium or set CHROMIUM" >&2
  exit 1
fi

SUDO=""
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "ensure-chromium: installing chromium needs root (run: apt-get install -y chromium)" >&2
    exit 1
  fi
fi

echo "ensure-chromium: installing Debian's chromium (one time)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q chromium fonts-dejavu-core >&2
[[ -x /usr/bin/chromium ]] || { echo "ensure-chromium: chromium installed but /usr/bin/chromium is missing" >&2; exit 1; }
echo /usr/bin/chromium
