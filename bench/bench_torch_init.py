"""Whole torch models: densekit.torch beside torch itself, in one run (issue 11).

Run: ``pytest bench/bench_torch_init.py --benchmark-only`` (on a quiet machine; the
table's command adds ``--benchmark-columns=min,mean,max,rounds
--benchmark-group-by=group``). Groups:

- ``torch-materialize``: a model built under ``torch.device("meta")``:
  :func:`densekit.torch.materialize_` vs ``to_empty`` + every module's own
  ``reset_parameters`` (torch's serial samplers). Target: >= 6x.
- ``torch-save``: its seed checkpoint: :func:`densekit.torch.save_initialized`
  from the meta model vs torch init + ``safetensors.torch.save_file``. Target: >= 3x.
- ``torch-save-rss``: the same two, each in a fresh process, recording its peak RSS
  (``ru_maxrss``) in ``extra_info``: densekit's is bounded by the chunk buffers.
- ``torch-fsdp2``: ``init_module_`` of the FSDP2-sharded model in 2 gloo processes (one
  thread each) vs one process on 2 threads and on 1; each rank's time and peak RSS
  (VmHWM) are in ``extra_info`` (about half of the one-thread process's).

The model (``DENSEKIT_BENCH_TORCH_MODEL``): ``1b`` (default) is 24 blocks of
Linear(2048, 8192) + Linear(8192, 2048) + LayerNorm(2048) plus Embedding(32000, 2048),
about 0.87e9 parameters (3.5 GB in float32: the materialize group needs ~8 GB of RAM,
the save group as much disk); ``tiny`` is a smoke-test size
(``DENSEKIT_BENCH_TORCH_MODEL=tiny pytest bench/bench_torch_init.py --benchmark-disable``).
"""

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import densekit.torch as dt  # noqa: E402

MODEL = os.environ.get("DENSEKIT_BENCH_TORCH_MODEL", "1b")
SIZES = {"1b": (24, 2048, 8192, 32000), "tiny": (2, 64, 256, 1000)}
THREADS = 2
CHILD_TIMEOUT = 3600


class Block(nn.Module):
    def __init__(self, d, ff):
        super().__init__()
        self.up = nn.Linear(d, ff)
        self.down = nn.Linear(ff, d)
        self.norm = nn.LayerNorm(d)


class Model(nn.Module):
    def __init__(self, n_blocks, d, ff, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, ff) for _ in range(n_blocks))


def meta_model():
    with torch.device("meta"):
        return Model(*SIZES[MODEL])


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def torch_init(model):
    """What torch users do today: allocate, then every module's reset_parameters."""
    model.to_empty(device="cpu")
    for mod in model.modules():
        if hasattr(mod, "reset_parameters"):
            mod.reset_parameters()
    return model


@pytest.fixture(scope="module", autouse=True)
def torch_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(old)


# ------------------------------------------------------------------------ materialize
def test_materialize_densekit(benchmark):
    benchmark.group = "torch-materialize"
    benchmark.extra_info.update(params=n_params(meta_model()), model=MODEL, threads=THREADS)
    model = benchmark.pedantic(lambda m: dt.materialize_(m, seed=0, n_threads=THREADS),
                               setup=lambda: ((meta_model(),), {}), rounds=3, iterations=1)
    w = model.blocks[0].up.weight
    assert not w.is_meta and w.abs().max().item() <= 1 / SIZES[MODEL][1] ** 0.5


def test_materialize_torch_to_empty_reset_parameters(benchmark):
    benchmark.group = "torch-materialize"
    benchmark.extra_info.update(params=n_params(meta_model()), model=MODEL, threads=THREADS)
    model = benchmark.pedantic(torch_init, setup=lambda: ((meta_model(),), {}),
                               rounds=3, iterations=1)
    w = model.blocks[0].up.weight
    assert not w.is_meta and w.abs().max().item() <= 1 / SIZES[MODEL][1] ** 0.5


# ------------------------------------------------------------------------ save
@pytest.fixture(scope="module")
def save_dir():
    d = tempfile.mkdtemp(prefix="densekit-bench-torch-")
    need = 2.2 * 4 * n_params(meta_model())
    if shutil.disk_usage(d).free < need:
        shutil.rmtree(d)
        pytest.skip(f"needs {need / 2**30:.1f} GiB free in {tempfile.gettempdir()}")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _clear(path):
    def setup():
        for name in os.listdir(os.path.dirname(path)):
            os.unlink(os.path.join(os.path.dirname(path), name))
        os.sync()
        return (), {}
    return setup


def _check_file(path):
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        assert "blocks.0.up.weight" in f.keys()


