#!/usr/bin/env bash
# Packaging: sdist + wheel build, wheel installed into a fresh venv, `import vae_course`, `vae_course --help`,
# `vae_course train` on the embedded default, complete metadata, version from settings.ini.
set -euo pipefail
bash tools/check_package.sh
