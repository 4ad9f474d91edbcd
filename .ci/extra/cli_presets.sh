#!/usr/bin/env bash
# Presets and the reference workflows (issue 15): every preset builds its model and trains two steps on a few images
# (tests/test_presets.py), then the commands for what the references produced (sample from the prior and the
# aggregated posterior, latent-map, crop-similarity, reconstruct) run on a short trained run and write their files.
# usage: bash .ci/extra/cli_presets.sh WORKDIR   (venv active; WORKDIR is removed by the caller)
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-$(mktemp -d /tmp/vae_course_presets.XXXXXX)}/presets
mkdir -p "$WORK"
export OMP_NUM_THREADS=1
T0=$(date +%s)
python -m pytest tests/test_presets.py -q -p no:cacheprovider
vae_course presets > "$WORK/presets.txt"
for p in desubpixel-256 coco-64 as-introvae-256 bn-vae-254 faces-ae-64 faces-vae-64; do grep -q "^$p (reference" "$WORK/presets.txt"; done
vae_course presets as-introvae-256 > "$WORK/as.toml"
RUN="$WORK/run"
vae_course train --model conv_vae --limit 256 --epochs 2 --snapshot-every 1 --out "$RUN" --quiet
vae_course train --config "$WORK/as.toml" --dataset digits --image-size 32 --channels 1 --base-channels 4 --batch-size 32 --limit 64 --epochs 1 --out "$WORK/as" --quiet
python - "$WORK/as/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert (c['model'], c['latent_dim'], c['lr'], c['beta_neg_low'], c['beta_neg_high'], c['hparams']['beta_rec']) == ('as_introvae', 256, 2e-4, 4.0, 256.0, 0.5), c
PY
vae_course sample --checkpoint "$RUN" --n 16 --out "$WORK/prior.png"
vae_course sample --checkpoint "$RUN" --source aggregated --temperature 0.8 --n 16 --out "$WORK/agg.png" --per-image "$WORK/each"
vae_course latent-map --checkpoint "$RUN" --out "$WORK/map.png"
vae_course crop-similarity --checkpoint "$RUN" --n-images 16 --out "$WORK/crops.png"
vae_course reconstruct --checkpoint "$RUN" --n 4 --out "$WORK/prediction"
for f in "$RUN/snapshots/epoch0002_reconstructions.png" "$RUN/snapshots/epoch0002_samples.png" "$WORK/prior.png" "$WORK/agg.png" \
         "$WORK/each/sample_00015.png" "$WORK/map.png" "$WORK/crops.png" "$WORK/crops.json" "$WORK/prediction/reconstruction_00003.png"; do
  [ -s "$f" ] || { echo "missing: $f"; exit 1; }
done
echo "cli_presets: $(( $(date +%s) - T0 )) s"
