#!/usr/bin/env bash
# `npm run lint`: Biome (formatting, lint rules, sorted imports; biome.json), no line over 140 characters, and in src/
# (and support/) no file over 300 lines and no function over 80 (scripts/lint-sizes.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."

npx biome ci --error-on-warnings .
node scripts/lint-sizes.mjs
# Types of the whole tree (the build checks only src/): tests and tools too.
npx tsc -p . --noEmit
long="$(git ls-files -co --exclude-standard 'src/*.ts' 'test/*.ts' 'bench/*.mjs' 'support/*.mjs' 'scripts/*.mjs' 'scripts/*.ts' \
  'scripts/*.sh' 'public/*.js' 'public/*.css' 'public/*.html' '*.ts' \
  | xargs awk 'length > 140 { print FILENAME ":" FNR ": " length " characters" }')"
if [[ -n "$long" ]]; then
  printf 'lines over 140 characters:\n%s\n' "$long" >&2
  exit 1
fi
echo "lint: ok"
