"""The model contract, checked for every entry of `vae_course.registry.MODELS` (pythae's per-model tests, applied to the
whole registry): build, forward shapes, a training step changes the weights and an evaluation step changes nothing
(BatchNorm buffers included), every phase runs under autocast, save and load round-trip, samples have the right shape
and range, `evaluate` gives finite likelihoods for every model with a posterior, and a resumed run continues exactly.

Run: `python -m pytest tests/test_contract.py -q` (about a minute on one CPU core)."""
import copy, math, warnings
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from vae_course.core import set_seed
from vae_course.model import AEModel, has_posterior, Phase
from vae_course.registry import MODELS, build_model, default_config, load_model
from vae_course.learner import Learner, Callback, DataLoadersPair, CancelFitException
from vae_course.runs import CheckpointCB
from vae_course.evaluation import evaluate

warnings.filterwarnings('ignore')
torch.set_num_threads(1)
NAMES = sorted(MODELS)
SMALL = {'desubpixel_vae': dict(n_blocks=1), 'introvae': dict(base_channels=8), 'soft_introvae': dict(base_channels=8),
         'as_introvae': dict(base_channels=8), 'conv_vae_bn_ref': dict(image_size=190)}   # fewer channels or pixels, the same code paths: keeps the suite near a minute

def config(name):
    return default_config(name, **SMALL.get(name, {}))

def data(cfg, n=16, seed=0):
    "n images of the configuration's shape in its value range; binarizable values for a Bernoulli model."
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, cfg['channels'], cfg['image_size'], cfg['image_size'], generator=g)
    lo, hi = cfg['value_range']
    return x * (hi - lo) + lo

def dls(cfg, n=16, bs=8):
    x = data(cfg, n)
    return DataLoadersPair(DataLoader(TensorDataset(x), bs, shuffle=True, generator=torch.Generator().manual_seed(0)),
                           DataLoader(TensorDataset(x), bs))

def learner(name, **kw):
    cfg = config(name)
    set_seed(0)
    return Learner(build_model(cfg), dls(cfg), lr=1e-3, device='cpu', seed=0, config=cfg, **kw), cfg

def state(m): return {k: v.detach().clone() for k, v in m.state_dict().items()}
def changed(a, b): return [k for k in a if not torch.equal(a[k], b[k])]

@pytest.mark.parametrize('name', NAMES)
def test_build_and_forward(name):
    cfg = config(name)
    m = build_model(cfg).eval()
    assert isinstance(m, AEModel)
    x = data(cfg, 3)
    with torch.no_grad():
        z, xr = m.embed(x), m.reconstruct(x)
    assert z.shape == (3, cfg['latent_dim']) and xr.shape == x.shape
    lo, hi = cfg['value_range']
    assert float(xr.min()) >= lo - 1e-6 and float(xr.max()) <= hi + 1e-6
    assert has_posterior(m) == (name not in ('ae', 'conv_ae'))
    assert all(isinstance(p, Phase) for p in m.training_phases(0))

@pytest.mark.parametrize('name', NAMES)
def test_train_step_changes_weights_eval_step_does_not(name):
    learn, cfg = learner(name)
    m, x = learn.raw_model, data(cfg, 8)
    before = state(m)
    m.eval()
    with torch.no_grad(): learn.valid_step(x)
    assert changed(before, state(m)) == []                      # parameters and BatchNorm buffers untouched
    m.train()
    terms = learn.train_step(x)
    assert all(math.isfinite(float(v.detach())) for v in terms.values())
    moved = changed(before, state(m))
    params = [k for k, _ in m.named_parameters()]
    assert set(params) <= set(moved), f'not trained: {sorted(set(params) - set(moved))[:5]}'
    assert all(p.requires_grad for p in m.parameters())         # no phase leaves a parameter frozen

@pytest.mark.parametrize('name', NAMES)
def test_every_phase_runs_under_autocast(name):
    learn, cfg = learner(name, mixed_precision='bf16')
    m, seen = learn.raw_model, []
    hooks = [mod.register_forward_pre_hook(lambda *a: seen.append(torch.is_autocast_enabled('cpu')))
             for mod in m.modules() if isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d))]
    m.train(); learn.train_step(data(cfg, 8))
    for h in hooks: h.remove()
    assert seen and all(seen), f'{seen.count(False)} of {len(seen)} layer calls ran without autocast'

@pytest.mark.parametrize('name', NAMES)
def test_save_load_round_trip(name, tmp_path):
    learn, cfg = learner(name, cbs=[CheckpointCB(tmp_path/'checkpoints')])
    learn.fit(1)
    m = load_model(tmp_path)
    assert not m.training and type(m) is type(learn.raw_model)
    x = data(cfg, 4, seed=1)
    with torch.no_grad(): a, b = m.reconstruct(x), learn.raw_model.eval().reconstruct(x)
    assert torch.equal(a, b)

@pytest.mark.parametrize('name', [n for n in NAMES if n not in ('ae', 'conv_ae')])
def test_sample_shape_and_range(name):
    cfg = config(name)
    m = build_model(cfg).eval()
    s = m.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, cfg['channels'], cfg['image_size'], cfg['image_size'])
    lo, hi = cfg['value_range']
    assert float(s.min()) >= lo - 1e-6 and float(s.max()) <= hi + 1e-6
    assert torch.equal(s, m.sample(5, generator=torch.Generator().manual_seed(0)))

@pytest.mark.parametrize('name', NAMES)
def test_evaluate(name):
    cfg = config(name)
    m = build_model(cfg)
    r = evaluate(m, DataLoader(TensorDataset(data(cfg, 6)), 3), nll_samples=4)
    assert r['n_images'] == 6 and math.isfinite(r['psnr']) and math.isfinite(r['ssim'])
    keys = ('elbo', 'rec', 'kl', 'nll', 'bits_per_dim', 'elbo_bits_per_dim')
    if has_posterior(m): assert all(r[k] is not None and math.isfinite(r[k]) for k in keys), r
    else: assert all(r[k] is None for k in keys)
    assert r['nll'] is None or r['nll'] <= -r['elbo'] + 50          # the IWAE bound is not looser than the ELBO (up to noise)

class StopAfterFirstEpoch(Callback):
    "An interruption: cancel the fit after the first epoch (schedules still plan for the whole run)."
    order = 30
    def after_epoch(self): raise CancelFitException()

@pytest.mark.parametrize('name', NAMES)
def test_resume_continues_identically(name, tmp_path):
    learn, _ = learner(name, cbs=[CheckpointCB(tmp_path/'a')])
    learn.fit(2)
    straight = state(learn.raw_model)
    learn, _ = learner(name, cbs=[CheckpointCB(tmp_path/'b'), StopAfterFirstEpoch()])
    learn.fit(2)
    assert learn.epoch == 0 and changed(straight, state(learn.raw_model)) != []      # interrupted after one epoch
    learn, _ = learner(name, cbs=[CheckpointCB(tmp_path/'b')])
    learn.fit(2, resume=tmp_path/'b'/'last.pt')
    assert changed(straight, state(learn.raw_model)) == []
