#!/usr/bin/env python
"""Test NLL of the VAE chapter's default `conv_vae` on dynamically binarized MNIST (and Fashion-MNIST), on the CPU.

Trains `conv_vae` (vae_course.vae.ConvVAE, its registry defaults: latent 32, base_channels 16, Bernoulli likelihood)
with dynamic binarization (`binarize=True`: every pixel of every training batch is re-drawn as Bernoulli(grey level))
for a wall-clock budget, then evaluates the test set with `vae_course.evaluation.evaluate`: the one-sample ELBO
and NLL = -IWAE bound with K importance samples (Burda et al. 2015), on one fixed binarization of the test set
(seed 0). Prints the numbers next to the published ones, the training time, img/s and the peak memory.

    python bench/nll_mnist.py                        # the target run: 30 min of training per data set, K = 1000, full test sets
    python bench/nll_mnist.py --minutes 4 --k 1000 --test-limit 500   # a short run

Published MNIST test NLL (nats): VAE 86.76 (Burda et al. 2015, Table 1, dynamic binarization, K = 5000);
pythae VAE 89.78 (fixed binarization, 200 importance samples). There is no standard binarized Fashion-MNIST figure.
"""
from __future__ import annotations
import os, sys, math, time, json, argparse, resource, platform

import torch
from vae_course.core import set_seed
from vae_course.registry import MODELS
from vae_course.learner import Learner, Callback, CancelFitException
from vae_course.data import get_dataloaders
from vae_course.vae import ConvVAE, KLAnnealCB
from vae_course.evaluation import evaluate

PUBLISHED = {'mnist': [('Burda et al. 2015, VAE, dynamic binarization, K=5000', 86.76),
                       ('pythae VAE, fixed binarization, K=200', 89.78)]}


class TimeBudgetCB(Callback):
    "Cosine learning-rate decay from `lr` to 0 over `seconds` of training (validation excluded), then stop."
    order = -20
    def __init__(self, seconds: float, lr: float): self.seconds, self.lr, self.used = seconds, lr, 0.
    def before_batch(self):
        if not self.learn.training: return
        self.t0 = time.perf_counter()
        frac = min(1., self.used / self.seconds)
        for o in self.learn.opts:
            for g in o.param_groups: g['lr'] = self.lr * 0.5 * (1 + math.cos(math.pi * frac))
    def after_batch(self):
        if not self.learn.training: return
        self.used += time.perf_counter() - self.t0
        if self.used >= self.seconds: raise CancelFitException()


def peak_mib() -> float:
    "Peak resident memory of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == 'darwin' else r / 2**10


def run(dataset: str, args) -> dict:
    set_seed(args.seed)
    dls = get_dataloaders(dataset, batch_size=args.batch_size, seed=args.seed, limit=args.train_limit)
    spec = MODELS['conv_vae']
    hp = dict(spec.hparams, binarize=True)
    model = ConvVAE(1, 28, args.latent_dim, **hp)
    tb = TimeBudgetCB(args.minutes * 60, args.lr)
    cbs = [tb] + ([KLAnnealCB(1.0, args.warmup_steps)] if args.warmup_steps else [])
    learn = Learner(model, dls, lr=args.lr, cbs=cbs, seed=args.seed, device='cpu')
    t0 = time.perf_counter()
    learn.fit(args.epochs)
    wall = time.perf_counter() - t0
    n_seen = learn.step * args.batch_size
    print(f'[{dataset}] trained {learn.step} steps ({n_seen / dls.info.n_train:.1f} epochs of {dls.info.n_train} images) '
          f'in {tb.used:.0f} s of training ({wall:.0f} s with validation), {n_seen / max(tb.used, 1e-9):.0f} img/s', flush=True)
    t1 = time.perf_counter()
    res = evaluate(model, dls, nll_samples=args.k, max_images=args.test_limit, seed=0)
    ev = time.perf_counter() - t1
    print(f'[{dataset}] evaluated {res["n_images"]} test images with K={args.k} in {ev:.0f} s', flush=True)
    return dict(dataset=dataset, steps=learn.step, epochs=round(n_seen / dls.info.n_train, 2), train_s=round(tb.used, 1),
                img_per_s=round(n_seen / max(tb.used, 1e-9), 1), eval_s=round(ev, 1), n_params=model.n_params(), **res)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--minutes', type=float, default=30., help='training wall-clock budget per data set (default: 30)')
    p.add_argument('--epochs', type=int, default=10_000, help='at most this many epochs (default: until the time budget)')
    p.add_argument('--k', type=int, default=1000, help='importance samples of the NLL (default: 1000)')
    p.add_argument('--test-limit', type=int, default=None, help='evaluate on the first N test images (default: all 10,000)')
    p.add_argument('--train-limit', type=int, default=None, help='train on N images (default: all 60,000)')
    p.add_argument('--datasets', default='mnist,fashion_mnist', help='comma-separated (default: mnist,fashion_mnist)')
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--lr', type=float, default=1e-3, help='initial learning rate, cosine-decayed to 0 over the budget (default: 1e-3)')
    p.add_argument('--latent-dim', type=int, default=MODELS['conv_vae'].default_latent_dim)
    p.add_argument('--warmup-steps', type=int, default=0, help='linear KL warm-up steps (default: 0, none)')
    p.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch\'s choice)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', default=None, help='also write the results to this JSON file')
    args = p.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)
    print(f'machine: {platform.machine()}, {os.cpu_count()} CPUs visible, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads; conv_vae latent {args.latent_dim}, batch {args.batch_size}, lr {args.lr} (cosine), '
          f'{args.minutes:g} min per data set, K={args.k}, test images: {args.test_limit or "all"}', flush=True)
    rows = [run(d.strip(), args) for d in args.datasets.split(',') if d.strip()]
    print()
    print('| data (binarized) | epochs | train s | img/s | test images | K | test -ELBO (nats) | test NLL (nats) | bits/dim | PSNR dB |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for r in rows:
        print(f"| {r['dataset']} | {r['epochs']} | {r['train_s']:.0f} | {r['img_per_s']:.0f} | {r['n_images']} | {r['nll_samples']} | "
              f"{-r['elbo']:.2f} | {r['nll']:.2f} | {r['bits_per_dim']:.4f} | {r['psnr']:.1f} |")
    for d, refs in PUBLISHED.items():
        for name, v in refs: print(f'published {d}: {name}: NLL {v} nats')
    print(f'peak memory (ru_maxrss): {peak_mib():.0f} MiB')
    if args.json:
        with open(args.json, 'w') as f: json.dump(dict(args=vars(args), results=rows, peak_mib=peak_mib()), f, indent=2)
    return 0


if __name__ == '__main__': sys.exit(main())
