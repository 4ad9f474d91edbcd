#!/usr/bin/env python
"""Real-browser test of the latent explorer that runs on the docs site without a kernel (`explorer/`).

Serves a built explorer site (`tools/build_explorer.py --out SITE`) on 127.0.0.1, opens it in headless Debian
Chromium through Playwright (never a downloaded browser) and checks that: the page loads its ONNX models with
onnxruntime-web; moving a slider, the interpolation and a random code change the picture; the browser's decoding of a
fixed code equals PyTorch's (stored by the build in meta.json) within 1e-3; a digit drawn with synthetic mouse strokes
is encoded to the code that PyTorch's encoder gives for the same pixels (within 1e-3); the Fashion-MNIST model loads
too; and, with `--page`, that a rendered docs page embedding it (`tools/check_docs.py`'s nbconvert rendering of the
latent map widgets chapter) shows the live explorer in its frame. Prints the median latency of 100 slider moves (input event to the picture drawn) and saves screenshots.

    python tests/explorer_test.py --site nbs/explorer --out screenshots [--quick]

`--quick` must match the build (it finds the trained PyTorch model in the course's cache). Exit code 0 when every
check passed, 1 otherwise."""
from __future__ import annotations
import argparse, functools, http.server, json, statistics, sys, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--no-first-run', '--disable-sync', '--disable-quic', '--disable-dev-shm-usage']
TYPES = {'.wasm': 'application/wasm', '.mjs': 'text/javascript', '.js': 'text/javascript', '.onnx': 'application/octet-stream',
         '.json': 'application/json', '.css': 'text/css', '.html': 'text/html'}

def log(*a): print(f'[explorer_test {time.strftime("%H:%M:%S")}]', *a, flush=True)

class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}
    def log_message(self, *a): pass

def serve(site: Path):
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv

PICTURE = "() => document.getElementById('image').toDataURL()"
MOVES = """async (n) => {                 // n slider moves, each from the input event to the picture drawn
  const s = document.querySelector('#sliders input'), lo = Number(s.min), hi = Number(s.max), t = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    s.value = lo + (hi - lo) * (i % 50) / 49; s.dispatchEvent(new Event('input'));
    await explorer.idle(); t.push(performance.now() - t0);
  }
  return t;
}"""

def draw_one(page):
    "Draw a '1' on the canvas: a slanted stroke, with the mouse, as a user would."
    box = page.locator('#draw').bounding_box()
    x0, y0, w, h = box['x'], box['y'], box['width'], box['height']
    page.mouse.move(x0 + 0.55 * w, y0 + 0.15 * h); page.mouse.down()
    for k in range(1, 21): page.mouse.move(x0 + (0.55 - 0.1 * k / 20) * w, y0 + (0.15 + 0.7 * k / 20) * h)
    page.mouse.up()

def pytorch_codes(x, quick: bool):
    "PyTorch's encoder (the trained model behind the MNIST bundle, from the course's cache) on the pixels `x` (784 numbers)."
    import torch
    sys.path.insert(0, str(ROOT/'tools'))
    from build_explorer import trained_vae
    model, _ = trained_vae('mnist', quick)
    with torch.no_grad(): return model.embed(torch.tensor(x, dtype=torch.float32).view(1, 1, 28, 28))[0].tolist()

def run(site: Path, out: Path, quick: bool, timeout: float) -> dict:
    from playwright.sync_api import sync_playwright
    r, checks = {}, {}
    meta = json.loads((site/'models'/'mnist'/'meta.json').read_text())
    srv = serve(site)
    url = f'http://127.0.0.1:{srv.server_address[1]}/index.html'
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path='/usr/bin/chromium', headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=dict(width=1100, height=800))
            errors = []
            page.on('pageerror', lambda e: errors.append(str(e)[:200]))
            page.route('**/*', lambda rt: rt.continue_() if rt.request.url.startswith('http://127.0.0.1') else rt.abort())   # no network
            t0 = time.time()
            page.goto(url, timeout=timeout * 1000)
            page.wait_for_function("() => document.getElementById('explorer').dataset.ready !== 'false'", timeout=timeout * 1000)
            checks['loads'] = page.evaluate("() => document.getElementById('explorer').dataset.ready") == 'true'
            r['load_s'] = round(time.time() - t0, 2)
            page.screenshot(path=str(out/'explorer_loaded.png'), full_page=True)
            # a slider move changes the picture
            before = page.evaluate(PICTURE)
            page.locator('#sliders input').first.focus()
            for _ in range(30): page.keyboard.press('ArrowRight')
            page.evaluate('() => explorer.idle()')
            checks['slider_changes_picture'] = page.evaluate(PICTURE) != before
            # the browser's decoder against PyTorch's, on a fixed code
            x = page.evaluate('async (z) => Array.from(await explorer.decode(z))', meta['check']['z'])
            r['max_diff_browser_pytorch'] = max(abs(a - b) for a, b in zip(x, meta['check']['x']))
            checks['decoder_matches_pytorch'] = len(x) == len(meta['check']['x']) and r['max_diff_browser_pytorch'] <= 1e-3
            # latency of 100 slider moves
            t = page.evaluate(MOVES, 100)
            r['median_update_ms'], r['p90_update_ms'] = round(statistics.median(t), 2), round(sorted(t)[89], 2)
            # interpolation and a random code
            before = page.evaluate(PICTURE)
            page.locator('#t').fill('0.6'); page.evaluate('() => explorer.idle()')
            checks['interpolation_changes_picture'] = page.evaluate(PICTURE) != before
            before = page.evaluate(PICTURE)
            page.click('#random'); page.evaluate('() => explorer.idle()')
            checks['random_code_changes_picture'] = page.evaluate(PICTURE) != before
            # draw a digit: the browser's encoder against PyTorch's on the same pixels
            draw_one(page)
            page.wait_for_function('() => explorer.lastDrawnCode !== undefined', timeout=timeout * 1000)
            page.evaluate('() => explorer.idle()')
            xin = page.evaluate('() => Array.from(explorer.lastInput)')
            zb = page.evaluate('() => Array.from(explorer.lastDrawnCode)')
            zp = pytorch_codes(xin, quick)
            r['drawn_ink'] = round(sum(v > 0.5 for v in xin) / len(xin), 3)
            r['max_diff_drawn_code'] = max(abs(a - b) for a, b in zip(zb, zp))
            checks['drawing_encoded_as_pytorch'] = r['drawn_ink'] > 0.01 and r['max_diff_drawn_code'] <= 1e-3
            page.screenshot(path=str(out/'explorer_drawn.png'), full_page=True)
            # the second model
            page.select_option('#model', 'fashion_mnist')
            page.wait_for_function("() => explorer.name === 'fashion_mnist' && !explorer.running", timeout=timeout * 1000)
            checks['fashion_mnist_loads'] = page.locator('#draw-box').is_hidden()
            page.screenshot(path=str(out/'explorer_fashion.png'), full_page=True)
            checks['no_page_errors'] = not errors
            r['page_errors'] = errors
            browser.close()
    finally: srv.shutdown()
    r['checks'] = checks
    return r

