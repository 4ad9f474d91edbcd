#!/usr/bin/env python
"""Check the documentation pages without Quarto: process, render, open each page in headless Chromium.

    python tools/check_docs.py                  # every notebook that nbdev documents (nbs/, settings.ini rules)
    python tools/check_docs.py 00_core.ipynb    # only some pages (names or globs relative to nbs/)
    python tools/check_docs.py --execute        # run the notebooks first (IN_TEST=1), for notebooks saved without outputs

For every notebook that `nbdev_docs` would publish:
1. nbdev's own docs processing step (what `nbdev_proc_nbs` runs on each file: `FilterDefaults`, which executes the
   exported and import cells to build `show_doc`), into `_site_check/_proc/`;
2. the Quarto cell options applied (`tools/quarto_lite.py`) and an HTML page rendered with nbconvert into
   `_site_check/<page>.html` (the page name is nbdev's `output-file`, e.g. `core.html` for `00_core.ipynb`);
3. `_site_check/` served on 127.0.0.1 (random port) and every page opened in headless Chromium (Playwright, system
   Chromium at /usr/bin/chromium; requests to anything but that server are blocked), which must show:
   - the notebook's title (its `# ` heading) as the page's first `h1` and as the window title;
   - at least one figure (an `img` whose natural width is > 0) unless the page is in FIGURE_EXEMPT / --no-figure;
   - no broken image, no local request failing (404), no TeX error (when MathJax is available locally:
     Debian's libjs-mathjax);
   - no error output: no `error` output (ename) in the notebook, no traceback in stderr, no `Traceback`/
     `output_error` in the HTML;
   A full-page PNG screenshot of each page goes to `_site_check/screenshots/`.
4. `tools/make_readme.py --check` (README.md must match nbs/index.ipynb) and a look at `nbs/sidebar.yml`.
5. The course's scaffolding, read from the source notebook (`lint_notebook`):
   - every page: no dangling reference (a file a learner does not have: `ALGORITHMS.md`, `STYLE.md`, `../shared/`,
     `shared/references`, the reviews, `000_*.txt`; an unnamed "the reference implementation"), and every relative
     markdown link points at a notebook, a page of the site (`vae.html`, with or without `#anchor`) or a file in nbs/;
   - every teaching chapter (numbered, not 00, 9x or index): the headings `## What you will learn`, `## Summary`,
     `## Exercises` and `## Further reading`, and a diagram (a `flow_diagram(` cell with a figure, or an image).
Prints one line per page and exits 1 if anything failed.
"""
from __future__ import annotations
import argparse, concurrent.futures as cf, fnmatch, functools, html, http.server, json, multiprocessing as mp
import os, re, shutil, subprocess, sys, threading, time
from pathlib import Path
from urllib.parse import unquote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quarto_lite import repo_root, notebook_title, quarto_cells, proc_worker   # noqa: E402

# Pages that may have no figure. Every chapter page must show at least one picture.
FIGURE_EXEMPT = {'index.ipynb'}
CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--no-first-run', '--disable-sync', '--disable-quic']
MATHJAX_DIRS = [Path('/usr/share/javascript/mathjax'), Path('/usr/share/mathjax')]
MARKER = '.check_docs'   # marks an output folder as ours, so that it may be wiped


# ---------------------------------------------------------------- steps 1 and 2: process, render
def execute_notebook(src: Path, dst: Path, timeout: int) -> str | None:
    "Run `src` with nbclient (IN_TEST=1, working folder: the notebook's own, as `nbdev_test`) and save to `dst`."
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(src, as_version=4)
    old = os.environ.get('IN_TEST'); os.environ['IN_TEST'] = '1'
    try:
        NotebookClient(nb, timeout=timeout, kernel_name='python3', allow_errors=True,
                       resources={'metadata': {'path': str(src.parent)}}).execute()
    except Exception as e: return f'{type(e).__name__}: {e}'
    finally:
        if old is None: os.environ.pop('IN_TEST', None)
        else: os.environ['IN_TEST'] = old
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)
    return None


def output_errors(nb) -> list[str]:
    "Error outputs and stderr tracebacks in a notebook's saved outputs."
    errs = []
    for i, c in enumerate(nb.cells):
        for o in c.get('outputs', []):
            if o.get('output_type') == 'error':
                errs.append(f"cell {i}: error output {o.get('ename')}: {' '.join(str(o.get('evalue')).split())[:80]}")
            elif o.get('output_type') == 'stream' and o.get('name') == 'stderr' and 'Traceback' in o.get('text', ''):
                errs.append(f'cell {i}: traceback on stderr')
    return errs


