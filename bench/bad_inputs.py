#!/usr/bin/env python
"""Bad inputs, end to end (issue 8).

Builds a folder of every bad-input case users have (zero-byte, truncated JPEG/PNG, random bytes, HTML saved as .png,
CMYK JPEG, 16-bit PNG, palette PNG with transparency, EXIF-rotated photo, huge images, a decompression bomb, tiny
images, upper-case extensions, WebP/TIFF/BMP/GIF, nested folders, a directory named x.png, symlink loops, a named
pipe, JSON and text sidecars), checks what the loader does with each, trains one epoch on the folder with
`vae_course train --dataset folder:...`, then runs every bad command-line argument (each must print one line and
exit with code 2) and an unwritable and a full `--out`. Prints how many cases it tried, how many were handled as
documented and how long it took; exits with 1 when any case was not handled as documented.

usage: python bench/bad_inputs.py [--workdir DIR] [--keep] [--verbose]
"""
from __future__ import annotations
import argparse, contextlib, io, json, math, os, resource, shutil, signal, subprocess, sys, tempfile, time, warnings, zlib
from pathlib import Path

T0 = time.perf_counter()
os.environ.setdefault('OMP_NUM_THREADS', '1')      # one thread: many tiny runs, and a shared CI machine
os.environ.setdefault('MPLBACKEND', 'Agg')
import numpy as np
import torch
from PIL import Image, ImageCms
from vae_course.imagefiles import scan_image_folder, load_image, UnreadableImageError
from vae_course.data import ImageFolderDataset
from vae_course.learner import load_checkpoint
from vae_course.cli import main as cli_main, get_parser, COMMANDS
from vae_course.registry import MODELS

RESULTS: list[dict] = []   # one row per case: group, case, ok, detail


def record(group: str, case: str, ok: bool, detail: str = ''):
    RESULTS.append(dict(group=group, case=case, ok=bool(ok), detail=detail))


# ---------------------------------------------------------------------------------------------------------------
# 1. A folder of every case
# ---------------------------------------------------------------------------------------------------------------
def _png_chunk(t: bytes, b: bytes) -> bytes:
    return len(b).to_bytes(4, 'big') + t + b + zlib.crc32(t + b).to_bytes(4, 'big')


