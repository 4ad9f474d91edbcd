#!/usr/bin/env python
"""Time to quality on a CPU: the course's MNIST VAE recipe and pythae's default VAE trained side by side, one thread each.

Two worker processes start together, one per trainer, each with one torch thread (the cores are not shared between
them). Each trains on its own protocol with its own recommended settings and keeps a copy of its weights at fixed
amounts of training time (process CPU time, so that a loaded machine slows the clock too, not only the training):

- the course: `vae_course.vae.ConvVAE` (or the MLP `vae`) trained by `vae_course.learner.Learner` on dynamically
  binarized MNIST (`binarize=True`: every pixel of every batch re-drawn as Bernoulli(grey level)), Adam; the recipe's
  knobs (schedule, batch size, learning rate, latent size, base channels, KL warm-up, weight averaging, CPU bf16
  autocast, channels_last) are options below;
- pythae (`pip install -e ".[bench]"`): `pythae.models.VAE` with its default MLP networks (784-512-32 and back,
  853,840 parameters), `reconstruction_loss='bce'`, trained by its `BaseTrainer` with its default settings (Adam,
  learning rate 1e-4, batch 64, no scheduler) on one fixed binarization of the training images (seed 1).

Afterwards every kept copy of both models is evaluated with the same estimator, `vae_course.evaluation.iwae_bound`
(NLL = -IWAE bound, K = 500 importance samples, generator seed 0) on the same fixed binarization (seed 0) of the first
2,000 MNIST test images, again in two one-thread processes. The script prints both curves (test NLL in nats against
minutes of training) and the CPU time each trainer needs to reach 100, 95 and 90 nats (linear interpolation in
log-time between kept copies), with their ratio.

    python bench/time_to_quality.py                  # 20 minutes of training per trainer, then the evaluation (about 30 min)
    python bench/time_to_quality.py --quick          # the CI smoke: a few seconds of each, 100 test images, K = 20
    python bench/time_to_quality.py --only course --minutes 2 --course-batch-size 64     # one recipe, for the search

Needs MNIST (`VAE_COURSE_DATA`, see vae_course.data) and, for the pythae side, the `bench` extra.
"""
from __future__ import annotations
import os, sys, math, time, json, argparse, platform, subprocess, tempfile, copy
from pathlib import Path
import torch

LEVELS = (100., 95., 90.)


def cpu_time() -> float:
    "CPU seconds used by this process (all its threads): the training clock."
    return time.process_time()


def load_avg() -> str:
    try: return '/'.join(f'{v:.1f}' for v in os.getloadavg())
    except OSError: return 'n/a'


# ----------------------------------------------------------------------------------------------------------------------
# data: the same tensors for both trainers and for the evaluation
def mnist_tensors():
    "MNIST as float tensors in [0, 1]: train (60000, 1, 28, 28), test (10000, 1, 28, 28)."
    from vae_course.data import load_datasets
    train, test, info = load_datasets('mnist')
    def stack(ds):
        if hasattr(ds, 'tensors'): return ds.tensors[0].float()
        xs = getattr(ds, 'x', None)
        if torch.is_tensor(xs): return xs.float()
        return torch.stack([ds[i][0] for i in range(len(ds))]).float()
    return stack(train), stack(test)


def fixed_binarization(x, seed: int):
    "One Bernoulli draw of every pixel of `x` (in [0, 1]) from a seeded generator: a fixed binarized data set."
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(x.shape, generator=g) < x).float()


