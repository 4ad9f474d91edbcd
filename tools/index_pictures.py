"""Take one picture per chapter for the index page (and README): a chosen image output of each chapter notebook,
saved with its real-run outputs, written to nbs/images/CHAPTER.png as a thumbnail.

Usage: python tools/index_pictures.py            # every chapter listed in PICKS
`PICKS` names which image output of each chapter to use (by position); a chapter not in it gives its first."""
import base64, io, json, sys
from pathlib import Path
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NBS, OUT = ROOT/'nbs', ROOT/'nbs'/'images'
MAX_W, MAX_H = 720, 300
# Which image output of each chapter (0 = the notebook's first image output) shows the chapter best.
PICKS = {'00_core': 0, '01_data': 2, '01a_model': 1, '02_learner': 1, '02a_runs': 0, '02b_registry': 1, '03_autoencoder': 5,
         '04_vae': 4, '04b_vae_tradeoffs': 4, '04c_vae_photos': 3, '05_vae_evaluation': 1, '05a_quality_metrics': 2,
         '06_perceptual_loss': 2, '06b_perceptual_experiments': 1, '07_desubpixel_resnet': 0, '07b_desubpixel_vs_strided': 2, '08_introvae': 0, '08a_introvae_toys': 1, '08b_introvae_images': 2, '08c_as_introvae_faces': 3,
         '09_latent_exploration': 2, '09b_latent_maps': 3, '94_latent_widgets': 2, '94b_latent_map_widgets': 1, '90_cli': 1, '91_reliability': 0, '91b_sharing': 0, '92_presets': 0,
         '93_image_files': 0}

def images(cells):
    "Every image output of `cells`, in order, as bytes."
    for c in cells:
        for o in c.get('outputs', []):
            data = o.get('data', {})
            for mime in ('image/png', 'image/gif'):
                if mime in data: yield base64.b64decode(''.join(data[mime]) if isinstance(data[mime], list) else data[mime])

def pick_image(nb_path: Path):
    "The image output named in `PICKS` (default: the notebook's first), or None when the notebook has none."
    cells = [c for c in json.loads(nb_path.read_text())['cells'] if c['cell_type'] == 'code']
    ims = list(images(cells))
    k = PICKS.get(nb_path.stem, 0)
    return ims[k] if k < len(ims) else (ims[0] if ims else None)

def main(names=None):
    OUT.mkdir(exist_ok=True)
    nbs = sorted(p for p in NBS.glob('[0-9]*.ipynb') if not names or p.stem in names)
    for nb in nbs:
        raw = pick_image(nb)
        if raw is None: print(f'{nb.name}: no image output'); continue
        im = Image.open(io.BytesIO(raw)); im.seek(0); im = im.convert('RGB')
        im.thumbnail((MAX_W, MAX_H))
        dst = OUT/f'{nb.stem}.png'; im.save(dst, optimize=True)
        print(f'{nb.name} -> {dst.relative_to(ROOT)} {im.size}')

if __name__ == '__main__': main(sys.argv[1:])
