#!/usr/bin/env bash
# Real-browser test of the latent explorer that runs on the docs site without a kernel: the site built by
# tools/build_explorer.py (docs.sh builds it; built here when missing) served on 127.0.0.1, opened in headless Debian
# chromium through Playwright (tests/explorer_test.py). Prints the update latency and the browser-vs-PyTorch differences.
set -euo pipefail
WORK=${1:-$(mktemp -d /tmp/vae_course_explorer_ci.XXXXXX)}
cd "$(dirname "$0")/../.."
if [ ! -x /usr/bin/chromium ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null
fi
[ -f nbs/explorer/models/index.json ] || OMP_NUM_THREADS=1 python tools/build_explorer.py
mkdir -p "$WORK/explorer_screenshots"
PAGE=()
[ -f _site_check/latent_map_widgets.html ] && PAGE=(--page _site_check/latent_map_widgets.html)   # rendered by docs.sh
timeout 300 python tests/explorer_test.py --site nbs/explorer --out "$WORK/explorer_screenshots" "${PAGE[@]}"