def check_page(page_html: Path, site: Path, out: Path, timeout: float) -> dict:
    "Serve a rendered docs page with the explorer beside it (as the docs site has it); the explorer in its frame must load and answer a slider."
    import shutil, tempfile
    from playwright.sync_api import sync_playwright
    root = Path(tempfile.mkdtemp(prefix='vae_course_page_'))
    shutil.copy(page_html, root/'page.html'); shutil.copytree(site, root/'explorer')
    srv = serve(root)
    r = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path='/usr/bin/chromium', headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=dict(width=1200, height=900))
            page.route('**/*', lambda rt: rt.continue_() if rt.request.url.startswith('http://127.0.0.1') else rt.abort())
            page.goto(f'http://127.0.0.1:{srv.server_address[1]}/page.html', timeout=timeout * 1000)
            el = page.locator('iframe[src$="explorer/index.html"]').first
            el.scroll_into_view_if_needed()
            frame = el.element_handle(timeout=timeout * 1000).content_frame()
            frame.wait_for_function("() => document.getElementById('explorer').dataset.ready !== 'false'", timeout=timeout * 1000)
            r['frame_ready'] = frame.evaluate("() => document.getElementById('explorer').dataset.ready") == 'true'
            before = frame.evaluate(PICTURE)
            frame.locator('#sliders input').first.focus()
            for _ in range(30): page.keyboard.press('ArrowRight')
            frame.evaluate('() => explorer.idle()')
            r['frame_slider_changes_picture'] = frame.evaluate(PICTURE) != before
            el.screenshot(path=str(out/'docs_page_explorer.png'))
            browser.close()
    finally: srv.shutdown(); shutil.rmtree(root, ignore_errors=True)
    return r

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--site', default=str(ROOT/'nbs'/'explorer'), help='the built explorer (default: nbs/explorer)')
    p.add_argument('--out', default='screenshots', help='folder for the screenshots (default: screenshots)')
    p.add_argument('--quick', action='store_true', help='the site was built with tools/build_explorer.py --quick')
    p.add_argument('--timeout', type=float, default=60., help='seconds for each wait (default: 60)')
    p.add_argument('--page', default=None, help='a rendered docs page that embeds the explorer (e.g. _site_check/latent_map_widgets.html)')
    a = p.parse_args(argv)
    site, out = Path(a.site), Path(a.out)
    if not (site/'models'/'index.json').is_file(): print(f'explorer_test: no built site at {site}: run tools/build_explorer.py', file=sys.stderr); return 1
    if not Path('/usr/bin/chromium').exists(): print('explorer_test: /usr/bin/chromium is missing: apt-get install chromium', file=sys.stderr); return 1
    out.mkdir(parents=True, exist_ok=True)
    r = run(site, out, a.quick, a.timeout)
    if a.page: r['checks'].update(check_page(Path(a.page), site, out, a.timeout))
    log(json.dumps(r))
    ok = all(r['checks'].values())
    log(f"median update latency over 100 slider moves: {r['median_update_ms']} ms (90th percentile {r['p90_update_ms']} ms; target under 30 ms)")
    log(f"browser vs PyTorch: decoder {r['max_diff_browser_pytorch']:.1e}, drawn digit's code {r['max_diff_drawn_code']:.1e} (limit 1e-3)")
    failed = [k for k, v in r['checks'].items() if not v]
    print('explorer test passed' if ok else f'explorer test FAILED: {", ".join(failed)}')
    return 0 if ok else 1

if __name__ == '__main__': sys.exit(main())
