#!/usr/bin/env bash
# `npm test`: build, bring up what the suites need, run every suite, tear down what this script started.
#  - Real Kafka, Redis and Postgres for test/integration: started natively with scripts/services.sh unless
#    KAFKA_BROKERS, REDIS_URL and DATABASE_URL are already set (then those are used and left alone).
#  - Chromium for test/browser and wrk for the benchmark smoke run: installed from Debian's packages when missing;
#    Python's prometheus-client from PyPI.
#  - After a full run, every benchmark once at its tiny size (correctness only; BENCH_SMOKE=0 skips it).
# Extra arguments go to vitest, e.g. `npm test -- test/Domain`.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run --silent build
bash scripts/install-test-tools.sh
# test/Http/metrics.test.ts reads /metrics with Prometheus's reference parser (the Python client's).
python3 -c "import prometheus_client" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check prometheus-client==0.26.0

started=""
if [[ -z "${KAFKA_BROKERS:-}" || -z "${REDIS_URL:-}" || -z "${DATABASE_URL:-}" ]]; then
  # Leave services running that were up before us (a developer's own); stop only what we started.
  for svc in kafka redis postgres; do
    scripts/services.sh status "$svc" >/dev/null 2>&1 || started="$started $svc"
  done
  if [[ -n "$started" ]]; then
    trap 'scripts/services.sh down $started || true' EXIT
  fi
  exports="$(scripts/services.sh up)" # (a failed `up` stops here; inside eval "$(…)" it would not)
  eval "$exports"
fi
echo "test: KAFKA_BROKERS=$KAFKA_BROKERS REDIS_URL=$REDIS_URL DATABASE_URL=${DATABASE_URL%%:*}://…"

npx vitest run "$@"

# A full run (no arguments) ends with every benchmark once at its tiny size, against the same services: a smoke
# check of correctness only (nothing lost or doubled, no errors, the baselines sane). It asserts no time.
# BENCH_SMOKE=0 skips it.
if [[ $# -eq 0 && "${BENCH_SMOKE:-1}" != "0" ]]; then
  node bench/run.mjs all --size tiny
fi
