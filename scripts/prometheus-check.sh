#!/usr/bin/env bash
# deploy/prometheus checked by Prometheus's own tools (run by scripts/test.sh): the scrape config, the alert rules, and
# the rules' unit tests (deploy/prometheus/tests/*.yml: each alert fires on a series that should fire it, not on others).
# promtool and prometheus (test/integration/prometheus.test.ts runs a real one) come from Debian's `prometheus`
# package, installed when missing (root or sudo; `apt-get update` first when the lists do not know it). On a systemd
# machine the package also enables its own prometheus.service on :9090; the tests do not use it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "prometheus-check: no promtool and no apt-get: install Prometheus" >&2; exit 1; }
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "prometheus-check: installing Debian's prometheus package (promtool, prometheus)"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
fi

promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/tests/*.yml