def render_html(proc_nb: Path, mathjax_url: str | None):
    "Processed notebook -> (html text, page file name, front matter, rendered notebook)."
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    nb, fm = quarto_cells(nbformat.read(proc_nb, as_version=4))
    c = Config()
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    c.TagRemovePreprocessor.enabled = True
    kw = {'mathjax_url': mathjax_url} if mathjax_url else {}
    body, _ = HTMLExporter(config=c, template_name='lab', **kw).from_notebook_node(nb)
    page = fm.get('output-file') or proc_nb.with_suffix('.html').name
    return body, page, fm, nb


# ---------------------------------------------------------------- step 3: serve, browse
class _Handler(http.server.SimpleHTTPRequestHandler):
    site: Path; fallback: Path; mathjax: Path | None; misses: list
    def translate_path(self, path):
        p = unquote(urlparse(path).path)
        if p.startswith('/_mathjax/') and self.mathjax: return str(self.mathjax/p[len('/_mathjax/'):])
        rel = p.lstrip('/')
        for base in (self.site, self.fallback):   # fallback: files the notebooks reference, e.g. nbs/images/
            f = (base/rel).resolve()
            if f.is_relative_to(base.resolve()) and f.exists(): return str(f)
        return str(self.site/rel)
    def log_message(self, fmt, *args): pass
    def send_error(self, code, *a, **k):
        self.misses.append(f'{code} {self.path}')
        super().send_error(code, *a, **k)


def serve(site: Path, fallback: Path, mathjax: Path | None):
    h = type('H', (_Handler,), dict(site=site, fallback=fallback, mathjax=mathjax, misses=[]))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(h, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, h


_JS_INSPECT = r"""() => {
  const h1 = document.querySelector('h1');
  const h1text = h1 ? h1.textContent.replace(/\u00b6/g, '').trim() : null;
  const imgs = [...document.images].map(i => ({src: i.getAttribute('src') ? i.getAttribute('src').slice(0, 60) : '',
                                               w: i.naturalWidth, complete: i.complete}));
  const stderr = [...document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')]
                   .map(e => e.textContent).filter(t => /Traceback|Error:/.test(t)).map(t => t.trim().slice(0, 120));
  const texErr = document.querySelectorAll('.MathJax_Error, merror, .mjx-merror').length;
  const math = document.querySelectorAll('.MathJax_CHTML, .MathJax, .MathJax_SVG, mjx-container').length;
  return {title: document.title, h1: h1text, imgs, stderr, texErr, math,
          height: document.documentElement.scrollHeight};
}"""


def _norm(s): return ' '.join(re.sub(r'[`*]', '', s or '').split())


def browse(pages: list[dict], base_url: str, shots: Path, timeout_s: float, handler) -> None:
    "Open every page; fill each page dict's `fails`, `warns`, `info`."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={'width': 1200, 'height': 900}, device_scale_factor=1)
        host = urlparse(base_url).netloc
        for pg in pages:
            if pg.get('html') is None: continue
            t0 = time.time()
            blocked, failed, console = [], [], []
            page = ctx.new_page()
            def make_route(blocked):
                def route(r):
                    u = urlparse(r.request.url)
                    if u.scheme in ('data', 'blob') or u.netloc == host: r.continue_()
                    else: blocked.append(r.request.url); r.abort()
                return route
            page.route('**/*', make_route(blocked))
            page.on('response', lambda r, failed=failed: failed.append(f'{r.status} {r.url}')
                    if urlparse(r.url).netloc == host and r.status >= 400 else None)
            page.on('pageerror', lambda e, console=console: console.append(str(e)[:120]))
            miss0 = len(handler.misses)
            try:
                page.goto(f"{base_url}/{pg['html']}", wait_until='load', timeout=timeout_s*1000)
                has_mj = page.evaluate('() => !!(window.MathJax && window.MathJax.Hub)')
                if has_mj:
                    page.evaluate('() => MathJax.Hub.Queue(() => { window.__mjdone = true; })')
                    try: page.wait_for_function('() => window.__mjdone === true', timeout=timeout_s*1000)
                    except Exception: pg['warns'].append('MathJax did not finish typesetting')
                r = page.evaluate(_JS_INSPECT)
                shot = shots/(Path(pg['html']).stem + '.png')
                page.screenshot(path=str(shot), full_page=True)
                pg['shot'] = shot
            except Exception as e:
                pg['fails'].append(f'browser: {type(e).__name__}: {str(e).splitlines()[0][:160]}')
                page.close(); continue
            page.close()
            want = _norm(pg['title'])
            if not pg['title']: pg['fails'].append('the notebook has no `# ` title')
            else:
                if _norm(r['h1']) != want: pg['fails'].append(f"first h1 is {r['h1']!r}, expected {want!r}")
                if _norm(r['title']) != want: pg['fails'].append(f"window title is {r['title']!r}, expected {want!r}")
            figs = [i for i in r['imgs'] if i['w'] > 0]
            broken = [i['src'] for i in r['imgs'] if i['w'] == 0]
            if broken: pg['fails'].append(f'{len(broken)} broken image(s): {broken[:3]}')
            if not figs and pg['nb'] not in pg['exempt']:
                pg['fails'].append('no figure (no img with natural width > 0)')
            if r['stderr']: pg['fails'].append(f"traceback in stderr output: {r['stderr'][0]!r}")
            if r['texErr']: pg['fails'].append(f"{r['texErr']} TeX error(s) in the math")
            fails_http = [re.sub(r'^(\d+) https?://[^/]+', r'\1 ', f) for f in failed + handler.misses[miss0:]]
            if fails_http: pg['fails'].append(f'local request(s) failed: {sorted(set(fails_http))[:3]}')
            if console: pg['warns'].append(f'JavaScript error(s): {console[:2]}')
            pg['info'].update(figures=len(figs), math=r['math'] if has_mj else 'n/a', blocked=len(blocked), blocked_urls=sorted(set(blocked))[:5],
                              height=r['height'], browse_s=round(time.time() - t0, 1))
        ctx.close(); browser.close()


