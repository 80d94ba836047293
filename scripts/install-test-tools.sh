#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the test command needs beyond Node: Chromium at /usr/bin/chromium and fonts (so
# screenshots have glyphs) for test/browser, and wrk for the benchmark smoke run (bench/, REST scenario).
# Idempotent: installs only what is missing and says what it did. Needs root (or sudo).
set -euo pipefail

# chromium only *recommends* fonts-liberation; fontconfig pulls in one font family at most. All are small.
PACKAGES=(chromium fonts-dejavu-core fonts-liberation wrk)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    echo "install-test-tools: $pkg present"
  else
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-test-tools: nothing to do"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: missing ${missing[*]} and no apt-get here: install them with your package manager" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-test-tools: missing ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
fi

echo "install-test-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

for bin in /usr/bin/chromium /usr/bin/wrk; do
  if [ ! -x "$bin" ]; then
    echo "install-test-tools: installed ${missing[*]}, but $bin is still missing" >&2
    exit 1
  fi
done
echo "install-test-tools: installed ${missing[*]}"
