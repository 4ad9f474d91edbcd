#!/usr/bin/env bash
# Check what a user gets from `pip install vae_course`: build the sdist and the wheel, check their contents and
# metadata, install the wheel into a fresh virtual environment and run the installed package and command.
#
#   bash tools/check_package.sh
#
# The fresh venv (python -m venv, no --system-site-packages) gets the wheel and nothing else from this checkout. So
# that torch & co. (~3 GB) are not downloaded again, a `.pth` file in the fresh venv adds the *current* Python's
# site-packages to its sys.path as plain paths: the dependencies are found there, while the `.pth` files of that
# folder are NOT run, so an editable install of vae_course in it (`pip install -e .`) stays invisible and the
# fresh venv's own copy, installed from the wheel, is the one imported (checked). `pip install --no-index --no-deps`
# installs only the wheel; every Requires-Dist of the wheel is then checked against what the venv can import.
#
# Environment:
#   PYTHON                      Python to build with and to reuse the dependencies of (default: python3 on PATH,
#                               i.e. the active venv); it needs the `build` package and the package's requirements.
#   CHECK_PACKAGE_SKIP_TRAIN=1  skip the `vae_course train` run;  CHECK_PACKAGE_SKIP_CLI=1  skip every command run.
#   CHECK_PACKAGE_NO_ISOLATION=1  `python -m build --no-isolation` (no download of setuptools into a build env).
#   CHECK_PACKAGE_KEEP=1        keep the temporary folder (printed at the end).
# Exit status: 0 when every check passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-$(command -v python3 || command -v python)}
T0=$(date +%s)
PASSED=0; FAILED=0; WARNED=0
TMP=$(mktemp -d /tmp/vae_course_pkg.XXXXXX)
cleanup() { if [ "${CHECK_PACKAGE_KEEP:-}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT

step() { echo; echo "=== $* ($(( $(date +%s) - T0 )) s)"; }
ok()   { PASSED=$((PASSED+1)); echo "ok: $*"; }
fail() { FAILED=$((FAILED+1)); echo "FAILED: $*"; }
warn() { WARNED=$((WARNED+1)); echo "warning: $*"; }
die()  { fail "$*"; summary; exit 1; }
summary() {
  echo; echo "=== summary ($(( $(date +%s) - T0 )) s)"
  echo "check_package: $PASSED passed, $FAILED failed, $WARNED warnings"
}
report() {  # report LOG RC: count the `ok/FAIL/WARN/note<TAB>message` lines a Python check wrote; fail if it crashed
  local lvl msg
  while IFS=$'\t' read -r lvl msg; do
    case "$lvl" in ok) ok "$msg";; WARN) warn "$msg";; FAIL) fail "$msg";; note) echo "note: $msg";; *) echo "  $lvl $msg";; esac
  done < "$1"
  [ "$2" -eq 0 ] || fail "a check script crashed (exit $2; its output is above)"
}
ini() { "$PY" -c "import configparser,sys; c=configparser.ConfigParser(delimiters=['=']); c.read('settings.ini'); print(c['DEFAULT'][sys.argv[1]])" "$1"; }

VERSION=$(ini version) || die "cannot read version from settings.ini"
LIB=$(ini lib_name)
echo "package $LIB $VERSION from settings.ini; building with $PY ($("$PY" --version 2>&1))"