# ---------------------------------------------------------------- step 4: sidebar
def sidebar_entries(sidebar: Path) -> list[str]:
    import yaml
    out = []
    def walk(x):
        if isinstance(x, str): out.append(x)
        elif isinstance(x, list): [walk(o) for o in x]
        elif isinstance(x, dict):
            for k in ('href', 'file'):
                if isinstance(x.get(k), str): out.append(x[k])
            if 'contents' in x: walk(x['contents'])
    d = yaml.safe_load(sidebar.read_text()) or {}
    walk(((d.get('website') or {}).get('sidebar') or {}).get('contents', []))
    return [o for o in out if not o.startswith(('http:', 'https:'))]


# ---------------------------------------------------------------- step 5: the course's scaffolding
REQUIRED_HEADINGS = ('## What you will learn', '## Summary', '## Exercises', '## Further reading')
DANGLING = re.compile(r"ALGORITHMS\.md|STYLE\.md|\.\./shared\b|shared/references|shared/reviews|\breviews/\w+\.md"
                      r"|\b00[0-4]_[\w*]*\.txt|\bthe (?:COCO )?reference implementations?\b(?! \()|\bthe COCO reference\b", re.I)

def is_reference_chapter(name: str) -> bool:
    "00_core, the 9x appendices and the index are reference pages; every other numbered notebook is a teaching chapter."
    return name == 'index.ipynb' or name.startswith(('00_', '9')) or not name[:1].isdigit()

def page_name(nb_path: Path) -> str:
    "The page nbdev gives a notebook (its `output-file`): the file name without its number prefix, e.g. `vae.html`."
    from nbdev.doclinks import _nbpath2html
    return _nbpath2html(Path(nb_path.name)).name

def lint_notebook(nb_path: Path, pages: set[str], nbs: Path) -> list[str]:
    "Problems with the scaffolding and references of one source notebook (see step 5 of the module docstring)."
    nb = json.loads(nb_path.read_text(encoding='utf-8'))
    cells = [(c['cell_type'], ''.join(c['source']), c) for c in nb['cells']]
    md = '\n'.join(s for t, s, _ in cells if t == 'markdown')
    probs = []
    for i, (t, s, _) in enumerate(cells):
        if t == 'code' and s.lstrip().startswith('#| hide'): continue   # set-up a reader never sees (e.g. where this machine keeps data)
        for m in DANGLING.finditer(s): probs.append(f"cell {i}: dangling reference {m.group(0)!r}")
        if t != 'markdown': continue
        for target in re.findall(r'\]\(([^)\s]+)(?:\s+"[^"]*")?\)', s):
            if re.match(r'^(https?:|mailto:|#|data:)', target): continue
            f = target.split('#')[0]
            if f and f not in pages and not (nbs/f).exists(): probs.append(f"cell {i}: link to {target!r}, which is neither a page nor a file")
    if not is_reference_chapter(nb_path.name):
        heads = {l.strip() for l in md.splitlines() if l.startswith('## ')}
        probs += [f"teaching chapter without '{h}'" for h in REQUIRED_HEADINGS if h not in heads]
        diagram = any(t == 'code' and 'flow_diagram(' in s and any('image/png' in o.get('data', {}) for o in c.get('outputs', []))
                      for t, s, c in cells) or re.search(r'!\[[^\]]*\]\([^)]+\)', md)
        if not diagram: probs.append("teaching chapter without a diagram (a flow_diagram cell with its figure, or an image)")
    return probs


