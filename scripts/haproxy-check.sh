#!/usr/bin/env bash
# deploy/haproxy/haproxy.cfg checked by HAProxy itself (`haproxy -c`; run by scripts/test.sh). haproxy comes from
# Debian's `haproxy` package (2.6, the version of docker-compose.yml's image), installed when missing (root or sudo;
# `apt-get update` first when the lists do not know it). test/integration/scaleout.test.ts also runs it, in front of
# two api processes. On a systemd machine the package enables its own haproxy.service (no frontends); the tests do
# not use it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v haproxy >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "haproxy-check: no haproxy and no apt-get: install HAProxy" >&2; exit 1; }
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "haproxy-check: installing Debian's haproxy package"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends haproxy >/dev/null; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends haproxy >/dev/null
  fi
fi

# The servers are found through Docker's DNS at run time (init-addr none): the check needs no name to resolve.
haproxy -c -q -f deploy/haproxy/haproxy.cfg
echo "haproxy-check: deploy/haproxy/haproxy.cfg is valid ($(haproxy -v | head -1 | cut -d' ' -f1-3))"
