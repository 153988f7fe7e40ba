"""`densekit demo`: the tour. Initialization speed, determinism, the Keras tutorial model,
and a wide model's initialization and forward throughput, each next to numpy."""

import hashlib
import statistics
import time

import numpy as np

import densekit
from densekit import initializers
from densekit._lib import _openmp
from densekit._threads import effective_n_threads


def _median_seconds(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _numpy_truncated_normal(rng, shape, stddev):
    """The vectorized rejection loop a numpy user would write."""
    out = rng.standard_normal(shape, dtype=np.float32)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()), dtype=np.float32)
        bad = np.abs(out) > 2.0
    out *= stddev
    return out


def _print_row(name, ours, theirs, nbytes):
    print(
        f"  {name:<28} densekit {nbytes / ours / 1e9:6.2f} GB/s   "
        f"numpy {nbytes / theirs / 1e9:6.2f} GB/s   speed-up {theirs / ours:5.1f}x"
    )


def _initialization_tour(size, n_threads, repeat):
    shape = (size, size)
    nbytes = size * size * 4
    rng = np.random.default_rng(0)
    fan_std = float(np.sqrt(2.0 / size))
    print(f"Initializing a {size}x{size} float32 tensor ({nbytes / 2**20:.0f} MiB), "
          f"median of {repeat}:")
    cases = [
        ("RandomUniform", initializers.RandomUniform(seed=0),
         lambda: rng.random(shape, dtype=np.float32)),
        ("RandomNormal", initializers.RandomNormal(seed=0),
         lambda: rng.standard_normal(shape, dtype=np.float32)),
        ("HeNormal (truncated)", initializers.HeNormal(seed=0),
         lambda: _numpy_truncated_normal(rng, shape, fan_std / 0.87962566103423978)),
    ]
    for name, init, baseline in cases:
        ours = _median_seconds(lambda: init(shape, n_threads=n_threads), repeat)
        theirs = _median_seconds(baseline, repeat)
        _print_row(name, ours, theirs, nbytes)
    floor = _median_seconds(lambda: np.empty(shape, np.float32).fill(1.0), repeat)
    print(f"  {'memory-write floor':<28} np.empty().fill(1.0) {nbytes / floor / 1e9:6.2f} GB/s")


def _determinism_tour(n_threads):
    init = initializers.GlorotUniform(seed=42)
    shape = (4096, 4096)
    whole = init(shape, n_threads=n_threads)
    one_thread = init(shape, n_threads=1)
    block = init.block(shape, (slice(1000, 1004), slice(2000, 2010)))
    huge_block = init.block((10**6, 10**6), (slice(0, 4), slice(0, 10)))
    digest = hashlib.sha256(whole.tobytes()).hexdigest()[:16]
    print("Determinism:")
    print(f"  sha256 of GlorotUniform(seed=42)((4096, 4096)): {digest}... "
          f"same on 1 thread: {np.array_equal(whole, one_thread)}")
    print(f"  block [1000:1004, 2000:2010] == whole[1000:1004, 2000:2010]: "
          f"{np.array_equal(block, whole[1000:1004, 2000:2010])}")
    print(f"  a (4, 10) block of a (10**6, 10**6) tensor, computed alone: "
          f"shape {huge_block.shape}, |x| <= {np.abs(huge_block).max():.2e}")


def run(size=8192, n_threads=None, repeat=3):
    """Print the tour; return the process exit status."""
    n_threads = effective_n_threads(n_threads)
    print(f"densekit {densekit.__version__}: {n_threads} threads, "
          f"SIMD {_openmp.simd_level()}, OpenMP {_openmp.openmp_version() or 'off'}")
    print()
    _initialization_tour(size, n_threads, repeat)
    print()
    _determinism_tour(n_threads)
    return 0
