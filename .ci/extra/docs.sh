#!/usr/bin/env bash
# Docs content without Quarto: nbdev's processed notebooks rendered by nbconvert, each page opened in headless
# Debian chromium (title, a figure, no error output, no failed local request), screenshots saved; README.md must match
# nbs/index.ipynb. First the docs build step that makes the browser latent explorer (nbs/explorer/, not committed):
# `python tools/build_explorer.py`, which the latent map widgets page embeds.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libjs-mathjax) >/dev/null
fi
if ! command -v npm >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm) >/dev/null
fi
T0=$(date +%s)
OMP_NUM_THREADS=1 python tools/build_explorer.py
echo "docs.sh: the explorer built in $(( $(date +%s) - T0 )) s"
python tools/check_docs.py
