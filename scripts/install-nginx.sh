#!/usr/bin/env bash
# Debian's nginx binary, unpacked into .venv/nginx (no service installed or started), for the
# test that serves the chart's OpenCost UI site. Where packages cannot be downloaded the test
# is skipped and says why.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/nginx/usr/sbin/nginx
[ -x "$BIN" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "WARNING: no apt-get: the chart's OpenCost UI site test will be skipped" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fetch() { (cd "$tmp" && apt-get download nginx >/dev/null 2>&1); }
if ! fetch && [ "$(id -u)" = "0" ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  fetch || true
fi
if ls "$tmp"/nginx_*.deb >/dev/null 2>&1; then
  mkdir -p .venv/nginx
  dpkg-deb -x "$tmp"/nginx_*.deb .venv/nginx
  echo "installed $BIN" >&2
else
  echo "WARNING: could not download Debian's nginx: the chart's OpenCost UI site test will be skipped" >&2
fi
