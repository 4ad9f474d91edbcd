#!/usr/bin/env python
"""Real-browser test of the latent-exploration widgets (`vae_course.widgets`).

Starts JupyterLab on 127.0.0.1 (random free port, a token, temporary runtime/config/settings folders), opens a
notebook in headless Chromium through Playwright, runs it, moves a slider of a `LatentExplorer` with the keyboard as a
user would, and checks that the bytes of the decoded image in the page change. Saves screenshots into `--out`, and
stops JupyterLab and its kernels whatever happens.

Then the saved widget chapters (`nbs/94_latent_widgets.ipynb` and `nbs/94b_latent_map_widgets.ipynb`, with their
outputs, not run, not trusted) are opened as a learner opens them fresh: every widget output must show its saved
picture (the PNG each widget adds to its output), never the widget's one-line text repr (`--saved NOTEBOOK ...` to
choose other notebooks, `--saved ''` to skip).

By default the notebook is a small one written at test time (an 8-d MLP VAE trained for a few seconds on the
embedded `digits` data set, then a `LatentExplorer`); `--notebook nbs/94_latent_widgets.ipynb` runs the chapter
itself instead (with IN_TEST=1: its reduced workload). Uses Debian's Chromium (`/usr/bin/chromium`); never downloads a
browser. Exit code 0 when the test passed, 1 otherwise.

    python tests/browser_test.py --out screenshots
"""
from __future__ import annotations
import argparse, base64, contextlib, json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
from types import SimpleNamespace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--no-first-run', '--disable-sync', '--disable-quic', '--disable-dev-shm-usage']
CELLS = [
    "import torch\ntorch.set_num_threads(1)   # a small model: one thread is fastest, also on a busy machine\nfrom vae_course.core import set_seed\nfrom vae_course.data import get_dataloaders\nfrom vae_course.learner import Learner\n"
    "from vae_course.vae import MLPVAE\nfrom vae_course.widgets import LatentExplorer",
    "set_seed(0)\ndls = get_dataloaders('digits', batch_size=32)\n"
    "model = MLPVAE(dls.info.channels, dls.info.image_size, 8, hidden=256)\nLearner(model, dls, lr=2e-3).fit(4)\n"
    "explorer = LatentExplorer(model.eval(), dls.valid_ds, n_sliders=4, index=3)\nexplorer",
]

def log(*a): print(f'[browser_test {time.strftime("%H:%M:%S")}]', *a, flush=True)

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def write_notebook(path: Path):
    nb = dict(nbformat=4, nbformat_minor=5, metadata=dict(kernelspec=dict(name='python3', display_name='python3', language='python')),
              cells=[dict(cell_type='code', id=f'cell{i}', metadata={}, execution_count=None, outputs=[], source=src) for i, src in enumerate(CELLS)])
    path.write_text(json.dumps(nb, indent=1))

def wait_for_server(url: str, proc: subprocess.Popen, timeout: float):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None: raise RuntimeError(f'JupyterLab exited with code {proc.returncode}')
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except OSError: pass
        time.sleep(0.5)
    raise TimeoutError(f'JupyterLab did not answer {url} within {timeout:.0f} s')

def kernel_pids(runtime: Path) -> list[int]:
    "PIDs of the kernels of this server: processes whose command line names a connection file in our runtime folder."
    pids = []
    for p in Path('/proc').iterdir():
        if not p.name.isdigit(): continue
        try: cmd = (p/'cmdline').read_bytes().decode(errors='replace')
        except OSError: continue
        if str(runtime) in cmd and 'kernel' in cmd: pids.append(int(p.name))
    return pids

def stop_server(proc: subprocess.Popen, base: str, token: str, runtime: Path):
    "Ask JupyterLab to shut down (it stops its kernels), then terminate and kill its process group and any kernel left."
    kernels = kernel_pids(runtime)
    if proc.poll() is None:
        try: urllib.request.urlopen(urllib.request.Request(f'{base}/api/shutdown?token={token}', method='POST'), timeout=5)
        except OSError: pass
        try: proc.wait(10)
        except subprocess.TimeoutExpired: pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None: break
        try: os.killpg(proc.pid, sig)
        except ProcessLookupError: break
        try: proc.wait(5)
        except subprocess.TimeoutExpired: pass
    for pid in set(kernels + kernel_pids(runtime)):
        try: os.kill(pid, signal.SIGKILL)
        except ProcessLookupError: pass

