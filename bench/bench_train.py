"""One training epoch: densekit's fit beside a plain torch loop and Keras 3 on jax.

Run: pytest bench/bench_train.py --benchmark-only
(smoke test at a tiny size: DENSEKIT_BENCH_TRAIN_ROWS=256 pytest bench/bench_train.py
--benchmark-disable)

Cases (synthetic float32 data, Adam, 2 threads, one epoch per round):

- (a) 60000 x 784 -> Dense(512, relu) -> Dense(256, relu) -> Dense(10, softmax),
  sparse categorical crossentropy, batch 128;
- (b) the tutorial model 16 -> Dense(32, relu) -> Dense(16, relu) -> Dense(8), mse,
  20000 rows, batch 32.

Baselines in the same run: torch.nn + torch.optim.Adam in a plain loop (skipped
without torch) and Keras 3 with the jax backend (skipped unless keras and jax
import). The `gemm_floor` row of (a) times one large sgemm with the epoch's GEMM
FLOPs (forward 3 GEMMs, backward 5: the first layer needs no input gradient), the
arithmetic floor of that epoch. Each record's extra_info carries steps/s and
GFLOP/s; compare medians within one run.
"""

import math
import os

import numpy as np
import pytest

import densekit

N_THREADS = 2
ROUNDS = int(os.environ.get("DENSEKIT_BENCH_TRAIN_ROUNDS", "5"))
# Rows of case (a) and (b); the environment variable shrinks both for smoke runs.
_SMALL = os.environ.get("DENSEKIT_BENCH_TRAIN_ROWS")
ROWS_A = int(_SMALL) if _SMALL else 60000
ROWS_B = int(_SMALL) if _SMALL else 20000

CASES = {
    "a_mnist_mlp": dict(rows=ROWS_A, inputs=784, layers=[(512, "relu"), (256, "relu"),
                                                           (10, "softmax")],
                        loss="sparse_categorical_crossentropy", batch=128),
    "b_tutorial": dict(rows=ROWS_B, inputs=16, layers=[(32, "relu"), (16, "relu"), (8, None)],
                       loss="mse", batch=32),
}


def _data(case):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((case["rows"], case["inputs"]), dtype=np.float32)
    last = case["layers"][-1][0]
    if case["loss"] == "mse":
        y = rng.standard_normal((case["rows"], last), dtype=np.float32)
    else:
        y = rng.integers(0, last, case["rows"]).astype(np.int64)
    return x, y


def _gemm_flops(case):
    """FLOPs of the epoch's GEMMs: 2*m*k*n per GEMM; forward + dW for every layer,
    dx for all but the first."""
    rows = case["rows"]
    widths = [case["inputs"]] + [u for u, _ in case["layers"]]
    flops = 0
    for i, (k, n) in enumerate(zip(widths[:-1], widths[1:])):
        per = 2.0 * rows * k * n
        flops += per * (3 if i > 0 else 2)
    return flops


def _note(benchmark, case, name):
    benchmark.group = f"train-{name}"
    benchmark.extra_info.update(rows=case["rows"], batch=case["batch"], n_threads=N_THREADS,
                                steps=math.ceil(case["rows"] / case["batch"]),
                                gemm_gflop=_gemm_flops(case) / 1e9)


def _rates(benchmark, case):
    stats = getattr(benchmark, "stats", None)
    if stats is None or not getattr(stats, "stats", None):
        return
    median = stats.stats.median
    if median:
        steps = math.ceil(case["rows"] / case["batch"])
        benchmark.extra_info.update(steps_per_s=steps / median,
                                    gflop_per_s=_gemm_flops(case) / median / 1e9)


@pytest.fixture(autouse=True)
def _threads():
    saved = densekit.get_num_threads()
    densekit.set_num_threads(N_THREADS)
    yield
    densekit.set_num_threads(saved)


@pytest.mark.parametrize("name", sorted(CASES))
def test_densekit_epoch(benchmark, name):
    from densekit.layers import Dense, Input
    from densekit.models import Sequential
    from densekit.optimizers import Adam

    case = CASES[name]
    x, y = _data(case)
    model = Sequential([Input((case["inputs"],))]
                       + [Dense(u, activation=a) for u, a in case["layers"]])
    model.compile(optimizer=Adam(), loss=case["loss"])
    _note(benchmark, case, name)
    benchmark.pedantic(lambda: model.fit(x, y, batch_size=case["batch"], epochs=1,
                                         shuffle=False, verbose=0),
                       rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _rates(benchmark, case)


@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_epoch(benchmark, name):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(N_THREADS)
    case = CASES[name]
    x, y = _data(case)
    mods = []
    width = case["inputs"]
    for units, act in case["layers"]:
        mods.append(torch.nn.Linear(width, units))
        if act == "relu":
            mods.append(torch.nn.ReLU())
        width = units
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    # CrossEntropyLoss applies log-softmax itself: the net ends at the logits.
    loss_fn = torch.nn.MSELoss() if case["loss"] == "mse" else torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    bs = case["batch"]

    def epoch():
        for start in range(0, len(tx), bs):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(tx[start:start + bs]), ty[start:start + bs])
            loss.backward()
            opt.step()

    _note(benchmark, case, name)
    benchmark.pedantic(epoch, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _rates(benchmark, case)


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_jax_epoch(benchmark, name):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax")
    try:
        import keras
    except Exception:  # a keras that cannot import (no backend) counts as missing
        pytest.skip("keras with the jax backend is not importable")
    if keras.backend.backend() != "jax":
        pytest.skip("keras is not on the jax backend")
    case = CASES[name]
    x, y = _data(case)
    model = keras.Sequential([keras.Input((case["inputs"],))]
                             + [keras.layers.Dense(u, activation=a) for u, a in case["layers"]])
    model.compile(optimizer=keras.optimizers.Adam(), loss=case["loss"])
    _note(benchmark, case, name)
    benchmark.pedantic(lambda: model.fit(x, y, batch_size=case["batch"], epochs=1,
                                         shuffle=False, verbose=0),
                       rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _rates(benchmark, case)


def test_gemm_floor(benchmark):
    """One sgemm of case (a)'s epoch FLOPs: (m x k) @ (k x n) repeated to match."""
    from scipy.linalg import blas

    case = CASES["a_mnist_mlp"]
    m, k, n = 2048, 784, 512
    a = np.random.default_rng(1).standard_normal((m, k), dtype=np.float32)
    b = np.random.default_rng(2).standard_normal((k, n), dtype=np.float32)
    reps = max(1, round(_gemm_flops(case) / (2.0 * m * k * n)))

    def run():
        for _ in range(reps):
            blas.sgemm(1.0, a, b)

    _note(benchmark, case, "a_mnist_mlp")
    benchmark.extra_info.update(gemm_reps=reps)
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _rates(benchmark, case)
