#!/bin/sh
# Runs the browser tests: installs the pinned playwright-core (never a browser: Debian's chromium
# is used) into tests/browser/node_modules when it is missing or out of date, then node's runner.
# Environment: RDV_SERVER (the binary), RDV_SCREENSHOT_DIR (where the screenshots go).
set -e
cd "$(dirname "$0")"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.rdv-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.rdv-lock
fi
exec node --test --test-reporter=spec page.test.mjs
