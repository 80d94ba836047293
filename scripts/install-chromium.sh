#!/usr/bin/env bash
# Installs what the browser test (test/browser) needs on Debian/Ubuntu: Chromium at /usr/bin/chromium, and fonts so that
# screenshots have text glyphs. Idempotent: installs only what is missing and says what it did. Needs root (or sudo).
set -euo pipefail

CHROMIUM=/usr/bin/chromium
# chromium only *recommends* fonts-liberation; fontconfig pulls in one font family at most. Both are small.
FONTS=(fonts-dejavu-core fonts-liberation)

missing=()
if [ -x "$CHROMIUM" ]; then
  echo "install-chromium: $CHROMIUM present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
else
  missing+=(chromium)
fi
for pkg in "${FONTS[@]}"; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    echo "install-chromium: $pkg present"
  else
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-chromium: nothing to do"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: missing ${missing[*]} and no apt-get here: install them with your package manager" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-chromium: missing ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
fi

echo "install-chromium: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if [ ! -x "$CHROMIUM" ]; then
  echo "install-chromium: installed ${missing[*]}, but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "install-chromium: installed ${missing[*]}; $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
