#!/usr/bin/env bash
# Docs content without Quarto: nbdev's processed notebooks rendered by nbconvert, each page opened in headless
# Debian chromium (title, a figure, no error output), screenshots saved; README.md must match nbs/index.ipynb.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libjs-mathjax) >/dev/null
fi
python tools/check_docs.py
