#!/usr/bin/env python
"""The VAE, IntroVAE, Soft-IntroVAE and AS-IntroVAE on the four 2D toys of Soft-IntroVAE's paper, after the same number of steps.

For each toy (8 Gaussians, two spirals, checkerboard, rings) it trains, with `vae_course.introvae_toys.fit_toy`, the models of
`toy_models`: a VAE (`ToyVAE`: 3 hidden layers of 128 units, 2-d code, L_r + KL) and IntroVAE, Soft-IntroVAE and
AS-IntroVAE around the same network (`INTROVAE_HPARAMS` for the toy, a VAE warm-up, then the introspective game), with
the same steps, batch and learning rate (`--models` picks some), and prints, from `toy_scores`:

- the histogram KL(data || model) and Jensen-Shannon divergence of 20,000 samples on a 100 x 100 grid of bins over the
  toy's square (nats; JSD <= ln 2 = 0.693), lower is better;
- the grid-normalized log-likelihood of 20,000 test points under exp(-ELBO at z = mu) normalized over the square
  (nats per point), higher is better;
- the wall time and the CPU time of each training run.

    python bench/introvae_2d.py                          # 5000 steps (1000 of warm-up), all four toys and models, 1 thread
    python bench/introvae_2d.py --steps 2000 --warmup 500 --toys rings 8gaussians --seeds 0 1 --models VAE Soft-IntroVAE
"""
from __future__ import annotations
import os, sys, time, argparse, platform


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=5000, help='training steps per model (default: 5000)')
    p.add_argument('--warmup', type=int, default=1000, help="Soft-IntroVAE's VAE warm-up steps (default: 1000)")
    p.add_argument('--batch', type=int, default=256, help='batch size (default: 256)')
    p.add_argument('--lr', type=float, default=1e-3, help='Adam learning rate, /10 for the last 20%% of the steps (default: 1e-3)')
    p.add_argument('--toys', nargs='+', default=None, help='toys to run (default: all four)')
    p.add_argument('--models', nargs='+', default=None, help="models of `toy_models` to run (default: all four)")
    p.add_argument('--seeds', nargs='+', type=int, default=[0], help='seeds (default: 0)')
    p.add_argument('--threads', type=int, default=1, help='torch intra-op threads (default: 1)')
    args = p.parse_args(argv)

    import torch
    from vae_course.core import set_seed, table
    from vae_course.introvae import TOY_DATASETS, toy_scores
    from vae_course.introvae_toys import fit_toy, toy_models
    torch.set_num_threads(args.threads)
    toys = args.toys or list(TOY_DATASETS)
    bad = [t for t in toys if t not in TOY_DATASETS]
    if bad: p.error(f"unknown toy(s) {', '.join(bad)}: choose from {', '.join(TOY_DATASETS)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}, "
          f"torch {torch.__version__}, {args.threads} thread(s); {args.steps} steps, batch {args.batch}, lr {args.lr}, "
          f"Soft-IntroVAE warm-up {args.warmup} steps", flush=True)
    rows, t_all = [], time.perf_counter()
    for name in toys:
        for seed in args.seeds:
            set_seed(seed)
            for label, model in toy_models(name, vae_warmup_steps=args.warmup).items():
                if args.models and label not in args.models: continue
                c0 = time.process_time()
                learn = fit_toy(model, name, steps=args.steps, batch_size=args.batch, lr=args.lr, seed=seed)
                cpu = time.process_time() - c0
                sc = toy_scores(model, name)
                rows.append(dict(toy=name, seed=seed, model=label, steps=learn.step, kl=round(sc['kl'], 4), jsd=round(sc['jsd'], 4),
                                 grid_ll=round(sc['grid_ll'], 3), wall_s=round(learn.wall_time, 1), cpu_s=round(cpu, 1)))
                print(' '.join(f'{k}={v}' for k, v in rows[-1].items()), flush=True)
    print()
    print(table(rows).data)
    vae = {(q['toy'], q['seed']): q['jsd'] for q in rows if q['model'] == 'VAE'}
    for label in sorted({r['model'] for r in rows} - {'VAE'}):
        mine = [r for r in rows if r['model'] == label and (r['toy'], r['seed']) in vae]
        if mine: print(f"{label} has a lower JSD than the VAE in {sum(r['jsd'] < vae[r['toy'], r['seed']] for r in mine)} of {len(mine)} runs")
    print(f"total wall time {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == '__main__':
    sys.exit(main())
