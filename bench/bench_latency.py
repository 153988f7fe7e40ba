"""Latency sweep (issue 13): Dense, Sequential.predict and Orthogonal at every size.

Run: pytest bench/bench_latency.py --benchmark-only --benchmark-json=lat.json
     (one group per cell, its cases run one after the other, REPS times over; the
     target ratios are the medians of the REPS ratios of medians of neighbouring runs;
     a call shorter than 1 ms is timed in rounds of as many calls as fill 1 ms), then
     python bench/bench_latency.py table lat.json   the README table;
     python bench/bench_latency.py quiet [seconds]   how steady the machine is (the
                                            spread of one thread's GEMM rate);
     python bench/bench_latency.py alone [max_batch]   each library in its own
                                            process (medians of 20 samples of 50
                                            calls, or of 15 calls at widths > 1024).
     Smoke test:
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

import time

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


# Each case of a cell is timed REPS times, the cases alternating (densekit, numpy,
# torch, densekit, numpy, torch, ...), each time for about SPAN seconds (at least 3
# rounds): the table's ratio is the median of the REPS ratios of neighbouring runs.
# This host's speed drifts by a few percent from one half second to the next, and
# some 10-100 ms stretches run far slower (one thread's 200^3 GEMM: medians of 50 ms
# windows 0.95-1.13 of the 20 s median). Timed once each for a fixed number of rounds
# (50 rounds of 1 ms at the small cells), a cell whose sides do the same work (a GEMV
# both read from memory at the same rate, predict and model(x) running the same code)
# read anywhere from 0.63 to 2.08 for predict/model(x), and per-rep ratios over 20 ms
# windows still spread over 0.87-1.88.
REPS = 3
SPAN = 0.5


def _plan(fn):
    """(iterations, rounds, warm-up rounds) of a case: calls per round as many as fill
    1 ms, for calls shorter than that (timeit's practice: a lone call of a few
    microseconds times the harness around it as much as the call; predict of a 3-layer
    8x64 model read 9.7 us against 7.6 us for model(x) one call per round, and 6.4
    against 7.7 us in rounds of 31 calls), and rounds as many as fill SPAN seconds, at
    least 3 (one call in several is slowed by this host: a 65 ms round among 10 ms
    ones, seen at 32x4096; the median of 3 survives one such call per rep). A call of
    more than 50 ms is timed once here, and that call is its warm-up."""
    fn()
    start = time.perf_counter()
    fn()
    t = time.perf_counter() - start
    if t >= 0.05:
        return 1, 3, 0
    for _ in range(3):
        start = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - start)
    iterations = max(1, min(1000, int(1e-3 / max(t, 1e-7))))
    return iterations, max(3, min(1000, int(SPAN / (iterations * t)))), 2


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


def _idle():
    """Let the previous case's thread pools go to sleep before a case is timed. After a
    threaded call numpy's OpenBLAS workers spin on for 0.10-0.13 s (that much CPU time
    in a 0.2-0.3 s sleep after np.matmul), and a two-thread densekit GEMV at 1x8192 ran
    2.4x slower inside that window (23 ms against 9.6 ms 0.2 s later); each case's
    correctness check runs numpy's matmul too."""
    time.sleep(0.3)


def _run(benchmark, fn, rep):
    _idle()
    benchmark.extra_info["rep"] = rep
    iterations, rounds, warmup = _plan(fn)
    return benchmark.pedantic(fn, rounds=rounds, iterations=iterations,
                              warmup_rounds=warmup)


# Cell-major order: the cases of one group run one right after the other, REPS times
# over, so that this machine's drifts (seconds to minutes) do not enter the ratios
# within a group.
def _cases(impls):
    return pytest.mark.parametrize(
        "batch, width, rep, impl",
        [(b, w, r, i) for b in BATCHES for w in WIDTHS for r in range(REPS) for i in impls])


def _torch_forward(layer, x, width):
    linear = torch.nn.Linear(width, width)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(layer.kernel.T.copy()))
        linear.bias.copy_(torch.from_numpy(layer.bias))
    xt = torch.from_numpy(x)

    def forward():
        with torch.inference_mode():
            return torch.relu(linear(xt))

    return forward


def _dense_fn(impl, batch, width):
    """One call of a dense cell: the layer, the numpy expression with the layer's own
    W and b, or torch's Linear + relu with them too."""
    layer, x = _layer(width), _x(batch, width)
    w, b = layer.kernel, layer.bias
    if impl == "densekit":
        return lambda: layer(x)
    if impl == "numpy":
        return lambda: np.maximum(x @ w + b, 0)
    return _torch_forward(layer, x, width)


