#!/usr/bin/env python
"""Training throughput of the course's `Learner` against a bare PyTorch loop (and pythae), achieved GFLOP/s, options, peak memory.

For three models of the course -- `conv_vae` on MNIST (1x28x28), `desubpixel_vae` on Olivetti faces (1x64x64) and
one Soft-IntroVAE training step (`soft_introvae`, encoder then decoder update, two Adams) on MNIST -- it measures, in
the same process, with the same model, optimizer (Adam, lr 1e-3), batch size, data and number of steps:

* training img/s of `vae_course.learner.Learner.fit` (its own `img_per_s`: the training part of the epoch, as it
  is written to metrics.csv) and of a bare loop `for x, _ in dl: loss = ...; backward(); step()` over the same
  DataLoader (a model with its own training phases, the IntroVAE family, runs them with plain backward and Adam steps);
  the Learner's overhead is 1 - Learner / bare (target: <= 3 %); for `conv_vae` also the Learner with its per-step
  checks, gradient norm and accelerate's wrappers switched off (an ablation), a second identical bare loop (a null
  test: the noise floor of the comparison), and each of those per-step additions timed on its own;
* the same network wrapped in pythae's `VAE`/`BetaVAE` and trained by pythae's `BaseTrainer.train_step` on the
  same images held in memory (pythae is an optional extra: when it is not importable the line says so and the
  run goes on); ratio course / pythae (target >= 1.2);
* FLOPs of one training step (`torch.utils.flop_counter.FlopCounterMode`: convolutions and matrix products of the
  forward and backward passes) divided by the Learner's step time, as a fraction of this machine's sgemm rate
  (a large float32 `torch.mm` with the same thread count, measured right after each model; target >= 30 %);

then, on `conv_vae` with the bare loop, each option on and off (channels_last, torch.compile, in-memory tensors vs
the course's DataLoader, DataLoader workers 0 vs 2; on CUDA also pinned memory, bf16/fp16 autocast,
cudnn.benchmark), and the peak memory of a training step per model and batch size, each in a fresh process
(CPU: `ru_maxrss`; CUDA: `torch.cuda.max_memory_allocated`).

Every timing is a median over `--reps` repetitions after one warm-up, the variants of a comparison interleaved
(rotating order), so that a change in the machine's load hits all of them alike. The 1-minute load average is
printed with every measurement. Results are printed as Markdown tables on stdout, progress on stderr.

    VAE_COURSE_DATA=/work/shared/data python bench/throughput.py --quick      # smoke run, < 2 minutes
    VAE_COURSE_DATA=/work/shared/data python bench/throughput.py              # the recorded run, ~10 minutes on 2 busy cores
    python bench/throughput.py --device cuda                                   # cuda, mps, cpu or auto

pythae (0.1.2) is not a dependency of the course. To include it without touching the course's environment, install it
into a throwaway virtual environment that sees the course's packages, and run this script with that interpreter:

    python -m venv --system-site-packages /tmp/pythae_venv
    echo "import site; site.addsitedir('$(python -c 'import site; print(site.getsitepackages()[0])')')" \
        > /tmp/pythae_venv/lib/python3.11/site-packages/course_env.pth
    /tmp/pythae_venv/bin/pip install pythae
    VAE_COURSE_DATA=/work/shared/data /tmp/pythae_venv/bin/python bench/throughput.py
"""
from __future__ import annotations
import os, sys, time, math, argparse, platform, resource, statistics, tempfile, shutil, queue, logging, warnings, contextlib
import multiprocessing as mp

MODEL_CFGS = {   # name -> data set, channels, image size, latent dim, value range note
    'conv_vae':       dict(dataset='mnist', channels=1, image_size=28, latent_dim=32, data='MNIST 1x28x28'),
    'desubpixel_vae': dict(dataset='olivetti', channels=1, image_size=64, latent_dim=128, data='Olivetti 1x64x64'),
    'soft_introvae':  dict(dataset='mnist', channels=1, image_size=28, latent_dim=32, data='MNIST 1x28x28'),
}
PRESETS = {   # batch size and steps per repetition of each model; memory: batch sizes measured
    'default': dict(reps=7, batch={'conv_vae': 128, 'desubpixel_vae': 32, 'soft_introvae': 128},
                    steps={'conv_vae': 40, 'desubpixel_vae': 3, 'soft_introvae': 4}, option_steps=40,
                    memory={'conv_vae': [32, 128, 512], 'desubpixel_vae': [8, 32], 'soft_introvae': [32, 128]},
                    compile=True),
    'quick':   dict(reps=3, batch={'conv_vae': 128, 'desubpixel_vae': 8, 'soft_introvae': 32},
                    steps={'conv_vae': 10, 'desubpixel_vae': 2, 'soft_introvae': 2}, option_steps=10,
                    memory={'conv_vae': [128], 'desubpixel_vae': [8], 'soft_introvae': [32]}, compile=False),
}
COMPILE_LIMIT_S = 120
LR = 1e-3


def log(*a):
    print(*a, file=sys.stderr, flush=True)