# ----------------------------------------------------------------------------------------------------------------------
# the course's trainer
class TensorLoader:
    "Shuffled batches `(x, y)` of an in-memory tensor, a new permutation per epoch (drop_last); `set_epoch` like a sampler."
    def __init__(self, x, batch_size: int, shuffle: bool = True, seed: int = 0):
        self.x, self.batch_size, self.shuffle, self.seed, self.epoch = x, batch_size, shuffle, seed, 0
        self.dataset = x
    def set_epoch(self, e): self.epoch = e
    def __len__(self): return len(self.x) // self.batch_size if self.shuffle else math.ceil(len(self.x) / self.batch_size)
    def __iter__(self):
        n = len(self.x)
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 100003 + self.epoch)) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            j = idx[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[j], torch.zeros(len(j), dtype=torch.long)


def course_model(args):
    from vae_course.vae import ConvVAE, MLPVAE
    if args.course_model == 'conv_vae':
        return ConvVAE(1, 28, args.course_latent_dim, base_channels=args.course_base_channels, binarize=True)
    if args.course_model == 'vae':
        return MLPVAE(1, 28, args.course_latent_dim, hidden=args.course_hidden, binarize=True)
    raise SystemExit(f'--course-model must be conv_vae or vae, got {args.course_model!r}')


def train_course(args, out: Path) -> dict:
    from vae_course.core import set_seed
    from vae_course.learner import Learner, Callback, CancelFitException, DataLoadersPair
    from vae_course.vae_tradeoffs import KLAnnealCB
    set_seed(args.seed)
    xtr, xte = mnist_tensors()
    if args.train_limit: xtr = xtr[:args.train_limit]
    model = course_model(args)
    if args.channels_last: model = model.to(memory_format=torch.channels_last)
    budget, marks = args.minutes * 60, sorted(args.marks)
    ema = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(args.course_ema)) if args.course_ema else None
    snaps, t_start = [], [None]

    class ClockCB(Callback):
        "Learning-rate schedule over the CPU-time budget, weight averaging, copies of the weights at the marks, stop at the budget."
        order = -20
        def before_batch(self):
            if not self.learn.training: return
            if t_start[0] is None: t_start[0] = cpu_time()
            frac = min(1., (cpu_time() - t_start[0]) / budget)
            lr = args.course_lr * (0.5 * (1 + math.cos(math.pi * frac)) if args.course_schedule == 'cosine' else 1.)
            if args.course_lr_warmup and self.learn.step < args.course_lr_warmup: lr *= (self.learn.step + 1) / args.course_lr_warmup
            for o in self.learn.opts:
                for g in o.param_groups: g['lr'] = lr
        def after_batch(self):
            if not self.learn.training: return
            if ema is not None: ema.update_parameters(model)
            used = cpu_time() - t_start[0]
            while marks and used >= marks[0] * 60:
                src = ema.module if ema is not None else model
                snaps.append(dict(minutes=marks.pop(0), cpu_s=round(used, 1), wall_s=round(time.perf_counter() - wall0, 1),
                                  steps=self.learn.step, epochs=self.learn.step * args.course_batch_size / len(xtr),
                                  load=load_avg(), state={k: v.detach().clone() for k, v in src.state_dict().items()}))
            if used >= budget or not marks: raise CancelFitException()

    dls = DataLoadersPair(TensorLoader(xtr, args.course_batch_size, seed=args.seed), TensorLoader(xte[:256], 256, shuffle=False))
    cbs = [ClockCB()] + ([KLAnnealCB(1.0, args.course_kl_warmup)] if args.course_kl_warmup else [])
    learn = Learner(model, dls, lr=args.course_lr, cbs=cbs, seed=args.seed, device='cpu',
                    mixed_precision='bf16' if args.course_bf16 else 'no')
    wall0 = time.perf_counter()
    learn.fit(10_000)
    torch.save(dict(kind='course', args=vars(args), snaps=snaps), out/'course.pt')
    n_img = learn.step * args.course_batch_size
    return dict(steps=learn.step, epochs=n_img / len(xtr), cpu_s=cpu_time() - (t_start[0] or 0.), n_params=sum(p.numel() for p in model.parameters()))


# ----------------------------------------------------------------------------------------------------------------------
# pythae's trainer
def pythae_model(latent_dim: int = 32):
    from pythae.models import VAE, VAEConfig
    return VAE(model_config=VAEConfig(input_dim=(1, 28, 28), latent_dim=latent_dim, reconstruction_loss='bce'))


class _Stop(Exception): pass


