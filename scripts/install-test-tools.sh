#!/usr/bin/env bash
# Installs the external programs the test suite drives (a real Prometheus for the Prometheus
# source tests). Installs only when missing and when this user can install Debian packages;
# otherwise the tests that need them are skipped with a loud reason.
set -euo pipefail
bash "$(dirname "$0")/install-helm.sh"
bash "$(dirname "$0")/install-focus-validator.sh"
bash "$(dirname "$0")/install-nginx.sh"
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's prometheus package for the Prometheus source tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The package starts a system service; the tests run their own server on a free port.
  (service prometheus stop || systemctl stop prometheus || true) >/dev/null 2>&1
else
  echo "WARNING: prometheus/promtool missing and packages cannot be installed here:" \
       "the real-Prometheus tests will be skipped" >&2
fi