def load1() -> float:
    "The 1-minute load average (NaN where the OS has none)."
    try: return os.getloadavg()[0]
    except (OSError, AttributeError): return math.nan

def loads() -> str:
    try: return '/'.join(f'{v:.2f}' for v in os.getloadavg())
    except (OSError, AttributeError): return 'n/a'

def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.lower().startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()

def sync(dev):
    import torch
    if dev.type == 'cuda': torch.cuda.synchronize(dev)
    elif dev.type == 'mps': torch.mps.synchronize()

def maxrss_mib() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == 'darwin' else r / 1024   # bytes on macOS, KiB on Linux

def median(xs): return statistics.median(xs) if xs else math.nan


# ---------------------------------------------------------------------------------------------------------------
# models, data, one training step

def _models() -> dict:
    "The registry's `MODELS` (every chapter's models, loaded on first use)."
    from vae_course.registry import MODELS
    return MODELS

def build_model(name: str, seed: int = 0):
    "The registered model `name` with the course's defaults for its data set (the registry's `build_model`), weights seeded by `seed`."
    import torch
    from vae_course.registry import build_model as build, model_hparams
    c = MODEL_CFGS[name]
    torch.manual_seed(seed)
    return build(dict(model=name, channels=c['channels'], image_size=c['image_size'], latent_dim=c['latent_dim'],
                      hparams=model_hparams(_models()[name], c['dataset'], {})))

def value_range(name: str):
    return _models()[name].value_range

def get_data(name: str, batch: int, steps: int, num_workers: int = 0):
    "`(train DataLoader, small valid DataLoader, description)`: the course's `get_dataloaders` on the model's data set, `batch * steps` training images (random images of the same shape when the files are missing)."
    import torch
    from torch.utils.data import DataLoader, Subset
    from vae_course.data import get_dataloaders, TensorImageDataset
    from vae_course.imagefiles import DataNotFoundError
    c = MODEL_CFGS[name]
    n = batch * steps
    try:
        dls = get_dataloaders(c['dataset'], batch_size=batch, image_size=c['image_size'], channels=c['channels'],
                              value_range=value_range(name), limit=n, num_workers=num_workers)
        if len(dls.train.dataset) < n: raise DataNotFoundError(f"only {len(dls.train.dataset)} training images, {n} needed")
        train, valid, what = dls.train, dls.valid, c['data']
    except DataNotFoundError as e:
        log(f"  {c['dataset']}: {str(e).splitlines()[0][:160]} -> random images of the same shape")
        g = torch.Generator().manual_seed(0)
        ims = torch.randint(0, 256, (n + batch, c['channels'], c['image_size'], c['image_size']), dtype=torch.uint8, generator=g)
        ds = TensorImageDataset(ims, value_range=value_range(name))
        kw = dict(batch_size=batch, num_workers=num_workers, pin_memory=torch.cuda.is_available(), persistent_workers=num_workers > 0)
        train = DataLoader(Subset(ds, range(n)), shuffle=True, drop_last=True, generator=g, **kw)
        valid = DataLoader(Subset(ds, range(n, n + batch)), **kw)
        what = f"random {c['channels']}x{c['image_size']}x{c['image_size']}"
    small_valid = DataLoader(Subset(valid.dataset, range(min(batch, len(valid.dataset)))), batch_size=batch)
    return train, small_valid, what

def all_images(dl):
    "Every image of a DataLoader's data set as one float tensor (in order)."
    import torch
    from torch.utils.data import DataLoader
    return torch.cat([b[0] for b in DataLoader(dl.dataset, batch_size=1024)])

def own_phases(model) -> bool:
    "True for a model with its own training phases (the IntroVAE family)."
    from vae_course.model import AEModel
    return type(model).training_phases is not AEModel.training_phases

def make_step(model, opts, autocast=None, scaler=None):
    "One training step `step(x) -> loss` (detached): the model's phases with plain backward and optimizer steps (no checks), or loss_terms + backward + Adam."
    import torch
    if own_phases(model):
        from vae_course.model import frozen
        done = [0]
        def step(x):
            terms, carry = {}, {}
            for ph in model.training_phases(done[0]):
                keep = {id(p) for p in (model.parameters() if ph.parameters is None else ph.parameters)}
                with frozen(p for p in model.parameters() if id(p) not in keep): t = model(x, phase=ph.name, carry=carry)
                t[ph.loss].backward()
                for i in ph.optimizers: opts[i].step(); opts[i].zero_grad(set_to_none=True)
                terms.update(t)
            done[0] += 1
            return model.training_terms(terms)['loss']
        return step
    opt = opts[0]
    def step(x):
        with (autocast() if autocast else contextlib.nullcontext()):
            loss = model.loss_terms(x, model(x))['loss']
        if scaler is not None:
            scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
        else:
            loss.backward(); opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()
    return step


# ---------------------------------------------------------------------------------------------------------------
# runners: each call trains one epoch of the same `steps` batches and returns img/s

