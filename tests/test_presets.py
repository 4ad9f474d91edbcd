"""Every preset of `vae_course.presets.PRESETS` builds its model and trains for a couple of steps on a few images
through the command line (`vae_course.cli.main`), and records what it used; split folders, --valid-fraction,
--weights, --transform coco, --snapshot-every, the beta_neg bounds, --config and --resume are checked on the way.

Run: `python -m pytest tests/test_presets.py -q` (about two minutes on one CPU core: the presets build their full-size
models, 254 and 256 px)."""
import json, csv
import numpy as np
import pytest
import torch
from PIL import Image
from vae_course import cli
from vae_course.presets import PRESETS, preset_settings

torch.set_num_threads(1)

@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    "train/{photos,videos}/ and valid/photos/: 10 + 2 RGB pictures of 300x400."
    root = tmp_path_factory.mktemp('data')
    r = np.random.default_rng(0)
    for split, sub, n in [('train', 'photos', 4), ('train', 'videos', 6), ('valid', 'photos', 2)]:
        (root/split/sub).mkdir(parents=True)
        for i in range(n): Image.fromarray(r.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(root/split/sub/f'{i}.png')
    return root

@pytest.fixture(autouse=True)
def few_steps(monkeypatch):
    monkeypatch.setattr(cli, 'MIN_STEPS_PER_EPOCH', 1)   # a small folder is not repeated: an epoch is a couple of steps

def run(*args) -> int: return cli.main(['train', *map(str, args), '--quiet'])

SPEED = {'desubpixel-256': ['--perceptual', 'none'],     # VGG16's ImageNet weights are not on the test machines
         'as-introvae-256': ['--batch-size', '5']}      # 10 training images: two steps

@pytest.mark.parametrize('name', list(PRESETS))
def test_preset_trains(name, folder, tmp_path):
    out = tmp_path/'run'
    assert run('--preset', name, '--dataset', f'folder:{folder}', '--steps', 2, '--batch-size', 5, *SPEED.get(name, []), '--out', out) == 0
    cfg = json.loads((out/'config.json').read_text())
    s = preset_settings(name)
    assert cfg['preset'] == name and cfg['model'] == s['model']
    for k in ('image_size', 'latent_dim', 'lr', 'lr_schedule', 'augment', 'transform', 'snapshot_every', 'beta_neg_low', 'beta_neg_high', 'weights'):
        if k in s: assert cfg[k] == s[k], k
    for k, v in s.get('hparams', {}).items():
        if k != 'perceptual': assert cfg['hparams'][k] == v, k
    assert (cfg['n_train'], cfg['n_valid']) == (10, 2)                  # the folder's own split: valid/ validates
    assert cfg['splits']['valid'] == str(folder/'valid') and cfg['valid_fraction'] is None
    assert (out/'checkpoints'/'last.pt').is_file() and cfg['steps'] == 2
    if s.get('snapshot_every'): assert (out/'snapshots'/'epoch0001_reconstructions.png').is_file()

def test_reference_network_shapes():
    from vae_course.registry import build_model, default_config
    m = build_model(default_config('conv_vae_bn_ref'))
    assert (m.shape, m.latent_dim) == ((3, 254, 254), 512)
    rows = dict(m.shape_table())
    assert rows['conv6'] == (256, 2, 2) and rows['flatten'] == (1024,) and rows['t_conv6'] == (3, 254, 254)
    assert [rows[f't_conv{i}'][1] for i in range(7)] == [2, 6, 14, 30, 62, 126, 254]
    assert all(c.padding == (0, 0) for c in m.modules() if isinstance(c, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)))

def test_data_workflow_flags(folder, tmp_path, capsys):
    assert run('--model', 'conv_ae', '--dataset', f'folder:{folder}', '--valid-fraction', 0.3, '--out', tmp_path/'a', '--steps', 1) == 2
    assert 'valid/' in capsys.readouterr().err                         # a split folder keeps its split: refused in one line
    assert run('--model', 'conv_ae', '--dataset', f'folder:{folder/"train"}', '--valid-fraction', 0.3, '--image-size', 32,
               '--weights', 'videos=0.5', '--transform', 'coco', '--batch-size', 4, '--out', tmp_path/'b', '--steps', 1) == 0
    cfg = json.loads((tmp_path/'b'/'config.json').read_text())
    assert (cfg['n_valid'], cfg['valid_fraction'], cfg['weights'], cfg['transform']) == (3, 0.3, {'videos': 0.5}, 'coco')
    assert run('--model', 'conv_ae', '--dataset', f'folder:{folder/"train"}', '--weights', 'cats=0.5', '--out', tmp_path/'c', '--steps', 1) == 2
    assert 'no item' in capsys.readouterr().err
    assert run('--model', 'conv_ae', '--transform', 'coco', '--out', tmp_path/'d', '--steps', 1) == 2   # coco: folders only
    assert run('--model', 'conv_ae', '--beta-neg-low', 8, '--out', tmp_path/'e', '--steps', 1) == 2      # not an IntroVAE

def test_beta_neg_bounds(tmp_path):
    out = tmp_path/'as'
    assert run('--model', 'as_introvae', '--base-channels', 4, '--limit', 64, '--epochs', 2, '--beta-neg-low', 8, '--beta-neg-high', 64, '--out', out) == 0
    cfg = json.loads((out/'config.json').read_text())
    assert (cfg['beta_neg_low'], cfg['beta_neg_high'], cfg['hparams']['beta_neg_schedule'], cfg['hparams']['beta_neg']) == (8, 64, True, 64)
    rows = list(csv.DictReader(open(out/'metrics.csv')))
    assert all(8 <= float(r['beta_neg_next']) <= 64 for r in rows)

def test_config_and_resume(tmp_path, capsys):
    a, b = tmp_path/'a', tmp_path/'b'
    assert run('--model', 'conv_vae', '--limit', 64, '--epochs', 1, '--lr', 2e-3, '--out', a) == 0
    (tmp_path/'c.toml').write_text('model = "conv_vae"\nlimit = 64\nepochs = 1\nlr = 3e-3\n[hparams]\nbase_channels = 8\n')
    assert run('--config', tmp_path/'c.toml', '--lr', 4e-3, '--out', b) == 0            # the flag wins over the file
    cfg = json.loads((b/'config.json').read_text())
    assert (cfg['lr'], cfg['hparams']['base_channels'], cfg['config_file']) == (4e-3, 8, str(tmp_path/'c.toml'))
    assert run('--config', a/'config.json', '--out', tmp_path/'a2') == 0                 # a run's own config.json
    assert json.loads((tmp_path/'a2'/'config.json').read_text())['lr'] == 2e-3
    capsys.readouterr()
    assert run('--resume', '--out', a, '--epochs', 2, '--latent-dim', 8) == 2           # refused in one line
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'latent_dim' in err[0]
    assert run('--resume', '--out', a, '--epochs', 2, '--lr', 1e-2) == 2
    assert 'lr=0.002, not 0.01' in capsys.readouterr().err
    assert run('--resume', '--out', a, '--epochs', 2, '--max-grad-norm', 1.0) == 0      # applied and recorded
    assert json.loads((a/'config.json').read_text())['max_grad_norm'] == 1.0
    assert run('--resume', '--preset', 'coco-64', '--out', a, '--epochs', 3) == 2
