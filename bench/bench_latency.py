"""Latency sweep (issue 13): Dense, Sequential.predict and Orthogonal at every size.

Run: pytest bench/bench_latency.py --benchmark-only   (one group per cell; the
     ratios of medians within a group are the targets). Smoke test:
     pytest bench/bench_latency.py --benchmark-disable
     python bench/bench_latency.py [quick]   interleaved rounds (each timed call right
                                            after an untimed one of the same case),
                                            wall and CPU time,
                                            the ratio table for the README.
Groups:
  dense-b{batch}-w{width}    Dense(width, relu) built on (None, width), beside the
                             numpy expression np.maximum(x @ W + b, 0) with the
                             layer's own W and b, and torch nn.Linear + relu under
                             torch.inference_mode() when torch is installed.
                             Targets: densekit >= 1.0x numpy everywhere, >= 1.0x
                             torch at batch >= 32.
  seq-b{batch}-w{width}      a 3-layer Sequential (width -> width relu -> width relu
                             -> width) : predict(x, verbose=0) beside model(x).
                             Target: predict / model(x) <= 1.05.
  orthogonal-{n}             Orthogonal()((n, n)) beside torch.nn.init.orthogonal_.
                             Target: densekit >= 1.0x torch.
"""

import numpy as np
import pytest

from densekit.initializers import Orthogonal
from densekit.layers import Dense, Input
from densekit.models import Sequential

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

BATCHES = [1, 8, 32, 256, 4096]
WIDTHS = [64, 1024, 4096, 8192]
ORTHO = [512, 1024, 2048]


def _rounds(batch, width):
    """Fewer rounds for the big cells, many for the microsecond ones."""
    flops = 2 * batch * width * width
    if flops >= 1 << 34:
        return 3
    if flops >= 1 << 30:
        return 7
    return 50


_cache = {}


def _layer(width):
    if width not in _cache:
        rng = np.random.default_rng(width)
        layer = Dense(width, activation="relu")
        layer.build((None, width))
        layer.set_weights([rng.standard_normal((width, width), dtype=np.float32)
                           / np.sqrt(width), rng.standard_normal(width, dtype=np.float32)])
        _cache[width] = layer
    return _cache[width]


def _model(width):
    key = ("model", width)
    if key not in _cache:
        rng = np.random.default_rng(width + 1)
        model = Sequential([Input((width,)), Dense(width, activation="relu"),
                            Dense(width, activation="relu"), Dense(width)])
        model.set_weights([rng.standard_normal(w.shape, dtype=np.float32) / np.sqrt(width)
                           for w in model.weights])
        _cache[key] = model
    return _cache[key]


def _x(batch, width):
    return np.random.default_rng(batch).standard_normal((batch, width), dtype=np.float32)


def _run(benchmark, fn, batch, width):
    return benchmark.pedantic(fn, rounds=_rounds(batch, width), iterations=1,
                              warmup_rounds=2)


cells = pytest.mark.parametrize("batch, width", [(b, w) for b in BATCHES for w in WIDTHS])


@cells
def test_dense_densekit(benchmark, batch, width):
    benchmark.group = f"dense-b{batch}-w{width}"
    layer, x = _layer(width), _x(batch, width)
    y = _run(benchmark, lambda: layer(x), batch, width)
    np.testing.assert_allclose(y, np.maximum(x @ layer.kernel + layer.bias, 0),
                               rtol=1e-3, atol=1e-3)


@cells
def test_dense_numpy(benchmark, batch, width):
    benchmark.group = f"dense-b{batch}-w{width}"
    layer, x = _layer(width), _x(batch, width)
    w, b = layer.kernel, layer.bias
    _run(benchmark, lambda: np.maximum(x @ w + b, 0), batch, width)


@cells
@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_dense_torch(benchmark, batch, width):
    benchmark.group = f"dense-b{batch}-w{width}"
    layer, x = _layer(width), _x(batch, width)
    linear = torch.nn.Linear(width, width)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(layer.kernel.T.copy()))
        linear.bias.copy_(torch.from_numpy(layer.bias))
    xt = torch.from_numpy(x)

    def forward():
        with torch.inference_mode():
            return torch.relu(linear(xt))

    y = _run(benchmark, forward, batch, width)
    np.testing.assert_allclose(y.numpy(), layer(x), rtol=1e-3, atol=1e-3)