def train_pythae(args, out: Path) -> dict:
    import logging
    logging.getLogger('pythae').setLevel(logging.WARNING)
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback
    from pythae.data.datasets import BaseDataset
    for name in list(logging.root.manager.loggerDict):                   # pythae logs every epoch at INFO level
        if name.startswith('pythae'): logging.getLogger(name).setLevel(logging.WARNING)
    torch.manual_seed(args.seed)
    xtr, _ = mnist_tensors()
    if args.train_limit: xtr = xtr[:args.train_limit]
    xtr = fixed_binarization(xtr, seed=1)                                # pythae's protocol: one fixed binarization
    model = pythae_model()
    cfg = BaseTrainerConfig(output_dir=str(out/'pythae_runs'), no_cuda=True, num_epochs=100_000,
                            learning_rate=args.pythae_lr, per_device_train_batch_size=args.pythae_batch_size)
    budget, marks = args.minutes * 60, sorted(args.marks)
    snaps, state = [], dict(t0=None, steps=0)
    wall0 = time.perf_counter()

    class Clock(TrainingCallback):
        def on_train_step_end(self, training_config, **kw):              # called after every batch
            state['steps'] += 1
            used = cpu_time() - state['t0']
            while marks and used >= marks[0] * 60:
                snaps.append(dict(minutes=marks.pop(0), cpu_s=round(used, 1), wall_s=round(time.perf_counter() - wall0, 1),
                                  steps=state['steps'], epochs=state['steps'] * args.pythae_batch_size / len(xtr), load=load_avg(),
                                  state={k: v.detach().clone() for k, v in model.state_dict().items()}))
            if used >= budget or not marks: raise _Stop()
        def on_train_begin(self, training_config, **kw): state['t0'] = cpu_time()

    trainer = BaseTrainer(model=model, train_dataset=BaseDataset(xtr, torch.zeros(len(xtr))), eval_dataset=None,
                          training_config=cfg, callbacks=[Clock()])
    try: trainer.train()
    except _Stop: pass
    torch.save(dict(kind='pythae', args=vars(args), snaps=snaps), out/'pythae.pt')
    n_img = state['steps'] * args.pythae_batch_size
    return dict(steps=state['steps'], epochs=n_img / len(xtr), cpu_s=cpu_time() - state['t0'], n_params=sum(p.numel() for p in model.parameters()))


# ----------------------------------------------------------------------------------------------------------------------
# one estimator for both
class PythaeForIWAE(torch.nn.Module):
    "pythae's VAE seen through the interface `iwae_bound` needs: `encode` -> mu, logvar; `decode_raw` -> logits; Bernoulli `log_likelihood`."
    def __init__(self, m):
        super().__init__(); self.m = m
    def encode(self, x):
        o = self.m.encoder(x)
        return dict(mu=o['embedding'], logvar=o['log_covariance'])
    def decode_raw(self, z):
        *body, last = self.m.decoder.layers                               # the last block is Linear + Sigmoid: keep the logits
        h = z
        for l in body: h = l(h)
        return last[0](h).view(-1, 1, 28, 28)
    def log_likelihood(self, x, raw):
        from vae_course.vae import bernoulli_log_likelihood
        return bernoulli_log_likelihood(raw, x)


def evaluate_snaps(kind: str, args, out: Path) -> list:
    from vae_course.evaluation import iwae_bound, fast_copy
    d = torch.load(out/f'{kind}.pt', weights_only=False)
    _, xte = mnist_tensors()
    xt = fixed_binarization(xte, seed=0)[:args.test_images]
    rows = []
    for s in d['snaps']:
        if kind == 'course':
            m = course_model(argparse.Namespace(**d['args'])); m.load_state_dict(s['state']); m = fast_copy(m)
        else:
            pm = pythae_model(); pm.load_state_dict(s['state']); m = PythaeForIWAE(pm).eval()
        g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        ll = torch.cat([iwae_bound(m, xt[i:i + 100], args.k, generator=g) for i in range(0, len(xt), 100)])
        nll = -float(ll.mean())
        rows.append(dict({k: v for k, v in s.items() if k != 'state'}, nll=nll, nll_se=float(ll.std() / math.sqrt(len(ll))),
                         eval_s=round(time.perf_counter() - t0, 1)))
        print(f'[{kind}] {s["minutes"]:g} min ({s["cpu_s"]:.0f} CPU s, {s["epochs"]:.1f} epochs): NLL {nll:.2f} nats '
              f'(K={args.k}, {len(xt)} images, {rows[-1]["eval_s"]:.0f} s)', file=sys.stderr, flush=True)
    return rows


# ----------------------------------------------------------------------------------------------------------------------
def time_to(rows: list, level: float):
    "CPU seconds at which the curve first reaches `level` nats: linear interpolation in log-time between kept copies; None if never."
    prev = None
    for r in rows:
        if r['nll'] <= level:
            if prev is None: return r['cpu_s']
            a, b = math.log(prev['cpu_s']), math.log(r['cpu_s'])
            f = (prev['nll'] - level) / (prev['nll'] - r['nll'])
            return math.exp(a + f * (b - a))
        prev = r
    return None