class LearnerRun:
    "The course's Learner, no callbacks; img/s = the Learner's own `img_per_s` of the epoch (training part)."
    def __init__(self, name, train, valid, dev, stripped=False):
        from vae_course.learner import Learner, DataLoadersPair
        self.learn = l = Learner(build_model(name), DataLoadersPair(train, valid), lr=LR, device=str(dev))
        if stripped:   # an ablation: the Learner without its per-step checks, gradient norm and accelerate's wrappers
            l.check_finite = lambda *a, **k: None
            l.clip_gradients = lambda *a, **k: None
            l.opts = [getattr(o, 'optimizer', o) for o in l.opts]
            l.train_dl = train
    def __call__(self):
        self.learn.fit(1)
        return float(self.learn.history[-1]['img_per_s'])

class BareRun:
    "A bare loop over `batches()` (an iterable of image tensors), the same model, Adam and batch size."
    def __init__(self, name, batches, dev, channels_last=False, autocast=None, fp16=False, before=None, model=None):
        import torch
        self.model = (model or build_model(name)).to(dev)
        if channels_last: self.model = self.model.to(memory_format=torch.channels_last)
        scaler = torch.amp.GradScaler('cuda') if fp16 else None
        self.step = make_step(self.model, self.model.configure_optimizers(LR), autocast, scaler)
        self.batches, self.dev, self.cl, self.before = batches, dev, channels_last, before
    def __call__(self):
        import torch
        if self.before: self.before()
        self.model.train()
        tot, n = torch.zeros((), device=self.dev), 0
        sync(self.dev); t0 = time.perf_counter()
        for x in self.batches():
            x = x.to(self.dev, non_blocking=True)
            if self.cl: x = x.contiguous(memory_format=torch.channels_last)
            tot += self.step(x); n += x.shape[0]
        float(tot); sync(self.dev)
        return n / (time.perf_counter() - t0)

def loader_batches(dl):
    return lambda: (b[0] for b in dl)

def memory_batches(X, batch, steps, dev):
    "In-memory tensors: `X` (already on the device) sliced along a fresh permutation each epoch."
    import torch
    def gen():
        perm = torch.randperm(len(X), device=X.device)
        for i in range(steps): yield X[perm[i * batch:(i + 1) * batch]]
    return gen

class PythaeRun:
    "The same network in pythae's VAE (BetaVAE when the course's beta_kl != 1), trained by pythae's BaseTrainer.train_step."
    def __init__(self, name, X, batch, dev):
        import torch
        from pythae.models import VAE, VAEConfig, BetaVAE, BetaVAEConfig
        from pythae.models.nn import BaseEncoder, BaseDecoder
        from pythae.models.base.base_utils import ModelOutput
        from pythae.trainers import BaseTrainer, BaseTrainerConfig
        from pythae.trainers.training_callbacks import ProgressBarCallback
        from pythae.data.datasets import BaseDataset
        for k in list(logging.root.manager.loggerDict):
            if k.startswith('pythae'): logging.getLogger(k).setLevel(logging.WARNING)
        m = build_model(name)
        bern = getattr(m, 'likelihood', 'gaussian') == 'bernoulli'

        class Enc(BaseEncoder):
            def __init__(self, m): super().__init__(); self.m = m
            def forward(self, x):
                e = self.m.encode(x)
                return ModelOutput(embedding=e['mu'], log_covariance=e['logvar'])
        class Dec(BaseDecoder):
            def __init__(self, m): super().__init__(); self.m = m
            def forward(self, z):
                r = self.m.decode_raw(z)
                return ModelOutput(reconstruction=torch.sigmoid(r) if bern else r)

        kw = dict(input_dim=tuple(m.shape), latent_dim=m.latent_dim, reconstruction_loss='bce' if bern else 'mse')
        beta = float(getattr(m, 'beta_kl', 1.))
        vae = BetaVAE(BetaVAEConfig(beta=beta, **kw), Enc(m), Dec(m)) if beta != 1 else VAE(VAEConfig(**kw), Enc(m), Dec(m))
        self.tmp = tempfile.mkdtemp(prefix='pythae_bench_')
        cfg = BaseTrainerConfig(output_dir=self.tmp, per_device_train_batch_size=batch, per_device_eval_batch_size=batch,
                                num_epochs=1, learning_rate=LR, optimizer_cls='Adam', no_cuda=dev.type != 'cuda')
        self.trainer = BaseTrainer(vae, BaseDataset(X.cpu(), torch.zeros(len(X))), None, cfg)
        self.trainer.prepare_training()
        h = self.trainer.callback_handler   # no progress bar on either side (the Learner runs without ProgressCB)
        h.callbacks = [c for c in h.callbacks if not isinstance(c, ProgressBarCallback)]
        self.dev, self.n = dev, len(self.trainer.train_loader) * batch
    def __call__(self):
        sync(self.dev); t0 = time.perf_counter()
        self.trainer.train_step(epoch=1)
        sync(self.dev)
        return self.n / (time.perf_counter() - t0)
    def close(self): shutil.rmtree(self.tmp, ignore_errors=True)