@_cases(["densekit", "numpy", "torch"])
def test_dense(benchmark, batch, width, rep, impl):
    benchmark.group = f"dense-b{batch}-w{width}"
    if impl == "torch" and torch is None:
        pytest.skip("torch is not installed")
    y = _run(benchmark, _dense_fn(impl, batch, width), rep)
    layer, x = _layer(width), _x(batch, width)
    w, b = layer.kernel, layer.bias
    y = y.numpy() if impl == "torch" else y
    np.testing.assert_allclose(y, np.maximum(x @ w + b, 0), rtol=1e-3, atol=1e-3)


@_cases(["predict", "call"])
def test_seq(benchmark, batch, width, rep, impl):
    benchmark.group = f"seq-b{batch}-w{width}"
    model, x = _model(width), _x(batch, width)
    if impl == "predict":
        y = _run(benchmark, lambda: model.predict(x, verbose=0), rep)
        np.testing.assert_array_equal(y, model(x))
    else:
        _run(benchmark, lambda: model(x), rep)


@pytest.mark.parametrize("n, rep, impl",
                         [(n, r, i) for n in ORTHO for r in range(REPS) for i in ("densekit", "torch")])
def test_orthogonal(benchmark, n, rep, impl):
    benchmark.group = f"orthogonal-{n}"
    benchmark.extra_info["rep"] = rep
    if impl == "densekit":
        init = Orthogonal(seed=0)
        _idle()
        w = benchmark.pedantic(lambda: init((n, n)), rounds=3, iterations=1, warmup_rounds=1)
        np.testing.assert_allclose(w[:8].astype(float) @ w[:8].T.astype(float), np.eye(8),
                                   atol=1e-4)
    elif torch is None:
        pytest.skip("torch is not installed")
    else:
        t = torch.empty(n, n)
        _idle()
        benchmark.pedantic(lambda: torch.nn.init.orthogonal_(t), rounds=3, iterations=1,
                           warmup_rounds=1)


def _table(path):
    """The README table from a --benchmark-json file: per cell the median, over the REPS
    reps, of the ratio of the two sides' medians in that rep (each rep's cases ran one
    right after the other); misses marked. densekit ms is the median of its reps."""
    import collections
    import json

    med = collections.defaultdict(lambda: collections.defaultdict(dict))
    with open(path) as f:
        for b in json.load(f)["benchmarks"]:
            rep = b["params"].get("rep", 0)
            med[b["group"]][b["params"]["impl"]][rep] = b["stats"]["median"]
    nan = float("nan")

    def ratio(cell, num, den):
        # the median of the per-rep ratios, and their range
        num, den = cell.get(num, {}), cell.get(den, {})
        r = [num[k] / den[k] for k in sorted(num) if k in den]
        return (float(np.median(r)), min(r), max(r)) if r else (nan, nan, nan)

    def ms(cell, impl):
        return float(np.median(list(cell[impl].values()))) * 1e3 if impl in cell else nan

    print("| batch | width | densekit ms | numpy/densekit | torch/densekit | predict/model(x) |")
    print("|---|---|---|---|---|---|")
    spread = []
    for batch in BATCHES:
        for width in WIDTHS:
            d = med.get(f"dense-b{batch}-w{width}", {})
            q = med.get(f"seq-b{batch}-w{width}", {})
            r_np, r_t, r_p = (ratio(d, "numpy", "densekit"), ratio(d, "torch", "densekit"),
                              ratio(q, "predict", "call"))
            spread.append(f"{batch}x{width}: numpy {r_np[1]:.2f}-{r_np[2]:.2f}, torch "
                          f"{r_t[1]:.2f}-{r_t[2]:.2f}, predict {r_p[1]:.2f}-{r_p[2]:.2f}")
            miss = [name for name, bad in [("numpy", not r_np[0] >= 1.0),
                                           ("torch", batch >= 32 and not r_t[0] >= 1.0),
                                           ("predict", not r_p[0] <= 1.05)] if bad]
            print(f"| {batch} | {width} | {ms(d, 'densekit'):.3f} | {r_np[0]:.2f} | "
                  f"{r_t[0]:.2f} | {r_p[0]:.2f} |"
                  + (f" below target: {', '.join(miss)}" if miss else ""))
    for n in ORTHO:
        o = med.get(f"orthogonal-{n}", {})
        r = ratio(o, "torch", "densekit")
        print(f"orthogonal {n}^2: densekit {ms(o, 'densekit'):.1f} ms, torch "
              f"{ms(o, 'torch'):.1f} ms, torch/densekit {r[0]:.2f} (reps {r[1]:.2f}-{r[2]:.2f})")
    print("ranges of the per-rep ratios:")
    for line in spread:
        print("  " + line)


