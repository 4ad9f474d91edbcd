"""Loss curves of every registered model on one process, for a before/after check of the training protocol.

`python tools/curves.py OUT.json` trains each model of `MODELS` (and a few option variants) for 2 short epochs on CPU
and writes every history row (times left out); `python tools/curves.py --compare A.json B.json` prints the largest
difference per run and exits 1 unless every number is identical."""
import sys, json, tempfile, warnings
warnings.filterwarnings('ignore')

VARIANTS = {'soft_introvae+warmup': ('soft_introvae', dict(vae_warmup_steps=3, beta_neg_schedule=True)),
            'as_introvae+warmup': ('as_introvae', dict(vae_warmup_steps=3)),
            'vae+binarize': ('vae', dict(binarize=True))}

def run(out):
    import torch
    torch.set_num_threads(1)
    from vae_course.cli import train
    try: from vae_course.registry import MODELS                  # since the model-interface refactor
    except ImportError:                                            # the layout before it, for the "before" file
        from vae_course.cli import load_all_modules; load_all_modules(); from vae_course.core import MODELS
    runs = {m: (m, {}) for m in sorted(MODELS)} | VARIANTS
    res = {}
    for name, (model, hp) in runs.items():
        with tempfile.TemporaryDirectory() as d:
            learn = train(model, epochs=2, out=d, batch_size=32, limit=96, device='cpu', progress=False, **hp)
        res[name] = [{k: v for k, v in r.items() if k not in ('time_s', 'img_per_s')} for r in learn.history]
        print(name, res[name][-1].get('train_loss'), flush=True)
    json.dump(res, open(out, 'w'), indent=1)

def compare(a, b):
    A, B = json.load(open(a)), json.load(open(b))
    bad = 0
    for k in sorted(set(A) | set(B)):
        if k not in A or k not in B: print(f'{k}: only in one file'); bad += 1; continue
        diffs = [abs(x[c] - y.get(c, float('nan'))) if isinstance(x[c], float) else (0 if x[c] == y.get(c) else float('inf'))
                 for x, y in zip(A[k], B[k]) for c in x]
        m = max(diffs) if diffs else 0.
        print(f'{k:24s} {len(A[k])} epochs, {len(A[k][0])} columns, max |difference| {m:.3g}')
        bad += m != 0 or len(A[k]) != len(B[k]) or any(set(x) != set(y) for x, y in zip(A[k], B[k]))
    print('identical' if not bad else f'{bad} runs differ')
    return int(bad > 0)

if __name__ == '__main__':
    if sys.argv[1] == '--compare': sys.exit(compare(sys.argv[2], sys.argv[3]))
    run(sys.argv[1])