def interleaved(runners: dict, reps: int, warmup: int = 1) -> dict:
    "Run each runner `warmup` times, then `reps` rounds in rotating order; `{name: [img/s, ...]}` plus '_load' (1-min load average per round)."
    names = list(runners)
    for n in names:
        for _ in range(warmup): runners[n]()
    res = {n: [] for n in names}; res['_load'] = []
    for r in range(reps):
        k = r % len(names)
        for n in names[k:] + names[:k]: res[n].append(runners[n]())
        res['_load'].append(load1())
    return res

def learner_extras(learn, plain_dl, reps: int = 5, number: int = 50) -> dict:
    """Microseconds per training step of what the Learner adds to a bare step (default `train_step` only), each the
    best of `reps` timings of `number` calls: loss and gradient checks, the gradient norm, the epoch's running sums,
    accelerate's optimizer wrapper, accelerate's DataLoader wrapper."""
    import torch, timeit
    m, dev = learn.raw_model, learn.device
    x = next(iter(plain_dl))[0].to(dev)
    m.train(); terms = m.loss_terms(x, learn.model(x)); terms['loss'].backward()
    def best(f, n=number): return min(timeit.repeat(f, number=n, repeat=reps)) / n * 1e6
    def sums():
        s = {}
        for k, v in terms.items():
            v = v.detach().float(); s[k] = s.get(k, 0.) + v.to(dev) * x.shape[0]
        return {k: v.detach() for k, v in terms.items()}
    params = list(m.parameters())
    out = {'check_finite(loss terms)': best(lambda: learn.check_finite(terms)),
           'clip_gradients (gradient norm + its check; max_grad_norm None)': best(lambda: learn.clip_gradients(params, terms)),
           "epoch sums and `learn.terms`": best(sums)}
    acc, raw = learn.opts[0], learn.opts[0].optimizer
    out["accelerate's optimizer wrapper (step + zero_grad)"] = max(0., best(lambda: (acc.step(), acc.zero_grad(set_to_none=True)), 10)
                                                                  - best(lambda: (raw.step(), raw.zero_grad(set_to_none=True)), 10))
    n_b = len(plain_dl)
    out["accelerate's DataLoader wrapper (per batch)"] = max(0., (min(timeit.repeat(lambda: [None for _ in learn.train_dl], number=1, repeat=reps))
                                                                 - min(timeit.repeat(lambda: [None for _ in plain_dl], number=1, repeat=reps))) / n_b * 1e6)
    return out

def paired_ratio(a: list, b: list) -> float:
    return median([x / y for x, y in zip(a, b)])


# ---------------------------------------------------------------------------------------------------------------
# sgemm and FLOPs

