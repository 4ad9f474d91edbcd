"""Check that `nbdev_test --timing` really tested every notebook: nbdev_test exits 0 when no notebook matched.
Usage: count_tested.py LOG N_EXPECTED"""
import re, sys
from pathlib import Path
log, expected = Path(sys.argv[1]).read_text(), int(sys.argv[2])
tested = re.findall(r'^(\S+\.ipynb): \d+ secs$', log, flags=re.M)
nbs = sorted(p.name for p in Path('nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))
missing = sorted(set(nbs) - set(tested))
print(f"nbdev_test tested {len(tested)} notebooks (expected {expected}): {', '.join(sorted(tested))}")
if missing: print(f"not tested: {', '.join(missing)}")
sys.exit(0 if tested and not missing and len(tested) >= expected else 1)
