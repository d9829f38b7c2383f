#!/bin/sh
# Runs the pkarr client test: installs the pinned pkarr package (and its dependencies) into
# tests/pkarr_client/node_modules when it is missing or out of date, then node's test runner.
# Environment: RDV_SERVER (the binary).
set -e
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.rdv-lock; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.rdv-lock
fi
exec node --test --test-reporter=spec client.test.mjs