def _report(quick=False):
    """Interleaved rounds per cell: median wall time, median CPU time of all threads
    (process_time: spinning pool threads count), and the target ratios."""
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
            model, x = _model(width), _x(batch, width)
            cases = {"dk": _dense_fn("densekit", batch, width),
                     "np": _dense_fn("numpy", batch, width)}
            if torch is not None:
                cases["torch"] = _dense_fn("torch", batch, width)
            flops = 2 * batch * width * width
            rounds = 150 if flops < 1 << 30 else 45 if flops < 1 << 34 else 9
            rounds = max(3, rounds // (5 if quick else 1))
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


def _alone_worker(impl, batches):
    """Median ms of each cell for one library, alone in this process (printed as JSON)."""
    import json

    medians = {}
    for batch in batches:
        for width in WIDTHS:
            fn = _dense_fn(impl, batch, width)
            for _ in range(3):
                fn()
            # microsecond cells: samples of 50 calls each (one call is timer noise)
            calls = 50 if width <= 1024 else 1
            times = []
            for _ in range(20 if width <= 1024 else 15):
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                times.append((time.perf_counter() - t0) / calls)
            medians[f"{batch}x{width}"] = float(np.median(times)) * 1e3
    print(json.dumps(medians))


def _alone(max_batch):
    """Each library in its own process, one after the other: no other thread pool in
    the process (the interleaved report shows what sharing one costs)."""
    import json
    import subprocess
    import sys

    batches = [b for b in BATCHES if b <= max_batch]
    impls = ["densekit", "numpy"] + (["torch"] if torch is not None else [])
    med = {}
    for impl in impls:
        out = subprocess.run([sys.executable, __file__, "_alone_worker", impl,
                              ",".join(map(str, batches))],
                             check=True, capture_output=True, text=True).stdout
        med[impl] = json.loads(out.strip().splitlines()[-1])
    nan = float("nan")
    print("| batch | width | densekit ms | numpy ms | torch ms | numpy/densekit | "
          "torch/densekit |")
    print("|---|---|---|---|---|---|---|")
    for cell, dk in med["densekit"].items():
        n, t = med["numpy"][cell], med.get("torch", {}).get(cell, nan)
        batch, width = cell.split("x")
        print(f"| {batch} | {width} | {dk:.4f} | {n:.4f} | {t:.4f} | {n / dk:.2f} | "
              f"{t / dk:.2f} |")


def _quiet(seconds):
    """How steady this machine is: one thread's float32 GEMM rate (numpy's BLAS, 512^3),
    sampled every 0.25 s. A ratio of medians in the sweep means little when the rate
    itself swings by more than the margin it is compared with."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((512, 512), dtype=np.float32) for _ in range(2))
    out = np.empty((512, 512), np.float32)
    rates = []
    with threadpool_limits(1):
        np.matmul(a, b, out=out)
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            for _ in range(5):
                np.matmul(a, b, out=out)
            rates.append(5 * 2 * 512**3 / (time.perf_counter() - t0) / 1e9)
            time.sleep(0.25)
    rates = np.array(rates)
    print(f"one-thread GEMM over {seconds:g} s ({rates.size} samples): min {rates.min():.1f}, "
          f"median {np.median(rates):.1f}, max {rates.max():.1f} GFLOP/s; "
          f"max/min {rates.max() / rates.min():.2f}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["table"]:
        _table(sys.argv[2])
    elif sys.argv[1:2] == ["alone"]:
        _alone(int(sys.argv[2]) if len(sys.argv) > 2 else max(BATCHES))
    elif sys.argv[1:2] == ["quiet"]:
        _quiet(float(sys.argv[2]) if len(sys.argv) > 2 else 20.0)
    elif sys.argv[1:2] == ["_alone_worker"]:
        _alone_worker(sys.argv[2], [int(b) for b in sys.argv[3].split(",")])
    else:
        _report(quick="quick" in sys.argv[1:])
