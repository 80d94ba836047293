#!/usr/bin/env bash
# `npm test`: build, then every suite. Suites that need real services get them from scripts/services.sh
# (started here when the URLs are not set, and stopped again afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

npm run --silent build
npx vitest run "$@"
