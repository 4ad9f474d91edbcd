"""Build the browser latent explorer of the latent map widgets chapter: the page, onnxruntime-web, and the exported models.

    python tools/build_explorer.py                 # -> nbs/explorer/ (what `nbdev_docs` copies beside the latent map widgets page)
    python tools/build_explorer.py --quick --out /tmp/explorer   # small, fast models (CI)

1. The page: `explorer/index.html`, `explorer.js`, `explorer.css` from the repository, and onnxruntime-web's
   WebAssembly build from the npm registry (`npm ci` in `explorer/`, the version pinned by `explorer/package-lock.json`),
   copied into `OUT/` and `OUT/vendor/`.
2. The models, from the course's own runs: the widgets chapters' recipe (the 16-d MLP VAE, 3 epochs on 20,000
   images, batch 128, lr 1e-3, seed 0) trained with `vae_course.cli.train` on MNIST and Fashion-MNIST into the course's
   cache folder (`VAE_COURSE_CACHE`, default ~/.cache/vae_course), keyed by the recipe, and reused on the next build
   (train-if-no-checkpoint); `--quick` trains 1 epoch on 2,000 images. Each is exported with `explorer_bundle`
   (`OUT/models/NAME/`: encoder.onnx, decoder.onnx, meta.json) and listed in `OUT/models/index.json`.
Nothing it writes is committed (.gitignore). Needs the onnx extra and npm.
"""
from __future__ import annotations
import argparse, hashlib, json, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT/'explorer'
PAGE_FILES = ('index.html', 'explorer.js', 'explorer.css')
VENDOR_FILES = ('ort.wasm.min.js', 'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs')   # the WebAssembly build only
MODELS = {'mnist': ('MNIST digits (16-d MLP VAE)', True), 'fashion_mnist': ('Fashion-MNIST clothes (16-d MLP VAE)', False)}

def log(*a): print('[build_explorer]', *a, flush=True)

def npm_dist() -> Path:
    "onnxruntime-web's dist folder, installed with `npm ci` (from the lock file) when missing."
    dist = SRC/'node_modules'/'onnxruntime-web'/'dist'
    if not (dist/VENDOR_FILES[0]).is_file():
        if shutil.which('npm') is None: sys.exit('build_explorer: npm is missing: install Node.js (apt-get install npm)')
        log('npm ci (onnxruntime-web, pinned by explorer/package-lock.json)')
        subprocess.run(['npm', 'ci', '--no-audit', '--no-fund', '--ignore-scripts'], cwd=SRC, check=True)
    return dist

def copy_page(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    for f in PAGE_FILES: shutil.copy2(SRC/f, out/f)
    (out/'vendor').mkdir(exist_ok=True)
    dist = npm_dist()
    for f in VENDOR_FILES: shutil.copy2(dist/f, out/'vendor'/f)
    version = json.loads((dist.parent/'package.json').read_text())['version']
    log(f'page and onnxruntime-web {version} -> {out}')

def trained_vae(dataset: str, quick: bool):
    "The widgets chapters' 16-d MLP VAE on `dataset`: loaded from the course's cache when this recipe was trained before, else trained there."
    from vae_course.cli import train
    from vae_course.data import cache_root
    from vae_course.registry import load_model
    recipe = dict(model='vae', dataset=dataset, epochs=1 if quick else 3, limit=2000 if quick else 20000, batch_size=128,
                  lr=1e-3, latent_dim=16, seed=0)
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    run = cache_root()/'explorer'/f"vae16-{dataset}-{key}"
    if (run/'checkpoints'/'last.pt').is_file(): log(f'{dataset}: the trained model from the cache ({run})')
    else:
        log(f'{dataset}: training {recipe} into {run}')
        t0 = time.perf_counter()
        train(out=run, progress=False, overwrite=run.exists(), **recipe)
        log(f'{dataset}: trained in {time.perf_counter() - t0:.0f} s')
    return load_model(run), recipe

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default=str(ROOT/'nbs'/'explorer'), help='the site folder (default: nbs/explorer)')
    p.add_argument('--quick', action='store_true', help='1 epoch on 2,000 images per model (CI)')
    p.add_argument('--datasets', nargs='+', default=list(MODELS), choices=list(MODELS), help='which models (default: all)')
    a = p.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from vae_course.data import get_dataloaders
    from vae_course.widget_maps import explorer_bundle, write_explorer_index
    out = Path(a.out).resolve()
    copy_page(out)
    metas = []
    for ds in a.datasets:
        title, draw = MODELS[ds]
        model, recipe = trained_vae(ds, a.quick)
        valid = get_dataloaders(ds, batch_size=256).valid_ds
        meta = explorer_bundle(model, valid, out/'models', ds, title, draw=draw)
        metas.append(meta)
        size = sum(f.stat().st_size for f in (out/'models'/ds).iterdir()) / 2**20
        log(f"{ds}: {out/'models'/ds} ({size:.1f} MB); onnxruntime vs PyTorch: encoder {meta['onnx_max_diff']['encoder']:.1e}, "
            f"decoder {meta['onnx_max_diff']['decoder']:.1e}")
    write_explorer_index(out/'models', metas)
    log(f'done: open {out}/index.html through a web server, e.g. python -m http.server -d {out.parent} 8000')
    return 0

if __name__ == '__main__': sys.exit(main())