def test_save_densekit_save_initialized(benchmark, save_dir):
    benchmark.group = "torch-save"
    path = os.path.join(save_dir, "dk.safetensors")
    benchmark.pedantic(lambda: dt.save_initialized(meta_model(), path, seed=0, progress=False,
                                                   n_threads=THREADS),
                       setup=_clear(path), rounds=3, iterations=1)
    _check_file(path)


def test_save_torch_init_then_save_file(benchmark, save_dir):
    from safetensors.torch import save_file

    benchmark.group = "torch-save"
    path = os.path.join(save_dir, "torch.safetensors")
    benchmark.pedantic(lambda: save_file(torch_init(meta_model()).state_dict(), path),
                       setup=_clear(path), rounds=3, iterations=1)
    _check_file(path)


def _child(mode, *args, env=None):
    """Run this file as a script in a fresh process; return its JSON report."""
    out = subprocess.run([sys.executable, __file__, mode, *args], capture_output=True,
                         text=True, timeout=CHILD_TIMEOUT, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("how", ["densekit", "torch"])
def test_save_peak_rss(benchmark, save_dir, how):
    benchmark.group = "torch-save-rss"
    path = os.path.join(save_dir, f"rss-{how}.safetensors")
    report = benchmark.pedantic(lambda: _child("save", how, path), setup=_clear(path),
                                rounds=1, iterations=1)
    benchmark.extra_info.update(report)
    if how == "densekit":
        # Two chunk buffers (64 MiB each) over the interpreter's and torch's own pages.
        assert report["peak_rss_delta_mib"] < 512, report


# ------------------------------------------------------------------------ FSDP2
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("threads", [THREADS, 1])
def test_fsdp2_single_process(benchmark, threads):
    """The unsharded baseline, on both cores and on one (each of the two ranks
    below has one core of this two-core machine)."""
    benchmark.group = "torch-fsdp2"
    report = benchmark.pedantic(lambda: _child("init", "1", str(threads)), rounds=1,
                                iterations=1)
    benchmark.extra_info.update(report)


def test_fsdp2_two_processes(benchmark):
    benchmark.group = "torch-fsdp2"

    def run():
        port = str(_free_port())
        procs = [subprocess.Popen(
            [sys.executable, __file__, "init", "2"], stdout=subprocess.PIPE, text=True,
            env={**os.environ, "RANK": str(r), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": port, "OMP_NUM_THREADS": "1"},
        ) for r in range(2)]
        reports = []
        try:
            for p in procs:
                out, _ = p.communicate(timeout=CHILD_TIMEOUT)
                assert p.returncode == 0
                reports.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        return reports

    reports = benchmark.pedantic(run, rounds=1, iterations=1)
    for r in reports:
        benchmark.extra_info[f"rank{r['rank']}"] = r


# ------------------------------------------------------------------------ children
def _peak_mib():
    """This process's peak resident memory: VmHWM, which starts afresh at exec
    (ru_maxrss carries the parent's peak over fork + exec on Linux: every child
    then reported the pytest process's 6975 MiB)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _main(argv):
    mode = argv[0]
    torch.set_num_threads(THREADS)
    if mode == "save":
        how, path = argv[1], argv[2]
        model = meta_model()
        before = _peak_mib()
        t0 = time.perf_counter()
        if how == "densekit":
            dt.save_initialized(model, path, seed=0, progress=False, n_threads=THREADS)
        else:
            from safetensors.torch import save_file

            save_file(torch_init(model).state_dict(), path)
        report = {"how": how, "seconds": time.perf_counter() - t0,
                  "peak_rss_mib": _peak_mib(), "peak_rss_delta_mib": _peak_mib() - before}
    elif mode == "init":
        world = int(argv[1])
        threads = int(argv[2]) if len(argv) > 2 else THREADS // world or 1
        model = meta_model()
        rank = 0
        if world > 1:
            import datetime

            import torch.distributed as dist
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.fsdp import fully_shard

            dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=600))
            rank = dist.get_rank()
            mesh = init_device_mesh("cpu", (world,))
            for block in model.blocks:
                fully_shard(block, mesh=mesh)
            fully_shard(model, mesh=mesh)
        model.to_empty(device="cpu")
        before = _peak_mib()
        t0 = time.perf_counter()
        dt.init_module_(model, seed=0, n_threads=threads)
        seconds = time.perf_counter() - t0
        if world > 1:
            dist.barrier()
            dist.destroy_process_group()
        report = {"rank": rank, "world": world, "threads": threads,
                  "init_module_seconds": seconds,
                  "peak_rss_mib": _peak_mib(), "init_rss_delta_mib": _peak_mib() - before}
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(report))


if __name__ == "__main__":
    _main(sys.argv[1:])