def build_folder(d: Path) -> dict:
    """Write the cases under `d`; returns {relative path: expectation}: ('load', check) or ('skip', reason_substring).
    `check(x)` gets the loaded (3, 32, 32) tensor in [0, 1] and returns an error message or ''."""
    cases = {}
    photos, docs = d/'photos', d/'docs'
    for sub in (photos, docs, photos/'nested'/'deeper'/'deepest', photos/'frames.png'): sub.mkdir(parents=True, exist_ok=True)

    def colour(rgb, eps=0.06):
        return lambda x: '' if (x[:, 16, 16] - torch.tensor(rgb)).abs().max() <= eps else f'centre pixel {x[:, 16, 16].tolist()}, expected {rgb}'
    ok = lambda x: ''

    # broken files
    (photos/'empty.jpg').write_bytes(b''); cases['photos/empty.jpg'] = ('skip', 'empty file')
    buf = io.BytesIO(); Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(buf, 'JPEG', quality=90)
    (photos/'truncated.jpg').write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2]); cases['photos/truncated.jpg'] = ('skip', 'truncated')
    buf = io.BytesIO(); Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, 'PNG')
    (photos/'truncated.png').write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2]); cases['photos/truncated.png'] = ('skip', 'truncated')
    (photos/'truncated_header.png').write_bytes(buf.getvalue()[:20]); cases['photos/truncated_header.png'] = ('skip', '')
    (photos/'random.jpg').write_bytes(np.random.default_rng(2).bytes(5000)); cases['photos/random.jpg'] = ('skip', 'not an image')
    (photos/'random.webp').write_bytes(b'RIFF\x00\x10\x00\x00WEBPVP8 ' + np.random.default_rng(3).bytes(500)); cases['photos/random.webp'] = ('skip', '')
    (photos/'page.png').write_text('<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n')
    cases['photos/page.png'] = ('skip', 'HTML')
    (photos/'bomb.png').write_bytes(b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', (20000).to_bytes(4, 'big') * 2 + bytes([8, 0, 0, 0, 0]))
                                    + _png_chunk(b'IDAT', zlib.compress(b'\0' * 64)) + _png_chunk(b'IEND', b''))
    cases['photos/bomb.png'] = ('skip', 'decompression-bomb')                          # 400 megapixels claimed
    (photos/'IMG_0001.HEIC').write_bytes(b'\0\0\0\x18ftypheic\0\0\0\0mif1heic' + np.random.default_rng(4).bytes(300))
    cases['photos/IMG_0001.HEIC'] = ('skip', 'not an image')
    # odd but valid files
    Image.new('CMYK', (40, 40), (0, 255, 255, 0)).save(photos/'cmyk.jpg', quality=95); cases['photos/cmyk.jpg'] = ('load', colour([1, 0, 0]))
    Image.fromarray(np.full((40, 40), 128 * 257, np.uint16)).save(photos/'sixteen_bit.png')
    cases['photos/sixteen_bit.png'] = ('load', colour([128 / 255] * 3, 1e-5))                  # scaled, not clipped to white
    p = Image.new('P', (40, 40), 1); p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    p.save(photos/'palette_transparent.png', transparency=1); cases['photos/palette_transparent.png'] = ('load', colour([1, 1, 1], 1e-5))
    a = np.zeros((40, 80, 3), np.uint8); a[:, :40] = (255, 0, 0); a[:, 40:] = (0, 0, 255)       # stored sideways: left red, right blue
    ex = Image.Exif(); ex[0x0112] = 6                                                          # orientation 6: rotate 90 clockwise
    Image.fromarray(a).save(photos/'exif_rotated.jpg', exif=ex, quality=95)
    def upright(x):   # after rotation the picture is portrait: red on top, blue below; the centre crop shows both halves
        top, bottom = x[:, 4, 16], x[:, 27, 16]
        return '' if top[0] > 0.8 and top[2] < 0.2 and bottom[2] > 0.8 and bottom[0] < 0.2 else f'not upright: top {top.tolist()}, bottom {bottom.tolist()}'
    cases['photos/exif_rotated.jpg'] = ('load', upright)
    Image.new('L', (12000, 8000), 200).save(photos/'huge_96mp.jpg', quality=80)                 # above MAX_IMAGE_PIXELS: warns, loads
    cases['photos/huge_96mp.jpg'] = ('load', colour([200 / 255] * 3, 0.02))
    Image.new('RGB', (6000, 4000), (0, 128, 0)).save(photos/'huge_24mp.png', compress_level=1)
    cases['photos/huge_24mp.png'] = ('load', colour([0, 128 / 255, 0], 0.01))
    Image.new('RGB', (1, 1), (0, 0, 255)).save(photos/'one_pixel.png'); cases['photos/one_pixel.png'] = ('load', colour([0, 0, 1], 1e-5))
    Image.new('RGB', (5, 3), (255, 0, 0)).save(photos/'tiny.png'); cases['photos/tiny.png'] = ('load', colour([1, 0, 0], 1e-5))
    Image.new('L', (1, 3000), 50).save(photos/'strip.png'); cases['photos/strip.png'] = ('load', colour([50 / 255] * 3, 1e-5))
    Image.new('RGB', (40, 40), (255, 0, 0)).save(photos/'UPPER.PNG'); cases['photos/UPPER.PNG'] = ('load', colour([1, 0, 0], 1e-5))
    Image.new('RGB', (40, 40), (0, 255, 0)).save(photos/'UPPER.JPEG', quality=95); cases['photos/UPPER.JPEG'] = ('load', colour([0, 1, 0]))
    Image.new('RGB', (40, 40), (255, 0, 0)).save(photos/'photo.webp'); cases['photos/photo.webp'] = ('load', colour([1, 0, 0]))
    Image.new('RGBA', (40, 40), (0, 0, 255, 0)).save(photos/'transparent.webp', lossless=True); cases['photos/transparent.webp'] = ('load', colour([1, 1, 1], 1e-5))
    Image.new('RGB', (40, 40), (0, 0, 255)).save(photos/'photo.tif'); cases['photos/photo.tif'] = ('load', colour([0, 0, 1], 1e-5))
    Image.new('RGB', (40, 40), (0, 0, 255)).save(photos/'photo.tiff', compression='tiff_lzw'); cases['photos/photo.tiff'] = ('load', colour([0, 0, 1], 1e-5))
    Image.fromarray(np.full((40, 40), 65535, np.uint16)).save(photos/'sixteen_bit.tif'); cases['photos/sixteen_bit.tif'] = ('load', colour([1, 1, 1], 1e-5))
    ImageCms.applyTransform(Image.new('RGB', (40, 40), (255, 0, 0)), ImageCms.buildTransform(
        ImageCms.createProfile('sRGB'), ImageCms.createProfile('LAB'), 'RGB', 'LAB')).save(photos/'cielab.tif')
    cases['photos/cielab.tif'] = ('load', colour([1, 0, 0], 0.05))
    Image.new('RGB', (40, 40), (255, 0, 0)).save(photos/'photo.bmp'); cases['photos/photo.bmp'] = ('load', colour([1, 0, 0], 1e-5))
    Image.new('RGB', (40, 40), (255, 0, 0)).save(photos/'photo.gif'); cases['photos/photo.gif'] = ('load', colour([1, 0, 0], 1e-5))
    Image.new('L', (40, 40), 255).save(photos/'nested'/'deeper'/'deepest'/'deep.png'); cases['photos/nested/deeper/deepest/deep.png'] = ('load', colour([1, 1, 1], 1e-5))
    Image.new('L', (40, 40), 0).save(photos/'frames.png'/'inside_dir_named_png.png'); cases['photos/frames.png/inside_dir_named_png.png'] = ('load', colour([0, 0, 0], 1e-5))
    # links, pipes, sidecars
    os.symlink(photos, photos/'nested'/'loop_to_photos')                                    # a directory symlink loop
    os.symlink(photos/'link_b.png', photos/'link_a.png'); os.symlink(photos/'link_a.png', photos/'link_b.png')   # a file symlink loop
    cases['photos/link_a.png'] = ('skip', 'symbolic links'); cases['photos/link_b.png'] = ('skip', 'symbolic links')
    os.symlink(photos/'gone.png', photos/'dangling.png'); cases['photos/dangling.png'] = ('skip', 'No such file')
    if hasattr(os, 'mkfifo'): os.mkfifo(photos/'pipe.png'); cases['photos/pipe.png'] = ('skip', 'not a regular file')
    (photos/'cmyk.json').write_text(json.dumps(dict(caption='a red square'))); (photos/'notes.txt').write_text('holiday 2019\n')
    (docs/'meta.json').write_text('{}'); (photos/'.DS_Store').write_bytes(b'\0\1\2'); (photos/'._cmyk.jpg').write_bytes(b'\0' * 100)
    Image.new('RGB', (8, 8)).save(photos/'vanishes.png'); cases['photos/vanishes.png'] = ('skip', 'No such file')   # deleted after the scan
    return cases


