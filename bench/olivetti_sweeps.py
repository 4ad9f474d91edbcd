"""Quality sweeps on the 400 Olivetti faces behind the prose of two chapters (issue 13), one change per run:

- `desubpixel`: the showcase desubpixel VAE of chapter 07b (2,000 steps, batch 32, one-cycle lr 2e-3, beta_kl 0.01,
  one block per stage, final_size 16) and what each regularizer does to the PSNR of the encoder's reconstructions
  of the 40 validation faces (the chapter's 24 dB gate), the same on 40 training faces, and the collapse ratio;
- `as_introvae`: AS-IntroVAE of chapter 08c (tanh, batch 32, Adam 5e-4) for several beta_neg and budgets: collapse
  ratio of the validation reconstructions, FID/KID of 400 prior samples on QualityNet('olivetti') features (not
  Inception), and the size of expELBO(fake).

usage: python bench/olivetti_sweeps.py desubpixel [VARIANT ...]    (default: every variant; --list prints them)
       python bench/olivetti_sweeps.py as_introvae [VARIANT ...]
       --quick: a smoke test (20 steps or 1 epoch per variant, no FID); --json FILE: append one JSON line per run.
One CPU thread per run (set here): a desubpixel run takes 9-15 minutes, an AS-IntroVAE run 4-7 minutes on this
machine's cores. Needs Olivetti (`VAE_COURSE_DATA`, see the data chapter). Recorded results: bench/README.md."""
import argparse, contextlib, json, os, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
from torchvision.transforms import v2

DESUBPIXEL = {   # name -> (settings of `vae_course train` over the showcase's, what else changes)
    'baseline': ({}, None),
    'augment': ({'augment': True}, None),                    # the project's perspective warp, resized crop and flip
    'flip': ({'augment': True}, 'flip'),                     # horizontal flips only
    'final_size_8': ({'final_size': 8}, None),               # half the parameters (smaller fully connected layers)
    'beta_kl_0.04': ({'beta_kl': 0.04}, None),
    'encoder_noise_0.1': ({}, 0.1),                          # Gaussian noise on the encoder's input while training (Shu et al. 2018)
    'encoder_noise_0.3': ({}, 0.3),
    'lr_4e-4_constant': ({'lr': 4e-4, 'lr_schedule': 'constant'}, None),
    'latent_64': ({'latent_dim': 64}, None),
}
SHOWCASE = dict(steps=2000, batch_size=32, lr=0.002, lr_schedule='one_cycle', beta_kl=0.01, n_blocks=1, final_size=16)
AS_INTROVAE = {  # name -> (beta_neg, epochs of 11 steps)
    'beta_neg_128_880': (128., 80), 'beta_neg_1024_880': (1024., 80),
    'beta_neg_256_1760': (256., 160), 'beta_neg_512_1760': (512., 160),
}

@contextlib.contextmanager
def patched(extra):
    "Run with flips as the only augmentation (`extra == 'flip'`) or noise of std `extra` on the encoder's input in training."
    import vae_course.data as data
    from vae_course.desubpixel import DesubpixelVAE
    aug, enc = data._augmentations, DesubpixelVAE.encode
    if extra == 'flip': data._augmentations = lambda size: [v2.RandomHorizontalFlip(0.5)]
    elif extra is not None:
        def encode(self, x):
            return enc(self, x + extra * torch.randn_like(x) if self.training else x)
        DesubpixelVAE.encode = encode
    try: yield
    finally: data._augmentations, DesubpixelVAE.encode = aug, enc

def faces(value_range):
    from vae_course.data import get_dataloaders
    kw = dict(batch_size=64, image_size=64, value_range=value_range)
    return (torch.cat([b[0] for b in get_dataloaders('olivetti', seed=0, **kw).train]),
            torch.cat([b[0] for b in get_dataloaders('olivetti', **kw).valid]))

