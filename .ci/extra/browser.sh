#!/usr/bin/env bash
# Real-browser test of the latent-exploration widgets: JupyterLab + headless Debian Chromium driven by Playwright
# (tests/browser_test.py). Called by .ci/run as `bash .ci/extra/browser.sh WORKDIR` with the project's virtual
# environment (dev requirements, which include playwright) active. Installs Debian's chromium with apt-get when
# /usr/bin/chromium is missing; never runs `playwright install` (no browser download). Exits non-zero on failure.
set -euo pipefail
WORK=${1:-$(mktemp -d /tmp/vae_course_browser_ci.XXXXXX)}
cd "$(dirname "$0")/../.."
T0=$(date +%s)

if [ ! -x /usr/bin/chromium ]; then
  echo "browser.sh: /usr/bin/chromium is missing; installing Debian's chromium"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null
  echo "browser.sh: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium) in $(( $(date +%s) - T0 )) s"
fi
python -c "import playwright, jupyterlab, ipywidgets" || { echo "browser.sh: playwright, jupyterlab and ipywidgets must be installed (pip install -e '.[dev]')"; exit 1; }

mkdir -p "$WORK/screenshots"
timeout 240 python tests/browser_test.py --out "$WORK/screenshots"
echo "browser.sh: done in $(( $(date +%s) - T0 )) s; screenshots in $WORK/screenshots"