def check_folder(d: Path, cases: dict):
    "The loader's verdict on each case; then one pass over the data set, as an epoch does."
    skipped = []
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        files, labels, classes = scan_image_folder(d, skipped=skipped)
    scan_msgs = ' '.join(str(x.message) for x in w if 'skipped' in str(x.message))
    record('folder', "Pillow's decompression-bomb limit is kept", Image.MAX_IMAGE_PIXELS == int(1024 * 1024 * 1024 // 4 // 3),
           f'Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS:,}')
    rel = {f.relative_to(d).as_posix(): i for i, f in enumerate(files)}
    why = {p.relative_to(d).as_posix(): r for p, r in skipped}
    sidecars = [f for f in rel if f.endswith(('.json', '.txt')) or Path(f).name.startswith('.')]
    record('folder', 'JSON and text sidecars, hidden files: ignored silently', not sidecars and not any(s in scan_msgs for s in ('.json', '.txt', 'DS_Store')),
           f'{len(sidecars)} sidecars taken as images')
    record('folder', 'symlink loop between folders: each folder walked once', sum('loop_to_photos' in f for f in rel) == 0 and len(rel) == len(set(rel)),
           f'{len(rel)} files found')
    (d/'photos'/'vanishes.png').unlink()
    ds = ImageFolderDataset(d, files, labels, classes, image_size=32, channels=3)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        try:
            xs, ys = zip(*[ds[i] for i in range(len(ds))])
            epoch_ok = True
        except Exception as e:
            epoch_ok, err = False, f'{type(e).__name__}: {e}'
    lazy_msgs = ' '.join(str(x.message) for x in w)
    record('folder', 'one pass over the data set never raises', epoch_ok, f'{len(ds)} items in {time.perf_counter() - t0:.2f} s' if epoch_ok else err)
    for case, (expect, what) in cases.items():
        name = Path(case).name
        if expect == 'skip':
            if case in why: handled, how = what in why[case] and name in scan_msgs, f'skipped at scan: {why[case]}'
            elif case in ds.skipped: handled, how = what in ds.skipped[case] and name in lazy_msgs, f'skipped while loading: {ds.skipped[case]}'
            else: handled, how = False, 'not skipped'
            if not (name in scan_msgs or name in lazy_msgs): how += '; NOT named in a warning'
            record('image', f'{case}: skipped and named', handled, how)
        else:
            if case not in rel: record('image', f'{case}: loads', False, f'not found by the scan ({why.get(case, "?")})'); continue
            if not epoch_ok: record('image', f'{case}: loads', False, 'the pass failed'); continue
            j = rel[case]
            if case in ds.skipped: record('image', f'{case}: loads', False, f'skipped: {ds.skipped[case]}'); continue
            x = xs[j]
            bad = '' if x.shape == (3, 32, 32) and torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1 else f'shape {tuple(x.shape)}, range [{x.min():.3g}, {x.max():.3g}]'
            bad = bad or what(x)
            record('image', f'{case}: loads', not bad, bad or 'correct pixels')
    deep = rel.get('photos/nested/deeper/deepest/deep.png')
    record('folder', 'nested folders: label from the top-level sub-folder', deep is not None and classes is not None and classes[labels[deep]] == 'photos',
           f'classes {classes}')
    return len(files), len(skipped) + len(ds.skipped)


# ---------------------------------------------------------------------------------------------------------------
# 2. The command line
# ---------------------------------------------------------------------------------------------------------------
def run_inprocess(args: list[str]) -> tuple[int, str]:
    "`vae_course ARGS` in this process (the same `main` as the console script): (exit code, stderr)."
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try: code = cli_main(list(args))
        except SystemExit as e: code = e.code if isinstance(e.code, int) else 2
        except BaseException as e:   # an exception that escapes main: what a user sees as a traceback
            import traceback; err.write(traceback.format_exc()); code = 1
    return code, err.getvalue()


def expect_usage_error(label: str, args: list[str], code: int, err: str, codes=(2,)):
    lines = [l for l in err.strip().splitlines() if l.strip()]
    ok = code in codes and len(lines) == 1 and 'Traceback' not in err
    record('cli', label, ok, (lines[0][:150] if len(lines) == 1 else f'{len(lines)} lines: ' + ' | '.join(lines[-2:])[:200]) + f' [exit {code}]')


class Payload:
    "Unpickling this calls `Path.touch(marker)`: stands for arbitrary code in a checkpoint."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.touch, (Path(self.marker),))