JS_IMAGE_DIGEST = """async (sel) => {
  const img = document.querySelector(sel);
  if (!img || !img.src) return null;
  const buf = await (await fetch(img.src)).arrayBuffer();
  const h = await crypto.subtle.digest('SHA-256', buf);
  return Array.from(new Uint8Array(h)).map(b => b.toString(16).padStart(2, '0')).join('') + ':' + buf.byteLength;
}"""

@contextlib.contextmanager
def jupyterlab(notebook: Path | None, # the notebook to copy into the server's folder; None: write the small test notebook
               env: dict, # extra environment variables of the server (and its kernels)
               timeout: float, # seconds to wait for the server
               settings: dict | None = None, # more JupyterLab settings: {(extension, name): value}
              ):
    """Start JupyterLab on 127.0.0.1 (a free port, a token, temporary runtime/config/settings folders) serving a copy of
    `notebook`; yields a namespace with `base`, `token`, `nb_name` and `dump_log` (set it to print the server log's tail).
    Stops the server and its kernels and removes the folders whatever happens."""
    tmp = Path(tempfile.mkdtemp(prefix='vae_course_browser_'))
    work, runtime = tmp/'work', tmp/'runtime'
    for d in (work, runtime, tmp/'config', tmp/'data', tmp/'settings', tmp/'workspaces', tmp/'ipython'): d.mkdir()
    for (ext, name), value in {('apputils-extension', 'notification'): dict(fetchNews='false'), **(settings or {})}.items():   # no "Jupyter news?" pop-up
        f = tmp/'settings'/'@jupyterlab'/ext/f'{name}.jupyterlab-settings'; f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(value))
    if notebook is None: nb_name = 'latent_explorer_test.ipynb'; write_notebook(work/nb_name)
    else: nb_name = notebook.name; shutil.copy(notebook, work/nb_name)
    port, token = free_port(), secrets.token_hex(16)
    lab = SimpleNamespace(base=f'http://127.0.0.1:{port}', token=token, nb_name=nb_name, dump_log=False)
    full_env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), JUPYTER_CONFIG_DIR=str(tmp/'config'), JUPYTER_DATA_DIR=str(tmp/'data'),
                    IPYTHONDIR=str(tmp/'ipython'), **env)
    cmd = [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--ServerApp.open_browser=False', '--allow-root',
           '--ip=127.0.0.1', f'--port={port}', '--port-retries=0', f'--IdentityProvider.token={token}',
           f'--ServerApp.root_dir={work}', f'--LabApp.user_settings_dir={tmp/"settings"}', f'--LabApp.workspaces_dir={tmp/"workspaces"}',
           '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate',
           '--LabApp.extension_manager=readonly', '--expose-app-in-browser']
    server_log = open(tmp/'jupyterlab.log', 'w')
    log(f'starting JupyterLab on {lab.base} (log {tmp/"jupyterlab.log"})')
    proc = subprocess.Popen(cmd, cwd=work, env=full_env, stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_server(f'{lab.base}/api/status?token={token}', proc, timeout)
        yield lab
    except BaseException:
        lab.dump_log = True; raise
    finally:
        stop_server(proc, lab.base, token, runtime)
        server_log.close()
        if lab.dump_log: log('JupyterLab log (tail):\n' + ''.join((tmp/'jupyterlab.log').read_text(errors='replace').splitlines(True)[-30:]))
        shutil.rmtree(tmp, ignore_errors=True)

def run(out: Path, notebook: Path | None, timeout: float) -> dict:
    from playwright.sync_api import sync_playwright
    t_start = time.time()
    deadline = lambda: max(1., timeout - (time.time() - t_start))
    env = dict(MPLBACKEND='Agg', PYTHONUNBUFFERED='1')
    if notebook is not None:
        env['IN_TEST'] = '1'
        if 'VAE_COURSE_DATA' not in os.environ and (ROOT.parent/'shared'/'data').is_dir(): env['VAE_COURSE_DATA'] = str(ROOT.parent/'shared'/'data')
    result = dict(passed=False)
    with jupyterlab(notebook, env, min(60., deadline())) as lab:
        base, token, nb_name = lab.base, lab.token, lab.nb_name
        result['server_s'] = round(time.time() - t_start, 1)
        log(f'server up after {result["server_s"]} s')
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path='/usr/bin/chromium', headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport=dict(width=1400, height=1000))
                page.on('pageerror', lambda e: log('page error:', str(e)[:200]))
                page.goto(f'{base}/lab/tree/{nb_name}?token={token}', timeout=deadline() * 1000)
                page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')", timeout=min(60., deadline()) * 1000)
                # wait until the notebook's kernel is ready, then run every cell
                page.wait_for_function("""() => { const w = window.jupyterapp.shell.currentWidget;
                    return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel &&
                           w.sessionContext.session.kernel.connectionStatus === 'connected' && w.sessionContext.kernelDisplayStatus === 'idle'; }""",
                                       timeout=min(90., deadline()) * 1000)
                result['kernel_ready_s'] = round(time.time() - t_start, 1)
                log(f'kernel ready after {result["kernel_ready_s"]} s; running all cells')
                page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")   # do not wait for the cells
                handle_sel = '.vae-latent-explorer .noUi-handle'
                page.wait_for_selector(handle_sel, timeout=deadline() * 1000)
                page.wait_for_function(f"() => {{ const i = document.querySelector('.vae-latent-explorer img.vae-decoded'); return i && i.src; }}",
                                       timeout=min(60., deadline()) * 1000)
                result['widget_s'] = round(time.time() - t_start, 1)
                log(f'LatentExplorer shown after {result["widget_s"]} s')
                explorer = page.locator('.vae-latent-explorer').first
                explorer.scroll_into_view_if_needed()
                img_sel = '.vae-latent-explorer img.vae-decoded'
                before = page.evaluate(JS_IMAGE_DIGEST, img_sel)
                readout = page.locator('.vae-latent-explorer .widget-readout').first
                r_before = readout.inner_text()
                explorer.screenshot(path=str(out/'latent_explorer_before.png'))
                # move the first slider as a user would: focus its handle, press the right arrow key
                handle = page.locator(handle_sel).first
                handle.focus()
                t_move = time.time()
                for _ in range(25): page.keyboard.press('ArrowRight')
                after, t_changed = before, None
                while time.time() - t_move < min(30., deadline()):
                    after = page.evaluate(JS_IMAGE_DIGEST, img_sel)
                    if after != before: t_changed = time.time(); break
                    time.sleep(0.1)
                r_after = readout.inner_text()
                page.wait_for_timeout(300)
                explorer.screenshot(path=str(out/'latent_explorer_after.png'))
                page.screenshot(path=str(out/'jupyterlab.png'), full_page=True)
                result.update(slider_before=r_before, slider_after=r_after, image_before=before, image_after=after,
                              update_s=None if t_changed is None else round(t_changed - t_move, 2))
                result['passed'] = bool(before and after and after != before and r_after != r_before)
            finally: browser.close()
        lab.dump_log = not result['passed']
    result['total_s'] = round(time.time() - t_start, 1)
    return result

