"""`densekit demo`: the tour. Initialization speed, determinism, the Keras tutorial model,
and a wide model's initialization and forward throughput, each next to numpy.

Every line is flushed as it is printed, so a pipe (``densekit demo | tee log``) shows
progress as it happens, and a line announces each timing before it starts.
"""

import functools
import hashlib
import statistics
import time

import numpy as np

import densekit
from densekit import initializers
from densekit._lib import _openmp
from densekit._threads import effective_n_threads

# Line by line even when stdout is a pipe (block-buffered by default).
_print = functools.partial(print, flush=True)


def _speedup(theirs, ours):
    """'speed-up 1.40x', or 'speed-up 0.75x (densekit slower)' when it is not one."""
    ratio = round(theirs / ours, 2)  # the flag agrees with the printed figure
    text = f"speed-up {ratio:5.2f}x"
    return text + " (densekit slower)" if ratio < 1 else text


def _timing(what):
    _print(f"  ... timing {what}")


def _median_seconds(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _median_pair(ours, theirs, repeat, pause=0.0):
    """Median seconds of two functions, each run once first (warm caches, thread
    pools started), then in alternating order, so that neither always runs on the
    state the other left (a cold first call, or the other's spinning threads).
    `pause` seconds before each timed call let the other side's thread pool go idle:
    numpy's OpenBLAS workers poll for about 0.1 s after a threaded call, and a call
    that starts meanwhile on a 2-core machine waits for scheduler ticks."""
    ours()
    theirs()
    times = ([], [])
    for r in range(repeat):
        order = ((0, ours), (1, theirs)) if r % 2 == 0 else ((1, theirs), (0, ours))
        for slot, fn in order:
            if pause:
                time.sleep(pause)
            start = time.perf_counter()
            fn()
            times[slot].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


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
    _print(
        f"  {name:<28} densekit {nbytes / ours / 1e9:6.2f} GB/s   "
        f"numpy {nbytes / theirs / 1e9:6.2f} GB/s   {_speedup(theirs, ours)}"
    )


def _initialization_tour(size, n_threads, repeat):
    shape = (size, size)
    nbytes = size * size * 4
    rng = np.random.default_rng(0)
    fan_std = float(np.sqrt(2.0 / size))
    _print(f"Initializing a {size}x{size} float32 tensor ({nbytes / 2**20:.0f} MiB), "
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
        _timing(f"{name}: densekit and numpy, alternating")
        ours, theirs = _median_pair(lambda: init(shape, n_threads=n_threads), baseline,
                                    repeat)
        _print_row(name, ours, theirs, nbytes)
    floor = _median_seconds(lambda: np.empty(shape, np.float32).fill(1.0), repeat)
    _print(f"  {'memory-write floor':<28} np.empty().fill(1.0) {nbytes / floor / 1e9:6.2f} GB/s")


def _determinism_tour(n_threads):
    init = initializers.GlorotUniform(seed=42)
    shape = (4096, 4096)
    whole = init(shape, n_threads=n_threads)
    one_thread = init(shape, n_threads=1)
    block = init.block(shape, (slice(1000, 1004), slice(2000, 2010)))
    huge_block = init.block((10**6, 10**6), (slice(0, 4), slice(0, 10)))
    digest = hashlib.sha256(whole.tobytes()).hexdigest()[:16]
    _print("Determinism:")
    _print(f"  sha256 of GlorotUniform(seed=42)((4096, 4096)): {digest}... "
           f"same on 1 thread: {np.array_equal(whole, one_thread)}")
    _print(f"  block [1000:1004, 2000:2010] == whole[1000:1004, 2000:2010]: "
           f"{np.array_equal(block, whole[1000:1004, 2000:2010])}")
    _print(f"  a (4, 10) block of a (10**6, 10**6) tensor, computed alone: "
           f"shape {huge_block.shape}, |x| <= {np.abs(huge_block).max():.2e}")


def _tutorial_tour(n_threads):
    """The Keras tutorial model, with `keras` replaced by `densekit` in the imports.

    Its input is declared with ``Input(shape=(16,))`` (what Keras 3 recommends;
    ``input_shape=`` on the first layer makes Keras and densekit warn), and every
    initializer is seeded, so the predict figures are the same on every run.
    """
    from densekit.layers import Dense, Input
    from densekit.models import Sequential

    model = Sequential()
    model.add(Input(shape=(16,)))
    model.add(Dense(32, kernel_initializer=initializers.HeUniform(seed=1),
                    kernel_regularizer=None, kernel_constraint="MaxNorm", activation="relu"))
    model.add(Dense(16, activation="relu", kernel_initializer=initializers.GlorotUniform(seed=2)))
    model.add(Dense(8, kernel_initializer=initializers.GlorotUniform(seed=3)))
    _print("The Keras tutorial model:")
    model.summary(print_fn=_print)
    x = np.random.default_rng(0).standard_normal((1000, 16), dtype=np.float32)
    y = model.predict(x, verbose=0, n_threads=n_threads)
    _print(f"predict on a random (1000, 16) batch: output shape {y.shape}, dtype {y.dtype}, "
           f"mean {y.mean():.4f}, std {y.std():.4f}, min {y.min():.4f}, max {y.max():.4f}")
    _training_tour(model, n_threads)


def _training_tour(model, n_threads, epochs=5):
    """The tutorial's next chapter: compile and fit (seeded data, shuffle seeded), so the
    loss falls the same way on every run."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4000, 16), dtype=np.float32)
    teacher = rng.standard_normal((16, 8)).astype(np.float32) / 4
    y = np.tanh(x @ teacher)
    np.random.seed(0)  # fit shuffles with numpy's global generator, as Keras does
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    _print(f"Training it (adam, mse, {epochs} epochs of 4000 rows, batch 32; the constraint "
           "MaxNorm holds after every step):")
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, validation_split=0.1)
    seconds = time.perf_counter() - start
    for epoch, (loss, val) in enumerate(zip(history.history["loss"],
                                            history.history["val_loss"]), 1):
        _print(f"  epoch {epoch}: loss {loss:.4f}  val_loss {val:.4f}")
    norms = np.sqrt((model.layers[0].kernel ** 2).sum(axis=0))
    steps = epochs * -(-int(len(x) * 0.9) // 32)   # batches of the 90% not held out
    _print(f"  {steps / seconds:,.0f} steps/s; largest column norm of the first "
           f"kernel {norms.max():.4f} (MaxNorm: <= 2)")


def _wide_model_tour(width, n_threads, repeat):
    """Initialization and forward throughput of a model with Dense layers `width` wide."""
    from densekit.layers import Dense, Input
    from densekit.models import Sequential

    batch = 256
    n_layers = 2
    _print(f"A wide model: {n_layers} Dense({width}, relu) layers, "
           f"{n_layers * (width * width + width):,} parameters:")

    def build():
        layers = [Input(shape=(width,))]
        layers += [Dense(width, activation="relu") for _ in range(n_layers)]
        return Sequential(layers)

    _timing("initialization: densekit and numpy, alternating")
    model = build()
    rng = np.random.default_rng(0)
    limit = float(np.sqrt(6.0 / (2 * width)))


    def numpy_init():
        kernels = [rng.random((width, width), dtype=np.float32) for _ in range(n_layers)]
        for kernel in kernels:
            kernel *= 2 * limit
            kernel -= limit
        return kernels

    ours_init, theirs_init = _median_pair(build, numpy_init, repeat)
    _print(f"  initialization (glorot_uniform)  densekit {ours_init * 1e3:8.1f} ms   "
           f"numpy {theirs_init * 1e3:8.1f} ms   {_speedup(theirs_init, ours_init)}")

    x = rng.standard_normal((batch, width), dtype=np.float32)
    weights = model.get_weights()

    def numpy_forward():
        h = x
        for kernel, bias in zip(weights[0::2], weights[1::2]):
            h = np.maximum(h @ kernel + bias, 0)
        return h

    _timing(f"forward pass, batch {batch}: densekit and numpy, alternating")
    # Both sides run GEMMs near this machine's peak, so the difference is small and
    # a few rounds would show mostly its noise: take at least 7 of each, each after
    # the other side's BLAS or OpenMP threads have gone idle (0.3 s, as the latency
    # benchmark does).
    ours_fwd, theirs_fwd = _median_pair(
        lambda: model.predict(x, verbose=0, n_threads=n_threads), numpy_forward,
        max(repeat, 7), pause=0.3)
    flops = 2.0 * batch * width * width * n_layers
    _print(f"  forward pass, batch {batch}          densekit {flops / ours_fwd / 1e9:6.1f} GFLOP/s"
           f"   numpy {flops / theirs_fwd / 1e9:6.1f} GFLOP/s   "
           f"{_speedup(theirs_fwd, ours_fwd)}")


def run(size=8192, n_threads=None, repeat=3, width=8192):
    """Print the tour; return the process exit status."""
    n_threads = effective_n_threads(n_threads)
    _print(f"densekit {densekit.__version__}: {n_threads} threads, "
           f"SIMD {_openmp.simd_level()}, OpenMP {_openmp.openmp_version() or 'off'}")
    _print()
    _initialization_tour(size, n_threads, repeat)
    _print()
    _determinism_tour(n_threads)
    _print()
    _tutorial_tour(n_threads)
    _print()
    _wide_model_tour(width, n_threads, repeat)
    return 0
