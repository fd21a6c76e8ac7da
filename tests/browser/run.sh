#!/usr/bin/env bash
# Run the browser tests against the ketaclinic demo using the system chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Never download a browser; the test uses the system chromium (CHROMIUM_PATH).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi

exec node --test signin.test.mjs inquiry.test.mjs patient.test.mjs portal.test.mjs plan.test.mjs order.test.mjs chair.test.mjs analytics.test.mjs
