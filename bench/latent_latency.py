#!/usr/bin/env python
"""Per-update latency of `vae_course.widgets.LatentExplorer` (decode one code + encode the PNG) for every registered
model of the course, untrained (the latency does not depend on the weights), on the CPU.

    python bench/latent_latency.py [--updates 100] [--threads 0] [--models ae vae ...]

Prints a Markdown table: model, image shape, latent_dim, parameters, median / 90th percentile / max milliseconds per
update. The target is under 50 ms per update on a CPU for the chapter's models (28x28 MNIST-sized ones).
"""
from __future__ import annotations
import argparse, statistics, time
import numpy as np
import torch

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--updates', type=int, default=100, help='slider moves timed per model (default: 100)')
    p.add_argument('--threads', type=int, default=0, help='torch threads (default: 0 = leave as is)')
    p.add_argument('--models', nargs='*', default=None, help='model names (default: every registered model)')
    p.add_argument('--image-size', type=int, default=None, help="image side (default: each model's default, else 28 for grey / 64 for RGB)")
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    from vae_course.core import table
    from vae_course.registry import MODELS
    from vae_course.widgets import LatentExplorer
    rows = []
    for name in a.models or sorted(MODELS):
        spec = MODELS[name]
        size = a.image_size or spec.default_image_size or 28
        ch = 1 if size <= 32 else 3
        try:
            torch.manual_seed(0)
            model = spec.factory(channels=ch, image_size=size, latent_dim=spec.default_latent_dim, **spec.hparams).eval()
            data = torch.rand(64, ch, size, size) * (spec.value_range[1] - spec.value_range[0]) + spec.value_range[0]
            ex = LatentExplorer(model, data, n_sliders=8, n_rank=64, debounce=0)
            s = ex.sliders[0]
            ex.timings.clear()
            for v in np.linspace(s.min, s.max, a.updates): s.value = float(v); ex.flush()
            t = sorted(ex.timings)
            rows.append(dict(model=name, image=f'{ch}x{size}x{size}', latent_dim=model.latent_dim, params=model.n_params(),
                             median_ms=statistics.median(t), p90_ms=t[int(0.9 * (len(t) - 1))], max_ms=t[-1]))
        except Exception as e:
            rows.append(dict(model=name, image=f'{ch}x{size}x{size}', latent_dim='', params='', median_ms='', p90_ms='',
                             max_ms=f'skipped: {type(e).__name__}: {str(e).splitlines()[0][:60] if str(e) else ""}'))
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, {a.updates} updates per model')
    print(str(table(rows, digits=3).data))

if __name__ == '__main__': main()
