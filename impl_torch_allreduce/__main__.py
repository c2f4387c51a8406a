"""python -m impl_torch_allreduce: the two-layer net trained data-parallel, printing the loss every 50 steps.

    python -m impl_torch_allreduce                                      one process: a group of one
    torchrun --standalone --nproc_per_node=2 -m impl_torch_allreduce    two processes on this machine

On several machines, run on each (node_rank 0 on the machine at MASTER, 1 on the next, ...):

    torchrun --nnodes=2 --nproc_per_node=2 --node_rank=0 --master_addr=MASTER --master_port=29500 \
        -m impl_torch_allreduce

torchrun starts the processes and gives each RANK, WORLD_SIZE, MASTER_ADDR and
MASTER_PORT in its environment; `init_process_group` reads them and meets the others.
"""

import argparse
import os
from datetime import timedelta

import torch.distributed as dist

from .mlp import main


def start_process_group(timeout_s=60):
    """Join the group torchrun started, or, without torchrun, form a group of one.

    gloo is the backend for CPUs. A collective that waits past timeout_s for another
    rank raises instead of hanging forever.
    """
    if "RANK" in os.environ:
        dist.init_process_group("gloo", timeout=timedelta(seconds=timeout_s))
    else:
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1,
                                timeout=timedelta(seconds=timeout_s))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m impl_torch_allreduce")
    parser.add_argument("--steps", type=int, default=500, help="steps to train (default: 500)")
    parser.error = lambda message: parser.exit(2, f"{parser.prog}: error: {message}\n")     # one line
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be 1 or more, got {args.steps}: give e.g. --steps 50")
    start_process_group()
    try:
        main(steps=args.steps)
    finally:
        dist.destroy_process_group()      # every rank leaves the group, even after an error