BASE = ['--epochs', '1', '--limit', '64', '--batch-size', '32', '--quiet', '--device', 'cpu']


def good_run(w: Path) -> Path:
    "A finished one-epoch `ae` run to resume from and to export."
    good = w/'cli'/'good_ae'
    code, err = run_inprocess(['train', '--model', 'ae', '--hidden', '32', *BASE, '--out', str(good)])
    assert code == 0, err
    return good


def cli_cases(w: Path, good: Path):
    base = BASE
    out = lambda name: ['--out', str(w/'cli'/name)]
    afile = w/'a_file.txt'; afile.write_text('x')
    # a corrupt and an evil checkpoint
    corrupt, evil, marker = w/'cli'/'corrupt', w/'cli'/'evil', w/'pwned'
    for d in (corrupt, evil):
        shutil.copytree(good, d)
    (corrupt/'checkpoints'/'last.pt').write_bytes((good/'checkpoints'/'last.pt').read_bytes()[:1000])
    ck = load_checkpoint(good/'checkpoints'/'last.pt'); ck['config'] = json.dumps(ck['config']); ck['x'] = Payload(marker)
    torch.save(ck, evil/'checkpoints'/'last.pt')
    hp = sorted({k for s in MODELS.values() for k in s.hparams})
    foreign = next((k for k in hp if k not in MODELS['ae'].hparams), None)
    train_cases = [
        ('unknown model', ['--model', 'nope']), ('unknown data set', ['--dataset', 'nope']),
        ('folder: without a path', ['--dataset', 'folder:']), ('folder that does not exist', ['--dataset', 'folder:/no/such/folder']),
        ('folder: names a file', ['--dataset', f'folder:{afile}']),
        ('--epochs 0', ['--epochs', '0']), ('--epochs -3', ['--epochs', '-3']), ('--epochs abc', ['--epochs', 'abc']), ('--epochs 1.5', ['--epochs', '1.5']),
        ('--batch-size 0', ['--batch-size', '0']), ('--lr abc', ['--lr', 'abc']), ('--lr 0', ['--lr', '0']), ('--lr -1', ['--lr', '-1']),
        ('--lr nan', ['--lr', 'nan']), ('--lr inf', ['--lr', 'inf']), ('--lr-schedule nope', ['--lr-schedule', 'nope']),
        ('--latent-dim 0', ['--latent-dim', '0']), ('--image-size 0', ['--image-size', '0']), ('--image-size abc', ['--image-size', 'abc']),
        ('--channels 2', ['--channels', '2']), ('--seed abc', ['--seed', 'abc']), ('--seed 2**70', ['--seed', str(2**70)]),
        ('--device tpu', ['--device', 'tpu']), ('--device cuda:99', ['--device', 'cuda:99']), ('--mixed-precision fp8', ['--mixed-precision', 'fp8']),
        ('--max-grad-norm abc', ['--max-grad-norm', 'abc']), ('--max-grad-norm -1', ['--max-grad-norm', '-1']),
        ('--max-grad-norm 0', ['--max-grad-norm', '0']), ('--max-grad-norm nan', ['--max-grad-norm', 'nan']),
        ('--limit 0', ['--limit', '0']), ('--num-workers -1', ['--num-workers', '-1']), ('--num-workers abc', ['--num-workers', 'abc']),
        ('unknown option --frobnicate', ['--frobnicate']), ('option without its value: --model', ['--model']),
        ('--hidden abc (bad hyperparameter type)', ['--hidden', 'abc']), ('--hidden -5', ['--hidden', '-5']),
        ('--loss nope (a value the model refuses)', ['--loss', 'nope']),
        ('conv_ae with --image-size 10 (not divisible by 4)', ['--model', 'conv_ae', '--image-size', '10']),
        ('--resume with no checkpoint in --out', ['--resume']),
    ]
    if foreign: train_cases.append((f'--{foreign.replace("_", "-")} does not apply to ae', [f'--{foreign.replace("_", "-")}', str(MODELS[next(n for n, s in MODELS.items() if foreign in s.hparams)].hparams[foreign])]))
    for i, (label, args) in enumerate(train_cases):
        code, err = run_inprocess(['train', *base, *out(f'bad{i}'), *args])
        expect_usage_error(f'train {label}', args, code, err)
    resume_cases = [('--resume a run of another model', ['--model', 'conv_ae'], good, (2,)),
                    ('--resume with another --latent-dim', ['--model', 'ae', '--hidden', '32', '--latent-dim', '4'], good, (2,)),
                    ('--resume from a truncated last.pt', ['--model', 'ae', '--hidden', '32'], corrupt, (1, 2)),
                    ('--resume from a checkpoint carrying a pickled payload', ['--model', 'ae', '--hidden', '32'], evil, (1, 2))]
    for label, args, d, codes in resume_cases:
        code, err = run_inprocess(['train', *base, *args, '--epochs', '2', '--out', str(d), '--resume'])
        expect_usage_error(f'train {label}', args, code, err, codes)
    record('cli', 'the pickled payload never ran', not marker.exists(), str(marker))
    out_cases = [('--out under /proc (not writable)', '/proc/vae_course_out'), ('--out below a file', str(afile/'run')),
                 ('--out is a file', str(afile))]
    for label, o in out_cases:
        code, err = run_inprocess(['train', *base, '--out', o])
        expect_usage_error(f'train {label}', [], code, err)
    export_cases = [('no arguments', []), ('no --out', ['--checkpoint', str(good)]),
                    ('--checkpoint that does not exist', ['--checkpoint', str(w/'none.pt'), '--out', str(w/'m.safetensors')]),
                    ('--out not .safetensors', ['--checkpoint', str(good), '--out', str(w/'m.pt')]),
                    ('--out under /proc', ['--checkpoint', str(good), '--out', '/proc/x/m.safetensors']),
                    ('--checkpoint truncated', ['--checkpoint', str(corrupt), '--out', str(w/'c.safetensors')]),
                    ('--checkpoint with a pickled payload', ['--checkpoint', str(evil), '--out', str(w/'e.safetensors')])]
    if 'export' in COMMANDS:
        for label, args in export_cases:
            code, err = run_inprocess(['export', *args])
            expect_usage_error(f'export {label}', args, code, err)
    code, err = run_inprocess(['frobnicate'])
    expect_usage_error('unknown command', [], code, err)
    for name in COMMANDS:
        code, err = run_inprocess([name, '--frobnicate'])
        expect_usage_error(f'{name} --frobnicate', [], code, err)
    # --help documents every option of every command
    parser = get_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        opts = [a for a in p._actions if a.option_strings and a.dest != 'help']
        undocumented = [a.option_strings[-1] for a in opts if not a.help or a.help == argparse.SUPPRESS]
        text = p.format_help()
        missing = [a.option_strings[-1] for a in opts if a.option_strings[-1] not in text]
        record('cli', f'{name} --help documents its {len(opts)} options', not undocumented and not missing,
               f'undocumented: {undocumented + missing}' if undocumented or missing else '')


