#!/usr/bin/env bash
# Reliability (issue 8): every bad input end to end with bench/bad_inputs.py -- a folder of broken, odd and hostile
# image files through the loader and a 1-epoch `vae_course train --dataset folder:...`, every bad command-line
# argument (one line on stderr, exit code 2), an unwritable and a full --out (a tiny tmpfs where it can be mounted,
# else RLIMIT_FSIZE). Fails when any case is not handled as documented.
# usage: bash .ci/extra/reliability.sh WORKDIR   (venv active, VAE_COURSE_DATA set; WORKDIR is removed by the caller)
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-$(mktemp -d /tmp/vae_course_reliability.XXXXXX)}
mkdir -p "$WORK/bad_inputs"
T0=$(date +%s)
python bench/bad_inputs.py --workdir "$WORK/bad_inputs"
echo "bench/bad_inputs.py took $(( $(date +%s) - T0 )) s (budget: 90 s on 2 cores)"
