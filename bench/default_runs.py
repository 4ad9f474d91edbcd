#!/usr/bin/env python
"""Does `vae_course train --model M` with no other flag give a working model? For every registered model, on its
embedded default data set and on a folder of about 100 images: train with the model's default budget (steps and
batch size from the registry), then measure the **collapse ratio** of the validation reconstructions, the mean
between-image variance of the reconstructions over that of the inputs (1: as varied as the inputs; about 0: every
input decoded to the same image), and the CPU time. Writes each run's reconstructions.png into --out.

    python bench/default_runs.py --out /tmp/default_runs            # every model, both data sets
    python bench/default_runs.py --models ae conv_vae --steps 600    # other budgets, for choosing the defaults
"""
from __future__ import annotations
import argparse, json, os, sys, time, shutil, tempfile
from pathlib import Path

def collapse_ratio(model, dls, n: int = 256) -> float:
    "The collapse ratio of chapter 05a (`vae_course.quality.collapse_ratio`) on the first `n` validation images."
    import torch
    from vae_course.model import batch_images, eval_mode
    from vae_course.quality import collapse_ratio as ratio
    xs = torch.cat([batch_images(b) for b in dls.valid])[:n]
    with eval_mode(model), torch.no_grad(): r = model.reconstruct(xs)
    return ratio(r, xs)

def photo_folder(root: Path, n: int = 100) -> Path:
    "A folder of `n` JPEG photos: random crops of scikit-image's and scikit-learn's sample photos, 96 to 256 px, in 4 sub-folders."
    import numpy as np, skimage.data
    from PIL import Image
    from sklearn.datasets import load_sample_images
    photos = [getattr(skimage.data, k)() for k in ('astronaut', 'coffee', 'chelsea', 'rocket')] + list(load_sample_images().images)
    rng = np.random.default_rng(0)
    for i in range(n):
        p = photos[i % len(photos)]; p = np.stack([p] * 3, -1) if p.ndim == 2 else p[..., :3]
        s = int(rng.integers(96, min(257, min(p.shape[:2]))))
        y, x = rng.integers(0, p.shape[0] - s + 1), rng.integers(0, p.shape[1] - s + 1)
        d = root/f'set{i % 4}'; d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(p[y:y+s, x:x+s])).save(d/f'{i:03d}.jpg', quality=90)
    return root

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='default_runs', help='where to keep each run (reconstructions.png, samples.png, metrics)')
    p.add_argument('--models', nargs='*', default=None, help='default: every registered model')
    p.add_argument('--data', nargs='*', default=['default', 'folder'], help="'default' (the model's embedded set) and/or 'folder' (100 photos)")
    p.add_argument('--steps', type=int, default=None, help="default: each model's default_steps")
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args(argv)
    import torch
    torch.set_num_threads(a.threads)
    from vae_course.cli import train
    from vae_course.registry import MODELS
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    folder = photo_folder(Path(tempfile.mkdtemp())/'photos')
    rows = []
    for name in a.models or sorted(MODELS):
        for data in a.data:
            ds = None if data == 'default' else f'folder:{folder}'
            run = out/f"{name}-{data}"
            if run.exists(): shutil.rmtree(run)
            t0, c0 = time.perf_counter(), time.process_time()
            learn = train(name, ds, steps=a.steps, out=run, progress=False, device='cpu')
            row = dict(model=name, data=learn.config['dataset'].split('/')[-1] if data == 'default' else '100 photos',
                       steps=learn.step, batch=learn.config['batch_size'], wall_s=round(time.perf_counter() - t0, 1),
                       cpu_s=round(time.process_time() - c0, 1), collapse_ratio=round(collapse_ratio(learn.raw_model.cpu(), learn.dls), 3),
                       valid_loss=round(learn.history[-1]['valid_loss'], 4))
            rows.append(row); print(json.dumps(row), flush=True)
    print('\n| model | data | steps | batch | CPU s | wall s | collapse ratio | valid loss |\n|---|---|---:|---:|---:|---:|---:|---:|')
    for r in rows: print(f"| {r['model']} | {r['data']} | {r['steps']} | {r['batch']} | {r['cpu_s']} | {r['wall_s']} | {r['collapse_ratio']} | {r['valid_loss']} |")
    (out/'default_runs.json').write_text(json.dumps(rows, indent=1))
    return 0

if __name__ == '__main__': sys.exit(main())
