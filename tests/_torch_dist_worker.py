"""One rank of tests/test_torch_dtensor.py (run as a script by that test, never collected).

Every rank computes the single-process result itself (densekit is deterministic), so
each check is local: the rank's shard equals its slice of the whole, and
``full_tensor()`` (an all-gather by torch) equals the whole, bit for bit.
"""

import datetime
import os
import sys
import traceback

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import Replicate, Shard, distribute_tensor

import densekit.torch as dt
from densekit import initializers


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(
        a.view(torch.int16) if a.dtype == torch.bfloat16 else a,
        b.view(torch.int16) if b.dtype == torch.bfloat16 else b,
    )


def placements_for(world):
    one = init_device_mesh("cpu", (world,))
    cases = [(one, (Shard(0),)), (one, (Shard(1),)), (one, (Replicate(),))]
    if world == 4:
        two = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
        cases += [
            (two, (Shard(0), Shard(1))),
            (two, (Shard(1), Shard(0))),
            (two, (Shard(0), Shard(0))),
            (two, (Replicate(), Shard(1))),
        ]
    return cases


def fills():
    """(label, fill function, dtype): each writes a whole tensor the same way."""
    he = initializers.HeNormal(seed=3)
    return [
        ("fill_ HeNormal", lambda t: dt.fill_(t, he), torch.float32),
        ("fill_ HeNormal fans=torch bf16", lambda t: dt.fill_(t, he, fans="torch"),
         torch.bfloat16),
        ("kaiming_uniform_", lambda t: dt.kaiming_uniform_(t, a=5 ** 0.5, seed=1), torch.float32),
        ("xavier_normal_ f16", lambda t: dt.xavier_normal_(t, seed=2), torch.float16),
        ("trunc_normal_ std=0.02", lambda t: dt.trunc_normal_(t, std=0.02, seed=4),
         torch.float32),
        ("orthogonal_", lambda t: dt.orthogonal_(t, seed=5), torch.float64),
    ]


def test_partial_is_refused(world):
    from torch.distributed.tensor import DTensor, Partial

    mesh = init_device_mesh("cpu", (world,))
    d = DTensor.from_local(torch.zeros(4, 4), mesh, [Partial()])
    try:
        dt.fill_(d, "ones")
    except ValueError as exc:
        check("Partial placement" in str(exc), str(exc))
    else:
        raise AssertionError("a Partial DTensor must be refused")


def test_tensor_fills(world):
    # 7 x 13: uneven on 2 and 4 ranks on both dims; 3 x 5 leaves a rank empty on 4.
    for shape in [(7, 13), (3, 5), (8, 4)]:
        for mesh, placements in placements_for(world):
            for label, fill, dtype in fills():
                whole = fill(torch.empty(shape, dtype=dtype))
                d = distribute_tensor(torch.zeros(shape, dtype=dtype), mesh, placements)
                before = d.to_local().data_ptr()
                out = fill(d)
                check(out is d, "fill returns its DTensor")
                check(d.to_local().data_ptr() == before, "the local shard is filled in place")
                full = d.full_tensor()
                check(same(full, whole),
                      f"{label} {shape} {placements}: full_tensor() != single-process")


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.up = nn.Linear(d, h)
        self.down = nn.Linear(h, d)
        self.norm = nn.LayerNorm(d)


class Model(nn.Module):
    def __init__(self, vocab=50, d=12, h=20, n=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d, padding_idx=1)
        self.blocks = nn.ModuleList(Block(d, h) for _ in range(n))
        self.head = nn.Linear(d, vocab, bias=False)


def test_fsdp2(world, scheme):
    from torch.distributed.fsdp import fully_shard

    expected = dt.init_module_(Model(), seed=7, scheme=scheme)
    mesh = init_device_mesh("cpu", (world,))
    for how in ("init_module_", "materialize_"):
        with torch.device("meta"):
            model = Model()
        for block in model.blocks:
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
        if how == "init_module_":
            model.to_empty(device="cpu")
            try:
                dt.init_module_(model, scheme=scheme)
            except ValueError as exc:
                check("every rank must use the same seed" in str(exc), str(exc))
            else:
                raise AssertionError("seed=None on a sharded module must be refused")
            dt.init_module_(model, seed=7, scheme=scheme)
        else:
            dt.materialize_(model, seed=7, scheme=scheme)
        for (name, p), (name2, q) in zip(model.named_parameters(), expected.named_parameters()):
            check(name == name2, f"{name} != {name2}")
            check(type(p).__name__ == "DTensor", f"{name} is not sharded")
            check(same(p.full_tensor(), q.detach()), f"{how} {scheme}: {name} differs")


def test_fsdp_tp(world):
    """FSDP x TP on a 2 x 2 mesh: colwise TP shards dim 0 (FSDP then uses a strided
    shard, which densekit fills through the whole tensor) and rowwise dim 1."""
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    expected = dt.init_module_(Model(), seed=11)
    mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
    with torch.device("meta"):
        model = Model()
    for block in model.blocks:
        parallelize_module(block, mesh["tp"], {"up": ColwiseParallel(), "down": RowwiseParallel()})
        fully_shard(block, mesh=mesh["dp"])
    fully_shard(model, mesh=mesh["dp"])
    dt.materialize_(model, seed=11)
    for (name, p), (_, q) in zip(model.named_parameters(), expected.named_parameters()):
        check(same(p.full_tensor(), q.detach()), f"FSDP x TP: {name} differs")


def main():
    world = int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    try:
        test_partial_is_refused(world)
        test_tensor_fills(world)
        test_fsdp2(world, "torch")
        test_fsdp2(world, "normal")
        if world == 4:
            test_fsdp_tp(world)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    print(f"rank {os.environ['RANK']}: OK")


if __name__ == "__main__":
    # Leave by os._exit once the result is printed: in 1 of about 30 runs rank 0 (the
    # host of the TCPStore) printed its OK and then aborted in the interpreter's own
    # teardown ("terminate called without an active exception": a thread of torch's
    # still running when the process's destructors ran). That is torch's shutdown, after
    # every check passed; skipping the teardown keeps it out of the result.
    code = 0
    try:
        main()
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