# ---------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('pages', nargs='*', help='notebooks to check (names or globs relative to nbs/); default: all')
    ap.add_argument('--out', default='_site_check', help='output folder, relative to the repo root')
    ap.add_argument('--execute', action='store_true', help='execute the notebooks (IN_TEST=1) before rendering')
    ap.add_argument('--exec-timeout', type=int, default=600, help='seconds per cell with --execute')
    ap.add_argument('--n-workers', type=int, default=2, help='processes for the nbdev processing step')
    ap.add_argument('--timeout', type=float, default=60, help='seconds to load one page')
    ap.add_argument('--no-figure', action='append', default=[], metavar='NB',
                    help=f'another notebook that may have no figure (always: {sorted(FIGURE_EXEMPT)})')
    ap.add_argument('--no-readme', action='store_true', help='skip `make_readme.py --check`')
    ap.add_argument('--strict-sidebar', action='store_true', help='fail (not warn) on sidebar.yml mismatches')
    a = ap.parse_args(argv)

    t_all = time.time()
    if not Path(CHROMIUM).exists():
        print(f'{CHROMIUM} not found: install Debian\'s Chromium with `apt-get update && apt-get install -y chromium` '
              '(never `playwright install`)', file=sys.stderr); return 2
    root = repo_root(); os.chdir(root)
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    cfg = get_config()
    nbs = Path(cfg.nbs_path)
    out = (root/a.out).resolve()
    if out.exists() and any(out.iterdir()) and not (out/MARKER).exists():
        print(f'{out} exists and was not made by this script: refusing to wipe it', file=sys.stderr); return 2
    shutil.rmtree(out, ignore_errors=True)
    (out/'screenshots').mkdir(parents=True); (out/MARKER).touch()
    timings = {}

    all_nbs = sorted(Path(p) for p in nbglob(nbs))
    sel = [p for p in all_nbs if not a.pages or any(fnmatch.fnmatch(str(p.relative_to(nbs)), g) or
                                                    fnmatch.fnmatch(p.name, g) for g in a.pages)]
    if not sel: print(f'no notebook matches {a.pages} in {nbs}', file=sys.stderr); return 2
    exempt = FIGURE_EXEMPT | set(a.no_figure)
    pages = [dict(src=p, nb=str(p.relative_to(nbs)), title=notebook_title(p), fails=[], warns=[], info={},
                  exempt=exempt, html=None) for p in sel]
    print(f'checking {len(pages)} page(s) from {nbs.relative_to(root)}/ into {out.relative_to(root)}/')

    # 0. optional execution
    if a.execute:
        t0 = time.time()
        for pg in pages:
            dst = out/'_exec'/pg['nb']
            err = execute_notebook(pg['src'], dst, a.exec_timeout)
            if err: pg['fails'].append(f'execution: {err[:200]}')
            else: pg['src_used'] = dst
        timings['execute'] = time.time() - t0

    # 1. nbdev processing, in parallel as nbdev does (spawned processes)
    t0 = time.time()
    jobs = {}
    with cf.ProcessPoolExecutor(max_workers=max(1, a.n_workers), mp_context=mp.get_context('spawn')) as ex:
        for pg in pages:
            if pg['fails']: continue
            pg['proc'] = out/'_proc'/pg['nb']
            jobs[ex.submit(proc_worker, str(pg.get('src_used', pg['src'])), str(pg['proc']), str(root))] = pg
        for f in cf.as_completed(jobs):
            err = f.result()
            if err: jobs[f]['fails'].append('nbdev processing failed: ' + err.strip().splitlines()[0][:240])
    timings['nbdev processing'] = time.time() - t0

    # 2. render to HTML with nbconvert
    t0 = time.time()
    mj_dir = next((d for d in MATHJAX_DIRS if (d/'MathJax.js').exists()), None)
    mj_url = '/_mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe' if mj_dir else None
    import nbformat
    for pg in pages:
        if pg['fails']: continue
        for e in output_errors(nbformat.read(pg.get('src_used', pg['src']), as_version=4)):
            pg['fails'].append('source notebook: ' + e)
        try: body, page, fm, rnb = render_html(pg['proc'], mj_url)
        except Exception as e:
            pg['fails'].append(f'nbconvert: {type(e).__name__}: {e}'); continue
        if not any(f.startswith('source notebook: ') for f in pg['fails']):
            pg['fails'] += ['page: ' + e for e in output_errors(rnb)]
        text = re.sub(r'<style.*?</style>|<script.*?</script>', '', body, flags=re.S)
        text = html.unescape(re.sub(r'<[^>]+>', '', text))
        if 'Traceback (most recent call last)' in text: pg['fails'].append('HTML shows a Traceback')
        if re.search(r'class="[^"]*\boutput_error\b', body): pg['fails'].append('HTML has an output_error block')
        if re.search(r'\bename\b', text): pg['fails'].append("HTML shows an 'ename'")
        (out/page).write_text(body, encoding='utf-8')
        pg['html'] = page
    timings['render (nbconvert)'] = time.time() - t0
    if not mj_dir: print('note: no local MathJax (apt-get install libjs-mathjax): math is not typeset or checked')

    # 3. serve and browse
    t0 = time.time()
    srv, handler = serve(out, nbs, mj_dir)
    try:
        if any(pg['html'] for pg in pages):
            browse(pages, f'http://127.0.0.1:{srv.server_address[1]}', out/'screenshots', a.timeout, handler)
    finally:
        srv.shutdown(); srv.server_close()
    timings['browser'] = time.time() - t0

    # 4. sidebar and README
    extra_fail = []
    sb = nbs/'sidebar.yml'
    if sb.exists():
        listed = sidebar_entries(sb)
        missing = [e for e in listed if not (nbs/e).exists()]
        unlisted = [str(p.relative_to(nbs)) for p in all_nbs if str(p.relative_to(nbs)) not in listed]
        for what, xs in (('sidebar.yml lists notebooks that do not exist', missing),
                         ('notebooks missing from sidebar.yml', unlisted)):
            if xs:
                msg = f'{what}: {", ".join(xs)}'
                (extra_fail if a.strict_sidebar else []).append(msg)
                print(('FAIL  ' if a.strict_sidebar else 'WARN  ') + msg)
    if not a.no_readme:
        t0 = time.time()
        r = subprocess.run([sys.executable, str(root/'tools'/'make_readme.py'), '--check'],
                           capture_output=True, text=True)
        timings['README check'] = time.time() - t0
        if r.returncode:
            extra_fail.append('README.md is stale')
            print('FAIL  README.md does not match nbs/index.ipynb (run `python tools/make_readme.py`):')
            print('\n'.join('      ' + l for l in (r.stdout + r.stderr).strip().splitlines()[:40]))
        else: print('PASS  README.md matches nbs/index.ipynb')

    # 5. scaffolding and references
    t0 = time.time()
    page_names = {page_name(p) for p in all_nbs} | {str(p.relative_to(nbs)) for p in all_nbs}
    for pg in pages:
        pg['fails'] += ['scaffolding: ' + m for m in lint_notebook(pg['src'], page_names, nbs)]
    timings['scaffolding'] = time.time() - t0

    # summary
    w = max(len(pg['nb']) for pg in pages)
    for pg in pages:
        i = pg['info']
        facts = (f"-> {pg['html'] or '-':<22} figures {i.get('figures', '-')}, math {i.get('math', '-')}, "
                 f"blocked {i.get('blocked', '-')}, {i.get('browse_s', '-')}s")
        status = 'FAIL' if pg['fails'] else 'PASS'
        print(f"{status}  {pg['nb']:<{w}} {facts}" + (f"  | {'; '.join(pg['fails'])}" if pg['fails'] else ''))
        for m in pg['warns']: print(f"WARN  {pg['nb']:<{w}} {m}")
    n_fail = sum(bool(pg['fails']) for pg in pages)
    timings['total'] = time.time() - t_all
    print('timings: ' + ', '.join(f'{k} {v:.1f}s' for k, v in timings.items()))
    print(f'{len(pages) - n_fail} passed, {n_fail} failed (pages); screenshots in {(out/"screenshots").relative_to(root)}/')
    (out/'report.json').write_text(json.dumps([{k: (str(v) if isinstance(v, Path) else v) for k, v in pg.items()
                                                if k not in ('exempt',)} for pg in pages], indent=1, default=str))
    return 1 if (n_fail or extra_fail) else 0


if __name__ == '__main__': sys.exit(main())
