#!/usr/bin/env bash
# `npm test`: lint, build, bring up what the suites need, run every suite, tear down what this script started.
#  - Real Kafka, Redis and Postgres for test/integration: always this run's own, started with scripts/services.sh on
#    test-only ports (KAFKA_PORT, REDIS_PORT, PG_PORT; defaults 29092, 26379, 25432) with their own SERVICES_DIR
#    (.services/test-<kafka port>; TEST_SERVICES_DIR overrides). KAFKA_BROKERS, REDIS_URL and DATABASE_URL from the
#    caller are ignored: outage tests stop and kill these services, so they must never be a developer's own.
#    scripts/services.sh refuses stop/kill/restart from a test unless SERVICES_OWNER matches this run's token.
#  - Java, Chromium, wrk and Python's prometheus-client (in .services/venv): installed by install-test-tools.sh when
#    missing.
#  - After a full run, every benchmark once at its tiny size (correctness only; BENCH_SMOKE=0 skips it).
# Extra arguments go to vitest, e.g. `npm test -- test/Domain`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/lint.sh # formatting, lint rules, line length, file and function sizes (fails fast)
npm run --silent build
bash scripts/install-test-tools.sh
bash scripts/prometheus-check.sh # promtool: deploy/prometheus's config, alert rules and their unit tests (installs it)
bash scripts/haproxy-check.sh # haproxy -c: deploy/haproxy's load balancer config (installs it; the scale-out test runs it)
# test/Http/metrics.test.ts reads /metrics with Prometheus's reference parser (the Python client's), from this venv.
export TEST_PYTHON="$PWD/.services/venv/bin/python"
# test/contract runs schemathesis (the OpenAPI contract fuzz run) from the same venv: install-test-tools.sh puts it there.

for var in KAFKA_BROKERS REDIS_URL DATABASE_URL; do
  if [[ -n "${!var:-}" ]]; then
    echo "test: ignoring $var from the environment: the tests use services of their own (scripts/test.sh)" >&2
    unset "$var"
  fi
done
export KAFKA_PORT="${KAFKA_PORT:-29092}" REDIS_PORT="${REDIS_PORT:-26379}" PG_PORT="${PG_PORT:-25432}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
export SERVICES_DIR="${TEST_SERVICES_DIR:-$PWD/.services/test-$KAFKA_PORT}"
mkdir -p "$SERVICES_DIR"

# One run per SERVICES_DIR: a second run would stop the first one's services. The owner file names the run (its pid).
other="$(sed -n 's/^test-run-\([0-9]*\)-.*/\1/p' "$SERVICES_DIR/owner" 2>/dev/null || true)"
if [[ -n "$other" ]] && tr '\0' ' ' <"/proc/$other/cmdline" 2>/dev/null | grep -q "scripts/test.sh"; then
  echo "test: test run $other is using $SERVICES_DIR (ports $KAFKA_PORT, $REDIS_PORT, $PG_PORT): wait or set other ports" >&2
  exit 1
fi

# The ownership token: scripts/services.sh lets tests stop or kill only the services under $SERVICES_DIR/owner's run.
export SERVICES_OWNER="test-run-$$-$(date +%s%N)"
export SERVICES_OWNED_ONLY=1
echo "$SERVICES_OWNER" >"$SERVICES_DIR/owner"
# The last line printed is vitest's count as a plain "tests: N passed, N failed, N skipped" line: CI reads a run's
# closing lines for a count it knows, and vitest's own summary is not one of them (so a green run read as "no test").
report="$SERVICES_DIR/vitest-report.json"
rm -f "$report"
finish() {
  scripts/services.sh down || true
  rm -f "$SERVICES_DIR/owner"
  node scripts/test-summary.mjs $report || true # one report, or both lanes' (paths without spaces)
}
trap finish EXIT

exports="$(scripts/services.sh up)" # (a failed `up` stops here; inside eval "$(…)" it would not)
eval "$exports"
echo "test: own services in $SERVICES_DIR: KAFKA_BROKERS=$KAFKA_BROKERS REDIS_URL=$REDIS_URL DATABASE_URL=${DATABASE_URL%%:*}://…"

# A whole run goes in two lanes at once, each one file at a time: the files that use this run's services (some stop or
# kill them), and every other file (embedded adapters, fakes and processes of their own) beside them, its output
# prefixed with "[embedded]". Two files at a time on two cores; most of these files wait on sessions, start-ups and
# outages more than they compute. TEST_LANES=1 (or any arguments) runs everything in one lane.
services_lane=(test/integration test/Cache/contract.test.ts)
if [[ $# -eq 0 && "${TEST_LANES:-2}" != "1" ]]; then
  embedded_report="$SERVICES_DIR/vitest-report-embedded.json"
  embedded_rc="$SERVICES_DIR/vitest-embedded.rc"
  rm -f "$embedded_report" "$embedded_rc"
  exclude=()
  for f in "${services_lane[@]}"; do exclude+=(--exclude "$f" --exclude "$f/**"); done
  {
    rc=0
    npx vitest run --reporter=default --reporter=json --outputFile.json="$embedded_report" "${exclude[@]}" || rc=$?
    echo "$rc" >"$embedded_rc"
  } 2>&1 | sed -u 's/^/[embedded] /' &
  embedded=$!
  services_rc=0
  npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "${services_lane[@]}" || services_rc=$?
  wait "$embedded" || true
  report="$report $embedded_report" # the closing count sums both lanes
  [[ "$services_rc" == 0 && "$(cat "$embedded_rc" 2>/dev/null)" == 0 ]] || exit 1
else
  npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
fi

# A full run (no arguments) ends with every benchmark once at its tiny size, against the same services: a smoke
# check of correctness only (nothing lost or doubled, no errors, the baselines sane), so one repetition of each is
# enough. It asserts no time. BENCH_SMOKE=0 skips it.
if [[ $# -eq 0 && "${BENCH_SMOKE:-1}" != "0" ]]; then
  node bench/run.mjs all --size tiny --reps 1
fi