def worker(args) -> int:
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    role, kind = args.worker.split(':')
    res = (train_course if kind == 'course' else train_pythae)(args, out)    # the clock stops here ...
    (out/f'{kind}_train.json').write_text(json.dumps(res))
    print(f'[{kind}] trained {res["epochs"]:.1f} epochs in {res["cpu_s"]:.0f} CPU s; evaluating; load average {load_avg()}', file=sys.stderr, flush=True)
    (out/f'{kind}_eval.json').write_text(json.dumps(evaluate_snaps(kind, args, out)))   # ... before the evaluation
    return 0


def run_pair(args, role: str, kinds: list, out: Path):
    "Run the workers of `kinds` at the same time, one thread each; raise if one fails."
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads), TQDM_DISABLE='1')
    procs = {k: subprocess.Popen([sys.executable, __file__, *sys.argv[1:], '--worker', f'{role}:{k}', '--out', str(out)], env=env) for k in kinds}
    bad = [k for k, p in procs.items() if p.wait() != 0]
    if bad: raise SystemExit(f'time_to_quality: the {role} worker(s) {bad} failed')


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--minutes', type=float, default=20., help='training budget per trainer, CPU minutes (default: 20)')
    p.add_argument('--marks', default='0.5,1,2,3,5,10,20', help='CPU minutes at which the weights are kept and evaluated')
    p.add_argument('--k', type=int, default=500, help='importance samples of the NLL (default: 500)')
    p.add_argument('--test-images', type=int, default=2000, help='first N test images, one fixed binarization (default: 2000)')
    p.add_argument('--only', choices=['course', 'pythae'], default=None, help='train only one of the two')
    p.add_argument('--quick', action='store_true', help='CI smoke: 6 CPU s of training each, marks 0.05,0.1 min, 100 test images, K = 20')
    p.add_argument('--threads', type=int, default=1, help='torch threads per worker (default: 1)')
    p.add_argument('--train-limit', type=int, default=None, help='train on the first N images (default: all 60,000)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=None, help='folder for the kept weights and the JSON (default: a temporary folder, removed)')
    p.add_argument('--json', default=None, help='also write the results to this JSON file')
    p.add_argument('--plot', default=None, help='also draw the curves into this PNG')
    p.add_argument('--device', default='cpu', help='cpu (the only one measured so far)')
    g = p.add_argument_group('the course\'s recipe')
    g.add_argument('--course-model', default='conv_vae', help='conv_vae or vae (MLP)')
    g.add_argument('--course-latent-dim', type=int, default=32)
    g.add_argument('--course-base-channels', type=int, default=16, help='conv_vae: channels of the first stage')
    g.add_argument('--course-hidden', type=int, default=512, help='vae (MLP): width of the first hidden layer')
    g.add_argument('--course-batch-size', type=int, default=64)
    g.add_argument('--course-lr', type=float, default=1e-3)
    g.add_argument('--course-schedule', choices=['cosine', 'constant'], default='cosine', help='cosine: decay to 0 over --minutes')
    g.add_argument('--course-lr-warmup', type=int, default=0, help='linear learning-rate warm-up steps')
    g.add_argument('--course-kl-warmup', type=int, default=0, help='linear KL warm-up steps (KLAnnealCB)')
    g.add_argument('--course-ema', type=float, default=0., help='keep an exponential moving average of the weights with this decay (0: off)')
    g.add_argument('--course-bf16', action='store_true', help='bf16 autocast (CPUs with AVX512-BF16 or AMX)')
    g.add_argument('--channels-last', action='store_true', help='channels_last weights and activations')
    g = p.add_argument_group('pythae (its defaults)')
    g.add_argument('--pythae-lr', type=float, default=1e-4)
    g.add_argument('--pythae-batch-size', type=int, default=64)
    p.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.minutes, args.marks, args.test_images, args.k = 0.1, '0.05,0.1', 100, 20
    if args.device != 'cpu': raise SystemExit('time_to_quality: only --device cpu is implemented (no GPU was lent when it was written)')
    args.marks = [float(m) for m in str(args.marks).split(',') if float(m) <= args.minutes + 1e-9] if isinstance(args.marks, str) else args.marks
    if args.worker: return worker(args)

    kinds = [args.only] if args.only else ['course', 'pythae']
    tmp = None
    if args.out is None: tmp = tempfile.TemporaryDirectory(prefix='ttq_'); out = Path(tmp.name)
    else: out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    print(f'machine: {platform.machine()}, {os.cpu_count()} CPUs visible, torch {torch.__version__}, {args.threads} thread(s) per trainer; '
          f'load average {load_avg()} at the start', flush=True)
    t0 = time.perf_counter()
    run_pair(args, 'work', kinds, out)
    print(f'trained {", ".join(kinds)} for {args.minutes:g} CPU min each and evaluated {len(args.marks)} copies of each '
          f'in {time.perf_counter() - t0:.0f} s of wall time; load average {load_avg()}', flush=True)
    res = {k: dict(train=json.loads((out/f'{k}_train.json').read_text()), curve=json.loads((out/f'{k}_eval.json').read_text())) for k in kinds}
    if 'course' in res:
        a = args
        print(f'course: {a.course_model} latent {a.course_latent_dim}' + (f' base_channels {a.course_base_channels}' if a.course_model == 'conv_vae' else f' hidden {a.course_hidden}') +
              f', {res["course"]["train"]["n_params"]:,} parameters, dynamic binarization, batch {a.course_batch_size}, Adam lr {a.course_lr:g} '
              f'{a.course_schedule}' + (f', lr warm-up {a.course_lr_warmup}' if a.course_lr_warmup else '') +
              (f', KL warm-up {a.course_kl_warmup} steps' if a.course_kl_warmup else '') + (f', EMA {a.course_ema}' if a.course_ema else '') +
              (', bf16 autocast' if a.course_bf16 else '') + (', channels_last' if a.channels_last else ''))
    if 'pythae' in res:
        print(f'pythae: VAE, default MLP networks, {res["pythae"]["train"]["n_params"]:,} parameters, bce, fixed binarization, '
              f'BaseTrainer: batch {args.pythae_batch_size}, Adam lr {args.pythae_lr:g}, no scheduler')
    print(f'test NLL (nats; -IWAE bound, K={args.k}, first {args.test_images} test images, one fixed binarization, seed 0) '
          f'after CPU minutes of training:')
    print('| CPU min | ' + ' | '.join(f'{k} NLL | {k} epochs' for k in kinds) + ' |')
    print('|---:|' + '---:|---:|' * len(kinds))
    for i, m in enumerate(args.marks):
        cells = []
        for k in kinds:
            c = res[k]['curve']
            cells += [f'{c[i]["nll"]:.2f}', f'{c[i]["epochs"]:.1f}'] if i < len(c) else ['-', '-']
        print(f'| {m:g} | ' + ' | '.join(cells) + ' |')
    print()
    print('| level (nats) | ' + ' | '.join(f'{k} CPU s' for k in kinds) + (' | pythae / course |' if len(kinds) == 2 else ' |'))
    print('|---:|' + '---:|' * len(kinds) + ('---:|' if len(kinds) == 2 else ''))
    ratios = {}
    for lv in LEVELS:
        ts = {k: time_to(res[k]['curve'], lv) for k in kinds}
        cells = [f'{ts[k]:.0f}' if ts[k] is not None else f'not reached in {args.minutes:g} min' for k in kinds]
        if len(kinds) == 2:
            r = ts['pythae'] / ts['course'] if ts['course'] and ts['pythae'] else None
            ratios[lv] = r
            cells.append(f'{r:.1f}x' if r else ('> ' + f'{args.minutes * 60 / ts["course"]:.1f}x' if ts['course'] else 'n/a'))
        print(f'| {lv:g} | ' + ' | '.join(cells) + ' |')
    print(f'load average at the end: {load_avg()}; wall time {time.perf_counter() - t0:.0f} s')
    if args.plot:
        import matplotlib; matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        for k in kinds:
            c = res[k]['curve']
            ax.plot([r['cpu_s'] / 60 for r in c], [r['nll'] for r in c], 'o-', label=k)
        for lv in LEVELS: ax.axhline(lv, color='grey', lw=0.5, ls=':')
        ax.set_xscale('log'); ax.set_xlabel('CPU minutes of training (one thread)'); ax.set_ylabel(f'test NLL, nats (K={args.k})')
        ax.set_title('MNIST: time to quality'); ax.legend(); fig.tight_layout(); fig.savefig(args.plot, dpi=120)
        print(f'figure: {args.plot}')
    if args.json:
        Path(args.json).write_text(json.dumps(dict(args={k: v for k, v in vars(args).items()}, results=res, ratios=ratios), indent=1))
    if tmp: tmp.cleanup()
    return 0


if __name__ == '__main__': sys.exit(main())
