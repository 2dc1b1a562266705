"""A data-parallel loop under torchrun (2 CPU processes, gloo), watched: only rank 0 serves a page.

    python -m torch.distributed.run --nproc_per_node 2 tests/watched/torchrun_loop.py RUNS_DIR
"""

import json
import sys
import time
import urllib.request

import torch
import torch.distributed as dist
from torch import nn

import convscope

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(),
                                                          nn.Linear(4 * 26 * 26, 10)))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
probe = torch.randn(4, 1, 28, 28)
viz = convscope.watch(model.module, probe, [0, 1, 2, 3], optimizer=opt, port=0, runs_dir=sys.argv[1])
for step in range(1, 21):
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()  # the gradients are averaged over both ranks
    opt.step()
    viz.log(step, loss=loss, batch_size=len(x))
if rank == 0:  # the page as it is once the last step has reached it (log() sends every 0.1 s)
    deadline = time.monotonic() + 10
    while True:
        run = urllib.request.urlopen(viz.url.split("?")[0] + "api/run").read().decode()
        if json.loads(run)["step"] == 20 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    print(f"rank 0 page: {run}", flush=True)
print(f"rank {rank}: {type(viz).__name__} {viz.url}", flush=True)
viz.close()
dist.destroy_process_group()
