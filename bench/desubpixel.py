#!/usr/bin/env python
"""Desubpixel vs strided convolutions: parameters, training speed and peak memory of the encoder/decoder pair.

Builds `vae_course.desubpixel.DesubpixelEncoder` + `DesubpixelDecoder` twice per image size: with `resample='desubpixel'`
(PixelUnshuffle + 1x1 conv down, 1x1 conv + PixelShuffle up: the reference architecture) and `resample='strided'`
(3x3 stride-2 conv down, 4x4 stride-2 transposed conv up), the same depth otherwise (same stages, residual blocks,
1x1 channel reductions and FC layers). For each it times a forward + backward pass of encoder and decoder
(loss = mean squared reconstruction error + mean of mu^2) on random images and reports images per second (median
over repetitions, after one warm-up step) and the peak memory of that step. Each configuration runs in a fresh
process, so that the peak resident memory (CPU: `ru_maxrss` above the level reached before the first step) is its own;
on CUDA the peak is `torch.cuda.max_memory_allocated`.

    python bench/desubpixel.py                                  # 64 and 128, batch 16, 5 residual blocks, 1 thread
    python bench/desubpixel.py --sizes 64 128 256 --batch 8 --reps 3 --threads 2
"""
from __future__ import annotations
import os, sys, time, argparse, platform, resource, statistics
import multiprocessing as mp


def _measure(cfg: dict, q) -> None:
    "Child process: build one encoder/decoder pair, time `reps` training steps, put a result dict on `q`."
    import torch
    from vae_course.desubpixel import DesubpixelEncoder, DesubpixelDecoder
    torch.set_num_threads(cfg['threads'])
    torch.manual_seed(0)
    dev = torch.device(cfg['device'])
    kw = dict(channels=cfg['channels'], image_size=cfg['size'], latent_dim=cfg['latent_dim'], n_blocks=cfg['n_blocks'],
              final_size=cfg['final_size'], resample=cfg['resample'])
    enc, dec = DesubpixelEncoder(**kw).to(dev), DesubpixelDecoder(**kw).to(dev)
    x = torch.rand(cfg['batch'], cfg['channels'], cfg['size'], cfg['size'], device=dev) * 2 - 1
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-4)

    def step():
        mu, logvar = enc(x)
        x_hat = torch.tanh(dec(mu))
        loss = (x_hat - x).pow(2).mean() + mu.pow(2).mean()
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        if dev.type == 'cuda': torch.cuda.synchronize()

    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    step()                                                    # warm-up (allocations, oneDNN kernel choice)
    times = []
    for _ in range(cfg['reps']):
        t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
    peak_mib = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == 'cuda'
                else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_kib) / 1024)
    q.put(dict(size=cfg['size'], resample=cfg['resample'], stages=enc.n_down,
               enc_params=sum(p.numel() for p in enc.parameters()), dec_params=sum(p.numel() for p in dec.parameters()),
               img_per_s=cfg['batch'] / statistics.median(times), ms_per_step=1e3 * statistics.median(times), peak_mib=peak_mib))


def run(cfg: dict) -> dict:
    "Measure one configuration in a fresh process (spawned, so its memory peak is its own)."
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(target=_measure, args=(cfg, q))
    p.start(); res = q.get(); p.join()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', type=int, nargs='+', default=[64, 128], help='image sides (default: 64 128)')
    ap.add_argument('--batch', type=int, default=16, help='images per step (default: 16)')
    ap.add_argument('--n-blocks', type=int, default=5, help='residual blocks per stage (default: 5, the reference)')
    ap.add_argument('--final-size', type=int, default=32, help='side of the last feature maps (default: 32, the reference)')
    ap.add_argument('--latent-dim', type=int, default=128)
    ap.add_argument('--channels', type=int, default=3)
    ap.add_argument('--reps', type=int, default=5, help='timed steps per configuration (default: 5)')
    ap.add_argument('--threads', type=int, default=1, help='torch intra-op threads (default: 1)')
    ap.add_argument('--device', default='cpu', help='cpu or cuda (default: cpu)')
    a = ap.parse_args(argv)
    import torch
    print(f"# desubpixel vs strided: torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {a.threads} thread(s), device {a.device}, batch {a.batch}, {a.channels}x{{size}}x{{size}} "
          f"inputs, {a.n_blocks} residual blocks per stage, final_size {a.final_size}, latent {a.latent_dim}, median of {a.reps} steps")
    rows = []
    for size in a.sizes:
        for resample in ('desubpixel', 'strided'):
            cfg = dict(size=size, resample=resample, batch=a.batch, n_blocks=a.n_blocks, final_size=a.final_size,
                       latent_dim=a.latent_dim, channels=a.channels, reps=a.reps, threads=a.threads, device=a.device)
            r = run(cfg); rows.append(r)
            print(f"  measured {size}x{size} {resample}: {r['img_per_s']:.1f} img/s", file=sys.stderr, flush=True)
    mem = 'peak MiB (CUDA allocated)' if a.device.startswith('cuda') else 'peak MiB (RSS increase)'
    print(f"| size | network | downsamplings | encoder params | decoder params | fwd+bwd img/s | ms/step | {mem} |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['size']} | {r['resample']} | {r['stages']} | {r['enc_params']:,} | {r['dec_params']:,} | "
              f"{r['img_per_s']:.1f} | {r['ms_per_step']:.0f} | {r['peak_mib']:.0f} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
