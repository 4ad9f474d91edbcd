"""Train every registered model on two CPU processes and check that the replicas end identical.

Run: `torchrun --standalone --nproc_per_node 2 tests/ddp_replicas.py OUT_FOLDER` (about a minute). Each model trains
one short epoch with `vae_course.cli.train` on its embedded default data set; then every rank's parameters are
gathered and compared. DDP averages the gradients of every phase, so the largest difference must be exactly 0; a
model whose training bypassed the wrapped model would train independent replicas. Prints one line per model and
a summary; exits 1 on any difference."""
import sys, warnings
from pathlib import Path
import torch
import torch.distributed as dist
from vae_course.cli import train
from vae_course.registry import MODELS

warnings.filterwarnings('ignore')
torch.set_num_threads(1)
out = Path(sys.argv[1])
small = {'desubpixel_vae': dict(n_blocks=1), 'conv_vae_bn_ref': dict(image_size=190)}   # the same code paths, fewer pixels
passed = failed = 0
for name in sorted(MODELS):
    learn = train(name, epochs=1, out=out/name, batch_size=16, limit=96, device='cpu', progress=False, **small.get(name, {}))
    vec = torch.cat([p.detach().flatten() for p in learn.raw_model.parameters()])
    gathered = [torch.zeros_like(vec) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, vec)
    diff = max(float((g - gathered[0]).abs().max()) for g in gathered)
    steps = learn.step
    if dist.get_rank() == 0:
        ok = diff == 0 and steps > 0
        passed += ok; failed += not ok
        print(f"  {'identical' if ok else 'DIFFERENT'}: {name:16s} {dist.get_world_size()} replicas after {steps} steps each, "
              f"max |parameter difference| {diff:.3g}", flush=True)
if dist.get_rank() == 0: print(f'DDP: {passed + failed} models, replicas identical for {passed}, different for {failed}', flush=True)
dist.barrier()
sys.exit(1 if failed else 0)