# ---------------------------------------------------------------------------------------------------------------
# 3. Subprocesses: the real command on the folder, a full --out
# ---------------------------------------------------------------------------------------------------------------
CLI = [sys.executable, '-m', 'vae_course.cli']


def mount_tmpfs(path: Path, size_kb: int) -> bool:
    "Mount a tmpfs of `size_kb` KB at `path` (needs root and CAP_SYS_ADMIN); False when not possible."
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which('mount'): return False
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size_kb}k', 'tmpfs', str(path)], capture_output=True)
    return r.returncode == 0


def umount(path: Path):
    subprocess.run(['umount', '-l', str(path)], capture_output=True)


def fill(path: Path, leave: int = 0):
    "Fill the file system of `path` until about `leave` bytes are free (0: until a write of one byte fails)."
    with open(path/'filler', 'wb', buffering=0) as f:
        for size in (65536, 4096, 1):
            try:
                while shutil.disk_usage(path).free >= leave + size: f.write(b'\0' * size)
            except OSError: pass


def start(args: list[str], fsize: int | None = None) -> subprocess.Popen:
    def limit():   # a per-file size limit: writes beyond it fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit if fsize else None, env=dict(os.environ, PYTHONWARNINGS='default'))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--workdir', default=None, help='where to build the cases (default: a temporary folder, removed at the end)')
    ap.add_argument('--keep', action='store_true', help='keep the work folder')
    ap.add_argument('--verbose', action='store_true', help='print every case, not only the failures')
    ap.add_argument('--no-mount', action='store_true', help='simulate a full --out with RLIMIT_FSIZE even where a tmpfs could be mounted')
    args = ap.parse_args()
    w = Path(args.workdir or tempfile.mkdtemp(prefix='bad_inputs_')).resolve()
    w.mkdir(parents=True, exist_ok=True)
    mounts = []
    try:
        folder = w/'folder'
        if folder.exists(): shutil.rmtree(folder)
        t = time.perf_counter(); cases = build_folder(folder); t_build = time.perf_counter() - t
        good = good_run(w)
        # real `vae_course` processes, in the background while the loader and the arguments are checked in this process
        procs = {}
        procs['train'] = start(['train', '--model', 'ae', '--hidden', '32', '--dataset', f'folder:{folder}', '--image-size', '16',
                                '--epochs', '1', '--batch-size', '8', '--device', 'cpu', '--quiet', '--out', str(w/'run_folder')])
        # a full --out: a tiny tmpfs when this machine allows mounting one, else a per-file size limit (RLIMIT_FSIZE)
        full, nearly = w/'full_fs', w/'nearly_full_fs'
        for p in (full, nearly):
            if p.exists(): umount(p); shutil.rmtree(p, ignore_errors=True)
        if not args.no_mount and mount_tmpfs(full, 256) and mount_tmpfs(nearly, 1024):
            mounts += [full, nearly]
            fill(full, 0); fill(nearly, 200 * 1024)
            how = 'tmpfs'
            procs['full'] = start(['train', '--model', 'ae', '--epochs', '1', '--limit', '64', '--quiet', '--out', str(full/'run')])
            procs['nearly'] = start(['train', '--model', 'ae', '--epochs', '1', '--limit', '64', '--quiet', '--out', str(nearly/'run')])
        else:
            how = 'RLIMIT_FSIZE'
            procs['full'] = start(['train', '--model', 'ae', '--epochs', '1', '--limit', '64', '--quiet', '--out', str(full/'run')], fsize=1024)
            procs['nearly'] = start(['train', '--model', 'ae', '--epochs', '1', '--limit', '64', '--quiet', '--out', str(nearly/'run')], fsize=200 * 1024)
        if 'export' in COMMANDS:
            procs['export'] = start(['export', '--checkpoint', str(good), '--out', str(w/'exported'/'model.safetensors')])
        t = time.perf_counter(); n_ok, n_skipped = check_folder(folder, cases); t_folder = time.perf_counter() - t
        t = time.perf_counter(); cli_cases(w, good); t_cli = time.perf_counter() - t
        res = {k: (p.communicate(timeout=300), p.returncode) for k, p in procs.items()}
        (o, e), rc = res['train']
        metrics = w/'run_folder'/'metrics.csv'
        loss = float(metrics.read_text().splitlines()[1].split(',')[1]) if metrics.is_file() else math.nan
        named = [c for c, (x, _) in cases.items() if x == 'skip' and c != 'photos/vanishes.png' and Path(c).name not in e]
        record('train', 'vae_course train --dataset folder:... runs one epoch on the messy folder', rc == 0 and math.isfinite(loss),
               f'exit {rc}, train loss {loss:.4g}' + ('' if rc == 0 else f": {e.strip().splitlines()[-1] if e.strip() else ''}"))
        record('train', 'its warnings name every skipped file', not named, f'not named: {named}' if named else '')
        if 'export' in res:
            (o, e), rc = res['export']
            record('cli', 'a real `vae_course export` process writes a .safetensors file', rc == 0 and (w/'exported'/'model.safetensors').is_file(),
                   o.strip()[:150] if rc == 0 else e.strip()[-200:])
        for k, label in (('full', f'--out on a full file system ({how})'), ('nearly', f'--out with less free space than a checkpoint needs ({how})')):
            (o, e), rc = res[k]
            lines = [l for l in e.strip().splitlines() if l.strip()]
            started = (w/f'{k}_fs'/'run'/'metrics.csv').exists() or any('epoch 0' in l for l in o.splitlines())
            ok = rc == 2 and len(lines) == 1 and 'Traceback' not in e and '--out' in e and not started
            detail = (lines[-1][:150] if lines else '(no error)') + f' [exit {rc}, {len(lines)} lines' + (', after training had started' if started else '') + ']'
            record('out', label + ': a clear error before training starts', ok, detail)
    finally:
        for m in mounts: umount(m)
        if not args.keep and not args.workdir: shutil.rmtree(w, ignore_errors=True)
    total = time.perf_counter() - T0
    n_fail = sum(not r['ok'] for r in RESULTS)
    for r in RESULTS:
        if args.verbose or not r['ok']:
            print(f"{'ok  ' if r['ok'] else 'FAIL'} [{r['group']}] {r['case']}" + (f" -- {r['detail']}" if r['detail'] else ''))
    by_group = {}
    for r in RESULTS: g = by_group.setdefault(r['group'], [0, 0]); g[0] += 1; g[1] += r['ok']
    print('; '.join(f'{g}: {ok}/{n}' for g, (n, ok) in by_group.items()))
    print(f'bad_inputs: {len(RESULTS)} cases tried, {len(RESULTS) - n_fail} handled as documented, {n_fail} not; '
          f'{total:.1f} s (folder built in {t_build:.1f} s, loader {t_folder:.1f} s, command line {t_cli:.1f} s)')
    return 1 if n_fail else 0


if __name__ == '__main__':
    sys.exit(main())
