"""densekit.torch on DTensors and FSDP2: every rank's shard is exactly its slice of the
single-process result. 2 and 4 gloo processes on 127.0.0.1, each a subprocess running
tests/_torch_dist_worker.py, with bounded timeouts (no GPU needed)."""

import os
import socket
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():  # pragma: no cover - torch built without it
    pytest.skip("torch.distributed is not available", allow_module_level=True)

WORKER = os.path.join(os.path.dirname(__file__), "_torch_dist_worker.py")
TIMEOUT = 240


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(world):
    env = dict(os.environ)
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               WORLD_SIZE=str(world), OMP_NUM_THREADS="1", DENSEKIT_NUM_THREADS="1")
    procs = []
    for rank in range(world):
        procs.append(subprocess.Popen(
            [sys.executable, WORKER], env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
    outputs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=TIMEOUT)
            outputs.append(out)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return [(p.returncode, out) for p, out in zip(procs, outputs)]


@pytest.mark.parametrize("world", [2, 4])
def test_shards_equal_single_process(world):
    results = _run(world)
    for rank, (code, out) in enumerate(results):
        assert code == 0 and f"rank {rank}: OK" in out, f"rank {rank} failed:\n{out}"
