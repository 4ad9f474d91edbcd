"""Check that `nbdev_test --timing` really tested every notebook: nbdev_test exits 0 when no notebook matched.
Usage: count_tested.py LOG (run from the repository root)"""
import re, sys
from pathlib import Path
log = Path(sys.argv[1]).read_text()
tested = re.findall(r'^(\S+\.ipynb): \d+ secs$', log, flags=re.M)
nbs = sorted(p.name for p in Path('nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))
missing = sorted(set(nbs) - set(tested))
print(f"nbdev_test tested {len(tested)} notebooks (expected {len(nbs)}): {', '.join(sorted(tested))}")
if missing: print(f"not tested: {', '.join(missing)}")
sys.exit(0 if nbs and not missing else 1)
