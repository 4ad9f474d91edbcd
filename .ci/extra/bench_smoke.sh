#!/usr/bin/env bash
# Benchmarks of issue 17, as a smoke test: bench/time_to_quality.py --quick (the course's recipe and pythae's VAE, a few
# CPU seconds each, side by side, one thread each, then the shared IWAE estimator) and bench/nll_mnist.py --quick (a few
# seconds of training, K = 20 on 100 test images) and bench/olivetti_sweeps.py --quick (two desubpixel variants and one
# AS-IntroVAE variant, a few steps each). pythae comes from the `bench` extra, installed here when missing.
# usage: bash .ci/extra/bench_smoke.sh WORKDIR   (venv active, VAE_COURSE_DATA set; WORKDIR is removed by the caller)
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-$(mktemp -d /tmp/vae_course_bench.XXXXXX)}
mkdir -p "$WORK/bench_smoke"
T0=$(date +%s)
# the bench extra: pythae without its `dataclasses` backport (Python >= 3.7 has it), then what it imports
python -c "import pythae" 2>/dev/null || { pip install -q --no-deps pythae && pip install -q cloudpickle imageio "pydantic>=2" scikit-learn scipy tqdm typing-extensions; }
python -c "import pythae, torch, torchvision, vae_course"
export OMP_NUM_THREADS=1
python bench/time_to_quality.py --quick --json "$WORK/bench_smoke/ttq.json" | tail -12
python - "$WORK/bench_smoke/ttq.json" <<'PYEOF'
import json, math, sys
r = json.load(open(sys.argv[1]))['results']
for k in ('course', 'pythae'):
    c = r[k]['curve']
    assert len(c) == 2 and all(math.isfinite(x['nll']) and 50 < x['nll'] < 600 for x in c), (k, c)
print('time_to_quality --quick: both curves present and finite')
PYEOF
T1=$(date +%s)
python bench/nll_mnist.py --quick --threads 1 --json "$WORK/bench_smoke/nll.json" | tail -6
python -c "import json,sys,math; r=json.load(open(sys.argv[1]))['results'][0]; assert r['n_images']==100 and math.isfinite(r['nll']) and r['nll'] < -r['elbo'] + 1, r; print('nll_mnist --quick: NLL', round(r['nll'], 2))" "$WORK/bench_smoke/nll.json"
T2=$(date +%s)
python bench/olivetti_sweeps.py desubpixel baseline flip --quick --json "$WORK/bench_smoke/sweeps.json" | grep '^{' | cut -c1-160
python bench/olivetti_sweeps.py as_introvae beta_neg_256_1760 --quick --json "$WORK/bench_smoke/sweeps.json" | grep '^{' | cut -c1-160
python -c "import json,sys,math; rs=[json.loads(l) for l in open(sys.argv[1])]; assert len(rs)==3 and all(math.isfinite(r['collapse_ratio']) for r in rs), rs; print('olivetti_sweeps --quick: 3 runs')" "$WORK/bench_smoke/sweeps.json"
echo "bench smoke: time_to_quality $(( T1 - T0 )) s, nll_mnist $(( T2 - T1 )) s, olivetti_sweeps $(( $(date +%s) - T2 )) s (budget: under a minute each on 2 cores)"