@cells
def test_seq_predict(benchmark, batch, width):
    benchmark.group = f"seq-b{batch}-w{width}"
    model, x = _model(width), _x(batch, width)
    y = _run(benchmark, lambda: model.predict(x, verbose=0), batch, width)
    np.testing.assert_allclose(y, model(x), rtol=1e-4, atol=1e-4)


@cells
def test_seq_call(benchmark, batch, width):
    benchmark.group = f"seq-b{batch}-w{width}"
    model, x = _model(width), _x(batch, width)
    _run(benchmark, lambda: model(x), batch, width)


@pytest.mark.parametrize("n", ORTHO)
def test_orthogonal_densekit(benchmark, n):
    benchmark.group = f"orthogonal-{n}"
    init = Orthogonal(seed=0)
    w = benchmark.pedantic(lambda: init((n, n)), rounds=5, iterations=1, warmup_rounds=1)
    np.testing.assert_allclose(w[:8].astype(float) @ w[:8].T.astype(float), np.eye(8),
                               atol=1e-4)


@pytest.mark.parametrize("n", ORTHO)
@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_orthogonal_torch(benchmark, n):
    benchmark.group = f"orthogonal-{n}"
    t = torch.empty(n, n)
    benchmark.pedantic(lambda: torch.nn.init.orthogonal_(t), rounds=5, iterations=1,
                       warmup_rounds=1)


def _report(quick=False):
    """Interleaved rounds per cell: median wall time, median CPU time of all threads
    (process_time: spinning pool threads count), and the target ratios."""
    import time

    def measure(cases, rounds):
        # Each timed call directly follows an untimed call of the same case: a
        # rotation alone let one case follow torch (whose idle OpenMP/MKL threads
        # spin on after each call) in 2 of 3 rounds and another in 1 of 3, and the
        # first then paid a 4 ms scheduler tick in most of its rounds.
        names = list(cases)
        wall = {n: [] for n in names}
        cpu = {n: [] for n in names}
        for r in range(rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                cases[name]()
                w0, c0 = time.perf_counter(), time.process_time()
                cases[name]()
                wall[name].append(time.perf_counter() - w0)
                cpu[name].append(time.process_time() - c0)
        return ({n: float(np.median(v)) for n, v in wall.items()},
                {n: float(np.median(v)) for n, v in cpu.items()})

    batches = [1, 8, 32, 256] if quick else BATCHES
    widths = [64, 1024, 4096] if quick else WIDTHS
    print("| batch | width | densekit ms | numpy ms | torch ms | numpy/dk | torch/dk "
          "| predict/call |")
    print("|---|---|---|---|---|---|---|---|")
    for batch in batches:
        for width in widths:
            layer, model, x = _layer(width), _model(width), _x(batch, width)
            w, b = layer.kernel, layer.bias
            cases = {"dk": lambda: layer(x), "np": lambda: np.maximum(x @ w + b, 0)}
            if torch is not None:
                linear = torch.nn.Linear(width, width)
                xt = torch.from_numpy(x)

                def forward(linear=linear, xt=xt):
                    with torch.inference_mode():
                        return torch.relu(linear(xt))

                cases["torch"] = forward
            rounds = max(3, _rounds(batch, width) // (5 if quick else 1))
            wall, _ = measure(cases, rounds)
            seq, _ = measure({"predict": lambda: model.predict(x, verbose=0),
                              "call": lambda: model(x)}, rounds)
            t = wall.get("torch", float("nan"))
            print(f"| {batch} | {width} | {wall['dk'] * 1e3:.3f} | {wall['np'] * 1e3:.3f} | "
                  f"{t * 1e3:.3f} | {wall['np'] / wall['dk']:.2f} | {t / wall['dk']:.2f} | "
                  f"{seq['predict'] / seq['call']:.2f} |", flush=True)
    for n in ([512, 1024] if quick else ORTHO):
        init = Orthogonal(seed=0)
        cases = {"dk": lambda: init((n, n))}
        if torch is not None:
            t = torch.empty(n, n)
            cases["torch"] = lambda: torch.nn.init.orthogonal_(t)
        wall, cpu = measure(cases, 5)
        print(f"orthogonal {n}^2: densekit {wall['dk']:.4f} s, torch "
              f"{wall.get('torch', float('nan')):.4f} s, torch/dk "
              f"{wall.get('torch', float('nan')) / wall['dk']:.2f}")


if __name__ == "__main__":
    import sys

    _report(quick="quick" in sys.argv[1:])
