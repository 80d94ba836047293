#!/usr/bin/env bash
# Installs what the test command needs beyond Node, on a fresh Debian/Ubuntu machine:
#  - Debian packages: Chromium at /usr/bin/chromium and fonts (so screenshots have glyphs) for test/browser; wrk for the
#    benchmark smoke run (bench/, REST scenario); Java 17 (openjdk-17-jre-headless) for Kafka when `java` is not found.
#  - Python packages into the project's own virtual environment, .services/venv (git-ignored; a system Python under
#    PEP 668 refuses pip): prometheus-client for test/Http/metrics.test.ts, schemathesis for test/contract (the
#    OpenAPI contract fuzz run). python3-venv from Debian if venv is missing.
# Idempotent: installs only what is missing and says what it did. Needs root (or sudo) for the Debian packages.
set -euo pipefail

# chromium only *recommends* fonts-liberation; fontconfig pulls in one font family at most. All are small.
PACKAGES=(chromium fonts-dejavu-core fonts-liberation wrk)
PYTHON_PACKAGES=(prometheus-client==0.26.0 schemathesis==4.32.5)
VENV="$(cd "$(dirname "$0")/.." && pwd)/.services/venv"

missing=()
for pkg in "${PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    echo "install-test-tools: $pkg present"
  else
    missing+=("$pkg")
  fi
done

# Kafka needs a java on PATH; any Java 17+ will do, so only install Debian's when there is none.
if command -v java >/dev/null 2>&1; then
  echo "install-test-tools: java present ($(command -v java))"
else
  missing+=(openjdk-17-jre-headless)
fi
# `python3 -m venv` needs ensurepip, which Debian ships separately (python3-venv).
if ! command -v python3 >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
elif [ ! -x "$VENV/bin/python" ] && ! python3 -c "import ensurepip, venv" 2>/dev/null; then
  missing+=(python3-venv)
fi

python_packages() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "install-test-tools: creating $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
  fi
  if "$VENV/bin/python" -c "import prometheus_client" 2>/dev/null &&
    [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version 4.32.5" ]; then
    echo "install-test-tools: ${PYTHON_PACKAGES[*]} present in $VENV"
  else
    echo "install-test-tools: installing ${PYTHON_PACKAGES[*]} into $VENV (pip)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
  fi
}

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-test-tools: no Debian package to install"
  python_packages
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
if ! command -v java >/dev/null 2>&1; then
  echo "install-test-tools: installed ${missing[*]}, but java is still not on PATH" >&2
  exit 1
fi
echo "install-test-tools: installed ${missing[*]}"
python_packages