def sgemm_gflops(dev, reps: int = 3) -> list:
    "GFLOP/s of float32 `torch.mm` of two n x n matrices (n = 2048 on the CPU, 8192 on a GPU), one per repetition after a warm-up."
    import torch
    n = 2048 if dev.type == 'cpu' else 8192
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    torch.mm(a, b); sync(dev)
    out = []
    for _ in range(reps):
        sync(dev); t0 = time.perf_counter(); torch.mm(a, b); sync(dev)
        out.append(2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return out

def flops_per_image(name, x, dev) -> float:
    "FLOPs of one training step (forward + backward; FlopCounterMode counts convolutions and matrix products) per image."
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    m = build_model(name).to(dev)
    step = make_step(m, m.configure_optimizers(LR))
    with FlopCounterMode(display=False) as fc: step(x.to(dev))
    return fc.get_total_flops() / x.shape[0]


# ---------------------------------------------------------------------------------------------------------------
# children: peak memory, torch.compile

def _mem_child(cfg, q):
    try:
        import torch
        torch.set_num_threads(cfg['threads'])
        from vae_course.core import get_device
        dev = get_device(cfg['device'])
        m = build_model(cfg['model']).to(dev)
        step = make_step(m, m.configure_optimizers(LR))
        c = MODEL_CFGS[cfg['model']]
        lo, hi = value_range(cfg['model'])
        x = torch.rand(cfg['batch'], c['channels'], c['image_size'], c['image_size'], device=dev) * (hi - lo) + lo
        base = maxrss_mib()
        if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats(dev); base_cuda = torch.cuda.memory_allocated(dev) / 2**20
        for _ in range(3): step(x)
        sync(dev)
        r = dict(rss_base=base, rss_peak=maxrss_mib())
        if dev.type == 'cuda': r.update(cuda_base=base_cuda, cuda_peak=torch.cuda.max_memory_allocated(dev) / 2**20)
        q.put(('ok', r))
    except Exception as e:
        q.put(('error', f'{type(e).__name__}: {e}'))

def _compile_child(cfg, q):
    try:
        import torch
        torch.set_num_threads(cfg['threads'])
        import torch._inductor.config as icfg
        icfg.compile_threads = 1                                   # keep the compile on one core
        icfg.fx_graph_cache = False                                # a cold compile: no cache from an earlier run
        os.environ['TORCHINDUCTOR_CACHE_DIR'] = cache = tempfile.mkdtemp(prefix='inductor_bench_')
        from vae_course.core import get_device
        dev = get_device(cfg['device'])
        train, _, _ = get_data('conv_vae', cfg['batch'], cfg['steps'])
        eager = BareRun('conv_vae', loader_batches(train), dev)
        comp = BareRun('conv_vae', loader_batches(train), dev)
        m = comp.model
        fwd = torch.compile(lambda x: m.loss_terms(x, m(x))['loss'], dynamic=False)
        opt = m.configure_optimizers(LR)[0]
        def cstep(x):
            loss = fwd(x); loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
            return loss.detach()
        comp.step = cstep
        x = next(iter(train))[0].to(dev)
        t0 = time.perf_counter(); cstep(x); sync(dev)
        q.put(('compiled', time.perf_counter() - t0))
        res = interleaved(dict(off=eager, on=comp), cfg['reps'])
        shutil.rmtree(cache, ignore_errors=True)
        q.put(('ok', res))
    except Exception as e:
        q.put(('error', f'{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ""}'))

def _ctx():
    "forkserver (fresh, small processes with torch and the course preloaded) where there is one, else spawn."
    try:
        ctx = mp.get_context('forkserver')
        ctx.set_forkserver_preload(['torch', 'vae_course.vae', 'vae_course.desubpixel', 'vae_course.introvae_images'])
        return ctx
    except ValueError:
        return mp.get_context('spawn')

def run_child(target, cfg, timeout=600):
    "Run `target(cfg, q)` in a fresh process; the list of messages it put on the queue (a timeout adds ('timeout', s))."
    ctx = _ctx(); q = ctx.Queue()
    p = ctx.Process(target=target, args=(cfg, q)); p.start()
    msgs, t_end = [], time.time() + timeout
    while True:
        try: msg = q.get(timeout=max(1., t_end - time.time()))
        except queue.Empty:
            msgs.append(('timeout', timeout)); p.kill(); break
        msgs.append(msg)
        if msg[0] in ('ok', 'error'): break
        if msg[0] == 'compiled': t_end = time.time() + timeout   # measuring after the compile gets a fresh budget
    p.join(30)
    return msgs


# ---------------------------------------------------------------------------------------------------------------

def fmt(v, d=1):
    if isinstance(v, str): return v
    if v is None or (isinstance(v, float) and math.isnan(v)): return 'n/a'
    return f'{v:,.{d}f}'

def verdict(ratio: float, paired: float, default_on: bool) -> str:
    "Does the course's default agree with the measured on/off ratios? A difference counts only when the ratio of the medians and the median of the paired ratios are both more than 3 % from 1, on the same side."
    if math.isnan(ratio): return 'n/a'
    if abs(ratio - 1) <= 0.03 or abs(paired - 1) <= 0.03 or (ratio > 1) != (paired > 1): return 'no clear difference (3 % band): default is fine'
    faster = ratio > 1
    if faster == default_on: return f"matches: {'on' if faster else 'off'} is faster"
    return f"does NOT match: {'on' if faster else 'off'} is {abs(ratio - 1) * 100:.0f} % faster"

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cpu', help="cpu, cuda, mps or auto (default: cpu)")
    ap.add_argument('--quick', action='store_true', help='a smoke run (< 2 minutes): fewer steps and repetitions, no torch.compile')
    ap.add_argument('--threads', type=int, default=1, help='torch intra-op threads (default: 1; also used for sgemm)')
    ap.add_argument('--reps', type=int, default=None, help='timed repetitions per variant (default: 7; --quick: 3)')
    ap.add_argument('--models', nargs='+', default=list(MODEL_CFGS), choices=list(MODEL_CFGS))
    ap.add_argument('--no-options', action='store_true', help='skip the options table')
    ap.add_argument('--no-memory', action='store_true', help='skip the peak-memory table')
    ap.add_argument('--no-compile', action='store_true', help='skip torch.compile')
    a = ap.parse_args(argv)
    P = dict(PRESETS['quick' if a.quick else 'default'])
    reps = a.reps or P['reps']
    warnings.filterwarnings('ignore', category=UserWarning)
    t_start = time.time()
    import torch
    torch.set_num_threads(a.threads)
    from vae_course.core import get_device
    try: dev = get_device(a.device)
    except ValueError as e: print(f'error: {e}', file=sys.stderr); return 2
    cuda = dev.type == 'cuda'
    gpu = f', {torch.cuda.get_device_name(dev)}' if cuda else ''
    cmd = 'python bench/throughput.py' + (' ' + ' '.join(sys.argv[1:]) if argv is None and len(sys.argv) > 1 else '')
    print(f"# throughput: {cmd}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPU cores visible, {platform.system()} {platform.machine()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s), device {dev}{gpu}; "
          f"load average (1/5/15 min) at start {loads()}; {'--quick' if a.quick else 'default'} preset, median of {reps} "
          f"repetitions after 1 warm-up, variants interleaved")
    sg_all = sgemm_gflops(dev, 5)
    log(f"sgemm {median(sg_all):.1f} GFLOP/s (load {loads()})")

    try:
        import pythae  # noqa: F401
        have_pythae = dev.type in ('cpu', 'cuda')
        pythae_note = f"pythae {getattr(pythae, '__version__', '')}".strip() if have_pythae else 'pythae runs on cpu/cuda only: skipped'
    except ImportError:
        have_pythae, pythae_note = False, 'pythae not installed: skipped'
    print(pythae_note if not have_pythae else f"{pythae_note}: the same network in pythae's VAE/BetaVAE, BaseTrainer.train_step, data in memory, progress bar removed")

    # -- 1. Learner vs bare loop vs pythae, GFLOP/s ------------------------------------------------------------
    rows = []
    for name in a.models:
        B, S = P['batch'][name], P['steps'][name]
        log(f"{name}: batch {B}, {S} steps per repetition (load {loads()})")
        train, valid, what = get_data(name, B, S)
        runners = dict(learner=LearnerRun(name, train, valid, dev), bare=BareRun(name, loader_batches(train), dev))
        if name == 'conv_vae':   # the overhead target's model: an ablation and a null test (a second, identical bare loop)
            runners['learner_stripped'] = LearnerRun(name, train, valid, dev, stripped=True)
            runners['bare_copy'] = BareRun(name, loader_batches(train), dev)
        prun = None
        if have_pythae and name != 'soft_introvae':
            try: prun = runners['pythae'] = PythaeRun(name, all_images(train), B, dev)
            except Exception as e: log(f"  pythae failed: {type(e).__name__}: {e}"); runners.pop('pythae', None)
        res = interleaved(runners, reps)
        if prun is not None: prun.close()
        extras = learner_extras(runners['learner'].learn, train) if not own_phases(runners['learner'].learn.raw_model) else None
        x = next(iter(train))[0]
        fl = flops_per_image(name, x, dev)
        sg = sgemm_gflops(dev, 3); sg_all += sg
        L, Bm = median(res['learner']), median(res['bare'])
        Pm = median(res.get('pythae', []))
        gfl = fl * L / 1e9
        nparams = sum(p.numel() for p in build_model(name).parameters())
        rows.append(dict(model=name, data=what, params=nparams, batch=B, steps=S, learner=L, bare=Bm,
                         overhead=(1 - L / Bm) * 100, paired=(1 - paired_ratio(res['learner'], res['bare'])) * 100,
                         best=(1 - max(res['learner']) / max(res['bare'])) * 100,
                         pythae=Pm, vs_pythae=L / Pm if Pm == Pm else math.nan,
                         pythae_note=('n/a: pythae has no Soft-IntroVAE' if name == 'soft_introvae' else
                                      'skipped' if not have_pythae else ''),
                         mflop=fl / 1e6, gflops=gfl, sgemm_local=sg,
                         load=median(res['_load']), raw=res, extras=extras))
        log(f"  Learner {L:.1f}, bare {Bm:.1f}, pythae {fmt(Pm)} img/s; {gfl:.2f} GFLOP/s, sgemm now {median(sg):.1f} (load {loads()})")
    sgemm = median(sg_all)   # the denominator: the median of every sgemm sample of the run (robust to a load spike)
    for r in rows: r['sgemm'], r['frac'] = sgemm, r['gflops'] / sgemm * 100

    print()
    print(f"## Learner vs bare loop vs pythae (training img/s, median of {reps}; % of sgemm: of the median of all sgemm samples)")
    print()
    print("| model | data | params | batch | steps/rep | Learner img/s | bare loop img/s | Learner overhead (medians) | "
          "overhead (paired) | overhead (best) | pythae img/s | course / pythae | MFLOP/img (step) | GFLOP/s (Learner) | sgemm GFLOP/s | % of sgemm | load (1 min) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['data']} | {r['params']:,} | {r['batch']} | {r['steps']} | {fmt(r['learner'])} | {fmt(r['bare'])} | "
              f"{r['overhead']:+.1f} % | {r['paired']:+.1f} % | {r['best']:+.1f} % | {fmt(r['pythae']) if r['pythae'] == r['pythae'] else r['pythae_note']} | "
              f"{fmt(r['vs_pythae'], 2) + 'x' if r['vs_pythae'] == r['vs_pythae'] else 'n/a'} | {fmt(r['mflop'])} | "
              f"{fmt(r['gflops'], 2)} | {fmt(r['sgemm'])} | {fmt(r['frac'])} % | {fmt(r['load'], 2)} |")
    print()
    for r in rows:
        raw = r['raw']
        if 'learner_stripped' in raw:
            ls, bc = median(raw['learner_stripped']), median(raw['bare_copy'])
            print(f"{r['model']}: the Learner with check_finite, clip_gradients and accelerate's optimizer and DataLoader wrappers "
                  f"switched off (ablation): {ls:,.1f} img/s, overhead {(1 - ls / r['bare']) * 100:+.1f} % (paired "
                  f"{(1 - paired_ratio(raw['learner_stripped'], raw['bare'])) * 100:+.1f} %); a second, identical bare loop (null test, "
                  f"the noise floor): {bc:,.1f} img/s, {(1 - bc / r['bare']) * 100:+.1f} % (paired {(1 - paired_ratio(raw['bare_copy'], raw['bare'])) * 100:+.1f} %)")
    print()
    print("Per repetition (img/s):")
    for r in rows:
        raw = r['raw']
        print(f"  {r['model']}: " + '; '.join(f"{k} " + ' '.join(f'{v:.1f}' for v in raw[k])
                                              for k in ('learner', 'bare', 'pythae', 'learner_stripped', 'bare_copy') if k in raw)
              + '; load ' + ' '.join(f'{v:.2f}' for v in raw['_load']) + '; sgemm GFLOP/s right after: ' + ' '.join(f'{v:.1f}' for v in r['sgemm_local']))
    print()
    print("Per-step cost of what the Learner adds to a bare step (best of 5 timings each; default `train_step`), against the bare step time:")
    print()
    print("| model | " + " | ".join(next(r['extras'] for r in rows if r['extras']) if any(r['extras'] for r in rows) else []) + " | total | bare step (median) | total / bare step |")
    if any(r['extras'] for r in rows):
        k = len(next(r['extras'] for r in rows if r['extras']))
        print("|---|" + "---:|" * (k + 3))
        for r in rows:
            if not r['extras']: continue
            tot = sum(r['extras'].values()); step_us = r['batch'] / r['bare'] * 1e6
            print(f"| {r['model']} | " + " | ".join(f'{v:.0f} us' for v in r['extras'].values()) +
                  f" | {tot:.0f} us | {step_us / 1e3:.1f} ms | {tot / step_us * 100:.1f} % |")
    print()
    print(f"sgemm ({'2048' if dev.type == 'cpu' else '8192'}^2 float32 torch.mm, {torch.get_num_threads()} thread(s)): median "
          f"{median(sg_all):.1f} GFLOP/s over {len(sg_all)} samples (5 at the start, 3 after each model; min {min(sg_all):.1f}, max {max(sg_all):.1f})")

    # -- 2. options ------------------------------------------------------------------------------------------------
    if not a.no_options:
        name, B, S = 'conv_vae', P['batch']['conv_vae'], P['option_steps']
        log(f"options on {name}: batch {B}, {S} steps (load {loads()})")
        train, _, what = get_data(name, B, S)
        opts = []
        def add(option, default_on, res, on='on', off='off', note=''):
            ron, roff = median(res[on]), median(res[off])
            ratio, paired = ron / roff, paired_ratio(res[on], res[off])
            opts.append(dict(option=option, default='on' if default_on else 'off', on=ron, off=roff, ratio=ratio,
                             paired=paired, verdict=verdict(ratio, paired, default_on), note=note,
                             load=median(res['_load'])))
            log(f"  {option}: on {ron:.1f}, off {roff:.1f} img/s (x{ratio:.3f}) (load {loads()})")
        def skip(option, default_on, why):
            opts.append(dict(option=option, default='on' if default_on else 'off', skipped=why))
            log(f"  {option}: {why}")

        res = interleaved(dict(off=BareRun(name, loader_batches(train), dev),
                               on=BareRun(name, loader_batches(train), dev, channels_last=True)), reps)
        add('channels_last (model and inputs)', False, res)

        if not P['compile'] or a.no_compile:
            skip('torch.compile (forward + loss; backward by AOTAutograd)', False, 'skipped: --quick' if a.quick else 'skipped: --no-compile')
        else:
            log(f"  torch.compile in a fresh process (limit {COMPILE_LIMIT_S} s for the compile) ...")
            msgs = run_child(_compile_child, dict(threads=a.threads, device=str(dev), batch=B, steps=S, reps=reps), COMPILE_LIMIT_S)
            kinds = dict(msgs)
            if 'ok' in kinds:
                add('torch.compile (forward + loss; backward by AOTAutograd)', False, kinds['ok'],
                    note=f"first call (compile) {kinds['compiled']:.0f} s")
            elif 'timeout' in kinds:
                skip('torch.compile (forward + loss; backward by AOTAutograd)', False,
                     f"skipped: compile took more than {COMPILE_LIMIT_S} s" if 'compiled' not in kinds else 'skipped: measurement timed out')
            else:
                skip('torch.compile (forward + loss; backward by AOTAutograd)', False, f"skipped: failed ({kinds.get('error', '?')})")

        X = all_images(train).to(dev)
        res = interleaved(dict(off=BareRun(name, loader_batches(train), dev),
                               on=BareRun(name, memory_batches(X, B, S, dev), dev)), reps)
        add("in-memory tensors (on) vs the course's DataLoader from a Dataset (off)", False, res)

        train2, _, _ = get_data(name, B, S, num_workers=2)
        res = interleaved(dict(off=BareRun(name, loader_batches(train), dev),
                               on=BareRun(name, loader_batches(train2), dev)), reps)
        add('DataLoader num_workers 2 (on) vs 0 (off)', False, res)
        del train2

        if cuda:
            from torch.utils.data import DataLoader
            dl_pin = DataLoader(train.dataset, batch_size=B, shuffle=True, drop_last=True, pin_memory=True)
            dl_nopin = DataLoader(train.dataset, batch_size=B, shuffle=True, drop_last=True, pin_memory=False)
            res = interleaved(dict(off=BareRun(name, loader_batches(dl_nopin), dev), on=BareRun(name, loader_batches(dl_pin), dev)), reps)
            add('pinned memory (DataLoader pin_memory)', True, res)
            bf16 = lambda: torch.autocast('cuda', dtype=torch.bfloat16)
            fp16 = lambda: torch.autocast('cuda', dtype=torch.float16)
            res = interleaved(dict(off=BareRun(name, loader_batches(train), dev),
                                   on=BareRun(name, loader_batches(train), dev, autocast=bf16)), reps)
            add('bf16 autocast', False, res)
            res = interleaved(dict(off=BareRun(name, loader_batches(train), dev),
                                   on=BareRun(name, loader_batches(train), dev, autocast=fp16, fp16=True)), reps)
            add('fp16 autocast + GradScaler', False, res)
            def bench_flag(v): return lambda: setattr(torch.backends.cudnn, 'benchmark', v)
            res = interleaved(dict(off=BareRun(name, loader_batches(train), dev, before=bench_flag(False)),
                                   on=BareRun(name, loader_batches(train), dev, before=bench_flag(True))), reps)
            torch.backends.cudnn.benchmark = False
            add('cudnn.benchmark', False, res)
        else:
            why = 'skipped: no CUDA'
            skip('pinned memory (DataLoader pin_memory)', False, why + " (the course pins when CUDA is available)")
            skip('bf16 autocast', False, why)
            skip('fp16 autocast + GradScaler', False, why)
            skip('cudnn.benchmark', False, why)

        print()
        print(f"## Options ({name}, {what}, batch {B}, {S} steps, bare loop over the course's DataLoader unless the option is the data path; median of {reps})")
        print()
        print("| option | course default | on img/s | off img/s | on/off (medians) | on/off (paired) | default vs measurement | note | load (1 min) |")
        print("|---|---|---:|---:|---:|---:|---|---|---:|")
        for o in opts:
            if 'skipped' in o: print(f"| {o['option']} | {o['default']} | {o['skipped']} | | | | | | |")
            else: print(f"| {o['option']} | {o['default']} | {fmt(o['on'])} | {fmt(o['off'])} | {o['ratio']:.3f} | {o['paired']:.3f} | "
                        f"{o['verdict']} | {o['note']} | {fmt(o['load'], 2)} |")
        print()
        print("Course defaults: channels_last off, torch.compile off, a DataLoader over an in-memory uint8 Dataset (batched "
              "__getitems__), num_workers 0 (`--num-workers`), pin_memory on exactly when CUDA is available, "
              "mixed precision 'no' (`--mixed-precision bf16|fp16`), cudnn.benchmark left at PyTorch's default (off).")

    # -- 3. peak memory ----------------------------------------------------------------------------------------------
    if not a.no_memory:
        mem = []
        for name in a.models:
            for B in P['memory'][name]:
                log(f"memory {name} batch {B} (load {loads()})")
                msgs = dict(run_child(_mem_child, dict(model=name, batch=B, threads=a.threads, device=str(dev)), 600))
                mem.append(dict(model=name, batch=B, **(msgs['ok'] if 'ok' in msgs else dict(error=msgs.get('error', 'timeout'))), load=load1()))
        print()
        what = 'CUDA max_memory_allocated' if cuda else 'resident memory, ru_maxrss'
        print(f"## Peak memory of training steps (a fresh process per row, 1 warm-up + 2 steps on random images; {what})")
        print()
        if cuda:
            print("| model | batch | peak allocated MiB | allocated before the steps MiB | increase MiB | peak RSS MiB | load (1 min) |")
            print("|---|---:|---:|---:|---:|---:|---:|")
        else:
            print("| model | batch | peak RSS MiB | RSS before the first step MiB | increase MiB | load (1 min) |")
            print("|---|---:|---:|---:|---:|---:|")
        for r in mem:
            if 'error' in r: print(f"| {r['model']} | {r['batch']} | failed: {r['error']} | | | |"); continue
            if cuda: print(f"| {r['model']} | {r['batch']} | {r['cuda_peak']:.0f} | {r['cuda_base']:.0f} | {r['cuda_peak'] - r['cuda_base']:.0f} | {r['rss_peak']:.0f} | {r['load']:.2f} |")
            else: print(f"| {r['model']} | {r['batch']} | {r['rss_peak']:.0f} | {r['rss_base']:.0f} | {r['rss_peak'] - r['rss_base']:.0f} | {r['load']:.2f} |")

    print()
    print(f"total {time.time() - t_start:.0f} s; {torch.get_num_threads()} intra-op thread(s) at the end; load average (1/5/15 min) at the end {loads()}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