step "build the sdist, then the wheel from the sdist (python -m build)"
"$PY" -c "import build" 2>/dev/null || die "$PY has no 'build' package (pip install build)"
# With no --sdist/--wheel, `build` makes the sdist and then builds the wheel from the unpacked sdist, as pip does
# with an sdist from PyPI: this fails when the sdist lacks a file that setup.py reads (settings.ini, README.md).
# It also leaves no build/ folder in the checkout (only vae_course.egg-info/, which git ignores).
BUILD_ARGS=(--outdir "$TMP/dist")
[ "${CHECK_PACKAGE_NO_ISOLATION:-}" = 1 ] && BUILD_ARGS+=(--no-isolation)
t=$(date +%s)
if "$PY" -m build "${BUILD_ARGS[@]}" . > "$TMP/build.log" 2>&1; then ok "built in $(( $(date +%s) - t )) s: $(cd "$TMP/dist" && ls | tr '\n' ' ')"
else tail -30 "$TMP/build.log"; die "python -m build failed (log above)"; fi
SDIST=$(ls "$TMP"/dist/*.tar.gz | head -1)
WHEEL=$(ls "$TMP"/dist/*.whl | head -1)

step "contents and metadata of the sdist and the wheel"
"$PY" - "$SDIST" "$WHEEL" "$ROOT" > "$TMP/meta.log" 2>&1 <<'PYEOF'
import sys, tarfile, zipfile, configparser, shlex, email, re
from pathlib import Path
sdist, wheel, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
c = configparser.ConfigParser(delimiters=['=']); c.read(root/'settings.ini'); cfg = c['DEFAULT']
lib, version = cfg['lib_name'], cfg['version']
res = []
def check(cond, msg, level='FAIL'): res.append(('ok' if cond else level, msg))

names = [n.split('/', 1)[1] for n in tarfile.open(sdist).getnames() if '/' in n]
for f in ['settings.ini', 'setup.py', 'pyproject.toml', 'README.md', 'MANIFEST.in', f'{lib}/__init__.py', f'{lib}/_modidx.py']:
    check(f in names, f'sdist has {f}')
check('LICENSE' in names, 'sdist has LICENSE (settings.ini says license = %s; MANIFEST.in includes LICENSE, but the file '
      'is missing from the repository)' % cfg['license'], 'WARN')

z = zipfile.ZipFile(wheel); wnames = z.namelist()
src = sorted(str(p.relative_to(root)) for p in (root/lib).rglob('*.py') if '__pycache__' not in p.parts)
missing = [f for f in src if f not in wnames]
check(not missing, f'wheel has every module of {lib}/ ({len(src)})' + (f'; missing {missing}' if missing else ''))
stray = [n for n in wnames if n.startswith(('nbs/', 'tools/', 'tests/', '.ci/')) or n.endswith('.ipynb')]
check(not stray, 'wheel holds no notebooks or tooling' + (f': {stray[:5]}' if stray else ''))
di = next(n.split('/')[0] for n in wnames if n.endswith('.dist-info/METADATA'))
meta = email.message_from_bytes(z.read(f'{di}/METADATA'))
ep = z.read(f'{di}/entry_points.txt').decode() if f'{di}/entry_points.txt' in wnames else ''

check(meta['Name'] in (lib, lib.replace('_', '-')), f"Name: {meta['Name']}")
check(meta['Version'] == version, f"Version: {meta['Version']} (settings.ini: {version})")
check(meta['Summary'] == cfg['description'], f"Summary is settings.ini's description: {str(meta['Summary'])[:60]}...")
lic = meta.get('License-Expression') or meta.get('License') or ''
check(bool(lic), f'License: {lic!r}')
urls = meta.get_all('Project-URL') or []
check(bool(urls or meta.get('Home-page')), f"URLs: Home-page {meta.get('Home-page')}, Project-URL {urls}")
for k in ('Documentation', 'Source', 'Issues'):
    check(any(u.split(',')[0].strip() == k for u in urls), f'Project-URL {k}', 'WARN')
cls = meta.get_all('Classifier') or []
check(len(cls) > 0, f'{len(cls)} classifiers')
check(any(x.startswith('License ::') for x in cls) or bool(meta.get('License-Expression')), 'a License classifier or License-Expression')
check(f"Programming Language :: Python :: {cfg['min_python']}" in cls, f"classifier Python :: {cfg['min_python']}")
check(meta.get('Requires-Python') == f">={cfg['min_python']}", f"Requires-Python: {meta.get('Requires-Python')}")
check(meta.get('Author') or meta.get('Author-email'), f"Author: {meta.get('Author')} <{meta.get('Author-email')}>")
check(meta.get('Description-Content-Type', '').startswith('text/markdown'),
      f"Description-Content-Type: {meta.get('Description-Content-Type')}")
body = meta.get_payload() or ''
readme = (root/'README.md').read_text(encoding='utf-8')
check(body.strip() == readme.strip(), f'long description is README.md ({len(body)} chars)')
reqs = [r for r in (meta.get_all('Requires-Dist') or [])]
base = [r for r in reqs if 'extra ==' not in r]
want = shlex.split(cfg.get('requirements', ''))
norm = lambda s: re.split(r'[<>=!~;\[ (]', s, 1)[0].lower().replace('_', '-')
missing = sorted({norm(w) for w in want} - {norm(r) for r in base})
check(not missing, f'Requires-Dist has every requirement of settings.ini ({len(want)})' + (f'; missing {missing}' if missing else ''))
check('dev' in (meta.get_all('Provides-Extra') or []), 'extra [dev] is declared')
check(re.search(rf'^\s*{lib}\s*=\s*{lib}\.cli:main\s*$', ep, re.M) is not None, f'console script {lib} = {lib}.cli:main')
check(re.search(rf'^\[nbdev\]', ep, re.M) is not None, 'nbdev entry point (doc links for other nbdev projects)')
try:
    import twine  # noqa: F401
    import subprocess
    r = subprocess.run([sys.executable, '-m', 'twine', 'check', '--strict', sdist, wheel], capture_output=True, text=True)
    check(r.returncode == 0, 'twine check --strict: ' + (r.stdout + r.stderr).strip().replace('\n', ' | ')[:300])
except ImportError:
    res.append(('note', 'twine is not installed: `twine check` skipped (the checks above cover its metadata checks'
                        ' except rendering the README as PyPI does)'))
for lvl, msg in res: print(f'{lvl}\t{msg}')
PYEOF
report "$TMP/meta.log" $?

step "install the wheel into a fresh venv that reuses the installed dependencies"
t=$(date +%s)
"$PY" -m venv "$TMP/venv" || die "python -m venv failed"
VPY="$TMP/venv/bin/python"
VSITE=$("$VPY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
"$PY" -c "import sysconfig; p=sysconfig.get_paths(); print('\n'.join(dict.fromkeys([p['purelib'], p['platlib']])))" \
  > "$VSITE/_outer_site_packages.pth"
echo "dependencies from: $(tr '\n' ' ' < "$VSITE/_outer_site_packages.pth")"
# --force-reinstall: pip sees the outer environment's vae_course (if any) as installed; it installs ours into the fresh
# venv and never removes a package outside it ("Not uninstalling ..., outside environment").
if "$VPY" -m pip install -q --disable-pip-version-check --no-index --no-deps --force-reinstall "$WHEEL" > "$TMP/pip.log" 2>&1
then ok "pip install $(basename "$WHEEL") ($(( $(date +%s) - t )) s)"; else cat "$TMP/pip.log"; die "pip install of the wheel failed"; fi

mkdir -p "$TMP/cwd"; cd "$TMP/cwd"   # away from the checkout, so that `import vae_course` cannot find the source tree
"$VPY" - "$TMP/venv" "$VERSION" "$LIB" > "$TMP/import.log" 2>&1 <<'PYEOF'
import sys, importlib, importlib.metadata as md
from pathlib import Path
venv, version, lib = Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3]
m = importlib.import_module(lib)
where = Path(m.__file__).resolve()
print(('ok' if m.__version__ == version else 'FAIL') + f'\t{lib}.__version__ is {m.__version__} (settings.ini: {version})')
print(('ok' if where.is_relative_to(venv) else 'FAIL') + f'\timported from the fresh venv: {where}')
print(('ok' if md.version(lib) == version else 'FAIL') + f'\tinstalled distribution version {md.version(lib)}')
try: from packaging.requirements import Requirement
except ImportError: from pip._vendor.packaging.requirements import Requirement
bad = []
for r in md.requires(lib) or []:
    req = Requirement(r)
    if req.marker and not req.marker.evaluate({'extra': ''}): continue
    try: v = md.version(req.name)
    except md.PackageNotFoundError: bad.append(f'{req} (not installed)'); continue
    if req.specifier and not req.specifier.contains(v, prereleases=True): bad.append(f'{req} (found {v})')
print(('ok' if not bad else 'FAIL') + '\tevery requirement of the wheel is satisfied' + (f': missing/bad {bad}' if bad else ''))
PYEOF
report "$TMP/import.log" $?

if [ "${CHECK_PACKAGE_SKIP_CLI:-}" = 1 ]; then
  warn "CHECK_PACKAGE_SKIP_CLI=1: the vae_course command was not run"
else
  step "the installed vae_course command"
  VBIN="$TMP/venv/bin/vae_course"
  [ -x "$VBIN" ] && ok "console script installed: $VBIN" || fail "no console script $VBIN"
  if "$VBIN" --help > "$TMP/help.txt" 2>&1 && grep -q train "$TMP/help.txt"; then ok "vae_course --help (lists train)"
  else cat "$TMP/help.txt"; fail "vae_course --help"; fi
  if out=$("$VBIN" --version 2>&1) && [[ "$out" == *"$VERSION"* ]]; then ok "vae_course --version: $out"
  else fail "vae_course --version printed '$out', expected $VERSION"; fi
  if "$VPY" -m vae_course.cli --help > "$TMP/help2.txt" 2>&1 && grep -q train "$TMP/help2.txt"; then
    ok "python -m vae_course.cli --help (the form accelerate launch / torchrun use)"
  else cat "$TMP/help2.txt"; fail "python -m vae_course.cli --help"; fi

  if [ "${CHECK_PACKAGE_SKIP_TRAIN:-}" = 1 ]; then
    warn "CHECK_PACKAGE_SKIP_TRAIN=1: the training run was skipped"
  else
    step "vae_course train --model ae --epochs 1 on the embedded default data set"
    t=$(date +%s)
    RUN="$TMP/run"
    if VAE_COURSE_DATA="$TMP/data" VAE_COURSE_CACHE="$TMP/cache" MPLBACKEND=Agg \
         "$VBIN" train --model ae --epochs 1 --out "$RUN" > "$TMP/train.log" 2>&1; then
      ok "train finished in $(( $(date +%s) - t )) s"
      "$VPY" - "$RUN" > "$TMP/run.log" 2>&1 <<'PYEOF'
import sys, json, csv
from pathlib import Path
run = Path(sys.argv[1])
def rep(cond, msg): print(('ok' if cond else 'FAIL') + '\t' + msg)
for f in ['config.json', 'metrics.csv', 'loss_curves.png', 'reconstructions.png', 'checkpoints/last.pt', 'checkpoints/best.pt']:
    p = run/f
    if not (p.exists() and p.stat().st_size > 0): rep(False, f'{f} written'); continue
    try:
        if f.endswith('.json'): d = json.loads(p.read_text()); ok, what = isinstance(d, dict) and bool(d), f'{len(d)} keys'
        elif f.endswith('.csv'):
            rows = list(csv.reader(p.open())); ok, what = len(rows) >= 2, f'header + {len(rows) - 1} row(s): {rows[0][:6]}'
        elif f.endswith('.png'):
            ok = p.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
            from PIL import Image; w, h = Image.open(p).size; what = f'{w}x{h} PNG'
        else:
            import torch; ck = torch.load(p, map_location='cpu', weights_only=False)
            ok, what = ck is not None, f'loads: {type(ck).__name__}' + (f' {sorted(ck)[:6]}' if isinstance(ck, dict) else '')
    except Exception as e: ok, what = False, f'{type(e).__name__}: {e}'
    rep(ok, f'{f} ({what})')
PYEOF
      report "$TMP/run.log" $?
    else
      tail -20 "$TMP/train.log"; fail "vae_course train --model ae --epochs 1 exited non-zero (log above)"
    fi
  fi
fi
cd "$ROOT"
summary
[ "$FAILED" -eq 0 ]
