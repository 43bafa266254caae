#!/usr/bin/env bash
# Installs Debian's Chromium and chromedriver for the browser tests
# (cargo test --test browser), when they are missing. Idempotent; needs root
# (or sudo) and the Debian package mirrors.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if [ -x /usr/bin/chromium ] && { [ -x /usr/bin/chromedriver ] || have chromedriver; }; then
  echo "browser-deps: chromium and chromedriver already installed"
  /usr/bin/chromium --version 2>/dev/null || true
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO="sudo"; else
    echo "browser-deps: need root (or sudo) to install chromium chromium-driver" >&2
    exit 1
  fi
fi

echo "browser-deps: installing chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver; then
    break
  fi
  if [ "$attempt" -eq 3 ]; then
    echo "browser-deps: apt-get failed three times" >&2
    exit 1
  fi
  sleep $((attempt * 5))
done

/usr/bin/chromium --version 2>/dev/null || true
chromedriver --version