def run_desubpixel(name, quick):
    from vae_course.cli import train
    from vae_course.evaluation import psnr_ssim
    from vae_course.quality import collapse_ratio
    from vae_course.perceptual import gaussian_nll_constant
    settings, extra = DESUBPIXEL[name]
    args = dict(SHOWCASE, **settings, **({'steps': 20} if quick else {}))
    x_train, xv = faces((-1., 1.))
    t0 = time.process_time()
    with patched(extra), tempfile.TemporaryDirectory() as tmp:
        learn = train('desubpixel_vae', 'olivetti', out=Path(tmp)/'run', progress=False, **args)
    m = learn.raw_model.eval().cpu()
    with torch.no_grad(): xr, xt = m.reconstruct(xv), m.reconstruct(x_train[:40])
    return dict(sweep='desubpixel', variant=name, settings=args, extra=extra, cpu_s=round(time.process_time() - t0),
                psnr_valid_db=float(psnr_ssim(xr, xv, (-1, 1))[0].mean()), psnr_train_db=float(psnr_ssim(xt, x_train[:40], (-1, 1))[0].mean()),
                collapse_ratio=collapse_ratio(xr, xv), valid_rec_minus_const=learn.history[-1]['valid_rec'] - gaussian_nll_constant((1, 64, 64)))

def run_as_introvae(name, quick):
    from vae_course.learner import Learner, ProgressCB
    from vae_course.core import set_seed
    from vae_course.introvae import INTROVAE_HPARAMS
    from vae_course.introvae_images import as_introvae
    from vae_course.data import get_dataloaders
    from vae_course.quality import quality_report, quality_net, collapse_ratio
    beta_neg, epochs = AS_INTROVAE[name]
    epochs = 1 if quick else epochs
    dls = get_dataloaders('olivetti', batch_size=32, seed=0, **({'limit': 64} if quick else {}))
    set_seed(0)
    m = as_introvae(1, 64, 64, base_channels=16, squash=True, **dict(INTROVAE_HPARAMS['as_introvae']['olivetti'], beta_neg=beta_neg))
    t0 = time.process_time()
    learn = Learner(m, dls, lr=5e-4, cbs=[ProgressCB(bar=False, print_every=20)], seed=0); learn.fit(epochs)
    m = m.eval().cpu()
    xv, _ = map(torch.cat, zip(*dls.valid))
    e = [r['train_exp_elbo_fake'] for r in learn.history]
    r = dict(sweep='as_introvae', variant=name, beta_neg=beta_neg, steps=epochs * len(dls.train), cpu_s=round(time.process_time() - t0),
             collapse_ratio=collapse_ratio(m.reconstruct(xv), xv), exp_elbo_fake_mean=float(np.mean(e)), exp_elbo_fake_last5=float(np.mean(e[-5:])))
    if not quick:
        q = quality_report(m, 'olivetti', n_samples=400, net=quality_net('olivetti'))
        r.update(feature_net='QualityNet(olivetti)', fid=q['fid'], kid=q['kid'])
    return r

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('sweep', choices=['desubpixel', 'as_introvae'])
    p.add_argument('variants', nargs='*', help='names from --list (default: all)')
    p.add_argument('--list', action='store_true', help='print the variants of the sweep and exit')
    p.add_argument('--quick', action='store_true', help='a smoke test: 20 steps or 1 epoch per variant, no FID')
    p.add_argument('--json', default=None, help='append one JSON line per run to this file')
    a = p.parse_args(argv)
    table = DESUBPIXEL if a.sweep == 'desubpixel' else AS_INTROVAE
    if a.list: print('\n'.join(table)); return 0
    bad = [v for v in a.variants if v not in table]
    if bad: p.error(f"unknown variant(s) {bad}; --list prints the {a.sweep} variants")
    os.environ.setdefault('OMP_NUM_THREADS', '1'); torch.set_num_threads(1)
    for v in a.variants or list(table):
        r = (run_desubpixel if a.sweep == 'desubpixel' else run_as_introvae)(v, a.quick)
        print(json.dumps(r), flush=True)
        if a.json:
            with open(a.json, 'a') as f: f.write(json.dumps(r) + '\n')
    return 0

if __name__ == '__main__': sys.exit(main())