JS_SAVED_OUTPUTS = """() => {
  const outs = [...document.querySelectorAll('.jp-OutputArea-output')];
  const repr = outs.filter(o => /^(LatentExplorer|Interpolator|LatentMap|SampleGrid)[(:]/.test(o.textContent.trim()));
  const widgetErr = outs.filter(o => /Error displaying widget|model not found/.test(o.textContent));
  const imgs = outs.filter(o => o.querySelector('img')).length;
  const broken = [...document.querySelectorAll('.jp-OutputArea-output img')].filter(i => i.complete && i.naturalWidth === 0).length;
  return {outputs: outs.length, text_repr: repr.length, widget_errors: widgetErr.length, images: imgs, broken_images: broken};
}"""

def check_saved(out: Path, notebook: Path, timeout: float) -> dict:
    "Open the saved `notebook` in a fresh JupyterLab without running it; count its widget outputs shown as pictures or as text."
    from playwright.sync_api import sync_playwright
    nb = json.loads(notebook.read_text())
    outs = [o.get('data', {}) for c in nb['cells'] for o in c.get('outputs', [])]
    n_widgets = sum('application/vnd.jupyter.widget-view+json' in d for d in outs)
    n_pictures = sum(bool({'image/png', 'image/gif'} & set(d)) for d in outs)      # widget outputs carry their saved picture
    t_start = time.time()
    r = dict(notebook=notebook.name, widget_outputs=n_widgets, picture_outputs=n_pictures)
    with jupyterlab(notebook, {}, 60., settings={('notebook-extension', 'tracker'): dict(windowingMode='none')}) as lab:   # render every cell
        base, token = lab.base, lab.token
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path='/usr/bin/chromium', headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport=dict(width=1400, height=1000))
                page.goto(f'{base}/lab/tree/{notebook.name}?token={token}', timeout=timeout * 1000)
                page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length > 10", timeout=timeout * 1000)
                page.wait_for_timeout(3000)                                  # let the output renderers settle
                r.update(page.evaluate(JS_SAVED_OUTPUTS))
                shot = page.locator('.jp-OutputArea-output img').nth(min(3, max(0, r['images'] - 1)))
                if r['images']: shot.scroll_into_view_if_needed(); page.wait_for_timeout(500)
                page.screenshot(path=str(out/f'saved_{notebook.stem}.png'))
            finally: browser.close()
    r['passed'] = r.get('text_repr', 1) == 0 and r.get('widget_errors', 1) == 0 and r.get('broken_images', 1) == 0 and r.get('images', 0) >= n_pictures and n_widgets > 0
    r['s'] = round(time.time() - t_start, 1)
    return r

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='screenshots', help='folder for the screenshots (default: screenshots)')
    p.add_argument('--notebook', default=None, help='run this notebook instead of the small one written at test time')
    p.add_argument('--timeout', type=float, default=170., help='seconds for the whole test (default: 170)')
    p.add_argument('--saved', nargs='*', default=[str(ROOT/'nbs'/'94_latent_widgets.ipynb'), str(ROOT/'nbs'/'94b_latent_map_widgets.ipynb')],
                   help="saved notebooks to open without running ('' or none: skip)")
    a = p.parse_args(argv)
    if not Path('/usr/bin/chromium').exists():
        print('browser_test: /usr/bin/chromium is missing: apt-get install chromium (.ci/extra/browser.sh does)', file=sys.stderr); return 1
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    try: r = run(out, Path(a.notebook).resolve() if a.notebook else None, a.timeout)
    except Exception as e:
        log(f'FAILED: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}')
        print('browser test FAILED'); return 1
    log(json.dumps(r))
    log(f'screenshots in {out.resolve()}')
    ok = r['passed']
    if ok: log(f"the decoded image changed {r['update_s']} s after the slider moved ({r['slider_before']} -> {r['slider_after']}); total {r['total_s']} s")
    else: log('FAILED: the decoded image did not change after the slider moved')
    for saved in [s for s in a.saved if s]:
        try: sr = check_saved(out, Path(saved).resolve(), 60.)
        except Exception as e: sr = dict(passed=False, error=f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}')
        log('saved notebook: ' + json.dumps(sr))
        if sr['passed']: log(f"saved notebook {Path(saved).name} opened fresh: {sr['images']} outputs show pictures, none of its {sr['widget_outputs']} widgets shows a text repr")
        else: log(f'FAILED: the saved notebook {Path(saved).name} shows widgets as text, errors or broken images')
        ok = ok and sr['passed']
    print('browser test passed' if ok else 'browser test FAILED'); return 0 if ok else 1

if __name__ == '__main__': sys.exit(main())
