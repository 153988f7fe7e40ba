"""Kernel tests for densekit._lib._random: Philox known answers, the documented stream
layout (re-derived in numpy, bit for bit), determinism across threads, blocks and SIMD
paths, bounds, 16-bit rounding and distribution sanity checks."""

import csv
import pathlib

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import stats

from densekit._lib import _random

KINDS = [_random.UNIFORM, _random.NORMAL, _random.TRUNCATED_NORMAL]
KIND_IDS = ["uniform", "normal", "truncated"]
DTYPES = [np.float32, np.float64]
CHUNK = 16384  # DK_CHUNK in sampling.h: sizes below straddle several work items
KAT_PATH = pathlib.Path(__file__).parent / "data" / "philox-kat.csv"
HW_LEVEL = _random._force_simd_level(None)

try:
    import ml_dtypes
except ImportError:  # pragma: no cover - ml_dtypes is in the test extra
    ml_dtypes = None


def sample(kind, shape, dtype=np.float32, seed=1234, a=0.0, b=1.0, n_threads=2, half=0,
           start=0, row_stride=None):
    shape = (1, shape) if isinstance(shape, int) else shape
    out = np.empty(shape, np.uint16 if half else dtype)
    if row_stride is None:
        row_stride = shape[1]
    _random.fill(kind, out, seed, start, row_stride, a, b, n_threads, half)
    return out


# Sampler paths this CPU can run: 0 portable C, 2 AVX2, 3 AVX-512.
LEVEL_NAMES = {0: "baseline", 2: "avx2", 3: "avx512"}
LEVELS = [level for level in LEVEL_NAMES if level <= HW_LEVEL]


@pytest.fixture(params=LEVELS, ids=lambda level: LEVEL_NAMES[level])
def simd(request):
    """Run a test on every sampler path this CPU supports."""
    previous = _random._force_simd_level(request.param)
    yield request.param
    _random._force_simd_level(previous)


# ------------------------------------------------------------------ Philox4x32-10

def _kat_rows():
    with open(KAT_PATH) as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
    return [[int(x, 16) for x in r] for r in rows[1:]]


@pytest.mark.parametrize("row", _kat_rows(), ids=lambda r: f"{r[0]:08x}")
def test_philox_known_answers(row):
    assert _random.philox4x32_10(row[0:4], row[4:6]) == tuple(row[6:10])


def test_kat_file_has_the_three_random123_vectors():
    assert len(_kat_rows()) == 3


M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK = np.uint64(0xFFFFFFFF)


def philox_ref(ctr, key):
    """Philox4x32-10 over arrays of counters (n, 4) and one key, in numpy uint64."""
    c = [np.asarray(ctr[:, j], np.uint64) for j in range(4)]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for rnd in range(10):
        if rnd:
            k0 = (k0 + np.uint64(W0)) & MASK
            k1 = (k1 + np.uint64(W1)) & MASK
        p0 = np.uint64(M0) * c[0]
        p1 = np.uint64(M1) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & MASK, (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & MASK]
    return np.stack(c, axis=1).astype(np.uint32)


def test_philox_matches_reference_on_random_inputs():
    rng = np.random.default_rng(0)
    ctr = rng.integers(0, 2**32, size=(200, 4), dtype=np.uint64)
    keys = rng.integers(0, 2**32, size=(200, 2), dtype=np.uint64)
    for j in range(200):
        expected = philox_ref(ctr[j : j + 1], keys[j])[0]
        assert _random.philox4x32_10(ctr[j], keys[j]) == tuple(int(x) for x in expected)


# ------------------------------------------------------------------ the documented stream, in numpy

def stream_words(seed, kind, is64, n_blocks, attempt=0, first_block=0):
    blk = np.arange(first_block, first_block + n_blocks, dtype=np.uint64)
    ctr = np.stack([blk & MASK, blk >> np.uint64(32), np.full_like(blk, attempt),
                    np.full_like(blk, kind | (0x100 if is64 else 0))], axis=1)
    return philox_ref(ctr, (seed & 0xFFFFFFFF, seed >> 32))


def ref_log(x, ft, it, ut, nbits, bias, sqrt2_bits, coefs, ln2_hi, ln2_lo):
    bx = x.view(ut)
    e = (bx >> ut(nbits)).astype(np.int64) - bias
    mb = (bx & ut((1 << nbits) - 1)) | ut(bias << nbits)
    big = (mb >= ut(sqrt2_bits)).astype(ut)
    mb = mb - (big << ut(nbits))
    e = e + big.astype(np.int64)
    f = mb.view(ft)
    s = (f - ft(1)) / (f + ft(1))
    s2 = s * s
    q = ft(coefs[0]) * s2
    for c in coefs[1:]:
        q = (q + ft(c)) * s2
    t = s + s * q
    fe = e.astype(ft)
    return fe * ft(ln2_hi) + (fe * ft(ln2_lo) + (t + t))


def ref_sincos(u, ft, sin_coefs, cos_coefs):
    v = u * ft(8)
    o = v.astype(np.int32)
    t = v - o.astype(ft)
    t = np.where(o & 1, ft(1) - t, t)
    x = t * ft(0.78539816339744830962)
    x2 = x * x
    sp = ft(sin_coefs[0]) * x2
    for c in sin_coefs[1:]:
        sp = (sp + ft(c)) * x2
    s = x + x * sp
    cp = ft(cos_coefs[0]) * x2
    for c in cos_coefs[1:]:
        cp = (cp + ft(c)) * x2
    c = ft(1) + cp
    swap = ((o + 1) & 2) != 0
    s, c = np.where(swap, c, s), np.where(swap, s, c)
    s = np.where(o & 4, -s, s)
    c = np.where((o + 2) & 4, -c, c)
    return s, c


F32_LOG = dict(ft=np.float32, it=np.int32, ut=np.uint32, nbits=23, bias=127, sqrt2_bits=0x3FB504F3,
               coefs=[1 / 9, 1 / 7, 1 / 5, 1 / 3], ln2_hi=0.693145751953125,
               ln2_lo=1.428606765330187045e-06)
F64_LOG = dict(ft=np.float64, it=np.int64, ut=np.uint64, nbits=52, bias=1023,
               sqrt2_bits=0x3FF6A09E667F3BCD, coefs=[1 / k for k in range(21, 2, -2)],
               ln2_hi=6.93147180369123816490e-01, ln2_lo=1.90821492927058770002e-10)
F32_SIN = [1 / 362880, -1 / 5040, 1 / 120, -1 / 6]
F32_COS = [-1 / 3628800, 1 / 40320, -1 / 720, 1 / 24, -0.5]
F64_SIN = [1 / 355687428096000, -1 / 1307674368000, 1 / 6227020800, -1 / 39916800, 1 / 362880,
           -1 / 5040, 1 / 120, -1 / 6]
F64_COS = [-1 / 6402373705728000, 1 / 20922789888000, -1 / 87178291200, 1 / 479001600,
           -1 / 3628800, 1 / 40320, -1 / 720, 1 / 24, -0.5]


def ref_normal_f32(words):
    """Box-Muller exactly as documented: standard normals of shape (n_blocks, 4)."""
    f32 = np.float32
    u1 = ((words[:, 0::2] >> np.uint32(8)) + np.uint32(1)).astype(f32) * f32(2.0**-24)
    u2 = (words[:, 1::2] >> np.uint32(8)).astype(f32) * f32(2.0**-24)
    r = np.sqrt(f32(-2) * ref_log(u1, **F32_LOG))
    s, c = ref_sincos(u2, f32, F32_SIN, F32_COS)
    z = np.empty(words.shape, f32)
    z[:, 0::2] = r * c
    z[:, 1::2] = r * s
    return z


def ref_normal_f64(words):
    w64 = words.astype(np.uint64)
    lanes = w64[:, 0::2] | (w64[:, 1::2] << np.uint64(32))
    u1 = ((lanes[:, 0] >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * 2.0**-53
    u2 = (lanes[:, 1] >> np.uint64(11)).astype(np.float64) * 2.0**-53
    r = np.sqrt(-2.0 * ref_log(u1, **F64_LOG))
    s, c = ref_sincos(u2, np.float64, F64_SIN, F64_COS)
    return np.stack([r * c, r * s], axis=1)


SEEDS = [0, 1234, 2**64 - 1, 0x0123456789ABCDEF]


@pytest.mark.parametrize("seed", SEEDS)
def test_uniform_stream_layout(seed, simd):
    n = 4 * 1000
    a, b = -0.5, 3.0
    words = stream_words(seed, _random.UNIFORM, False, n // 4).reshape(-1)
    u = (words >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)
    expected = np.float32(a) + (np.float32(b) - np.float32(a)) * u
    assert_array_equal(sample(_random.UNIFORM, n, seed=seed, a=a, b=b).ravel(), expected)

    words = stream_words(seed, _random.UNIFORM, True, n // 2).astype(np.uint64)
    lanes = (words[:, 0::2] | (words[:, 1::2] << np.uint64(32))).reshape(-1)
    expected = a + (b - a) * ((lanes >> np.uint64(11)).astype(np.float64) * 2.0**-53)
    assert_array_equal(sample(_random.UNIFORM, n, np.float64, seed=seed, a=a, b=b).ravel(), expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_normal_stream_layout(seed, simd):
    n_blocks = 5000
    a, b = 0.25, 2.0
    z = ref_normal_f32(stream_words(seed, _random.NORMAL, False, n_blocks)).reshape(-1)
    expected = np.float32(a) + np.float32(b) * z
    assert_array_equal(sample(_random.NORMAL, 4 * n_blocks, seed=seed, a=a, b=b).ravel(), expected)

    z = ref_normal_f64(stream_words(seed, _random.NORMAL, True, n_blocks)).reshape(-1)
    got = sample(_random.NORMAL, 2 * n_blocks, np.float64, seed=seed, a=a, b=b).ravel()
    assert_array_equal(got, a + b * z)


@pytest.mark.parametrize("dtype", DTYPES)
def test_truncated_stream_layout(dtype, simd):
    """Attempt k of element i is lane i % L of block (i // L, attempt k, tag)."""
    seed, n_blocks = 99, 4096
    is64 = dtype == np.float64
    ref = ref_normal_f64 if is64 else ref_normal_f32
    lanes = 2 if is64 else 4
    z = ref(stream_words(seed, _random.TRUNCATED_NORMAL, is64, n_blocks)).reshape(-1)
    attempt = 0
    while True:
        bad = np.flatnonzero(np.abs(z) > 2)
        if bad.size == 0:
            break
        attempt += 1
        redo = ref(stream_words(seed, _random.TRUNCATED_NORMAL, is64, n_blocks, attempt)).reshape(-1)
        z[bad] = redo[bad]
    assert attempt >= 2  # the test covered retries beyond the first
    got = sample(_random.TRUNCATED_NORMAL, lanes * n_blocks, dtype, seed=seed).ravel()
    assert_array_equal(got, dtype(0) + dtype(1) * z)


def test_streams_differ_by_seed_kind_and_precision():
    base = sample(_random.NORMAL, 4096, seed=5)
    assert not np.array_equal(base, sample(_random.NORMAL, 4096, seed=6))
    assert not np.array_equal(base, sample(_random.TRUNCATED_NORMAL, 4096, seed=5))
    f64 = sample(_random.NORMAL, 4096, np.float64, seed=5)
    assert np.mean(np.abs(f64.astype(np.float32) - base)) > 0.1


# ------------------------------------------------------------------ determinism

SIZE = 3 * CHUNK + 77


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_identical_for_every_thread_count(kind, dtype, n_threads):
    ref = sample(kind, SIZE, dtype, n_threads=1)
    assert_array_equal(sample(kind, SIZE, dtype, n_threads=n_threads).view(np.uint8),
                       ref.view(np.uint8))
    # The same stream as a (rows, cols) tensor, split into work items per row.
    rows = sample(kind, (95, 515), dtype, n_threads=n_threads)
    assert_array_equal(rows.ravel(), ref.ravel()[: 95 * 515])


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, index",
    [
        ((37, 53), (slice(3, 20), slice(5, 50))),
        ((37, 53), (slice(0, 37), slice(1, 2))),
        ((5, 3 * CHUNK + 9), (slice(1, 4), slice(CHUNK - 7, 2 * CHUNK + 13))),
        ((4000, 9), (slice(17, 3999), slice(2, 9))),
        ((1, 1000), (slice(0, 1), slice(333, 334))),
    ],
)
def test_block_equals_whole(kind, dtype, shape, index, simd):
    seed = 77
    whole = sample(kind, shape, dtype, seed=seed, a=-1.0, b=3.0, n_threads=2)
    (r0, r1), (c0, c1) = [(s.start, s.stop) for s in index]
    block = sample(kind, (r1 - r0, c1 - c0), dtype, seed=seed, a=-1.0, b=3.0, n_threads=2,
                   start=r0 * shape[1] + c0, row_stride=shape[1])
    assert_array_equal(block, whole[index])


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_far_offsets_and_empty(kind):
    """Block indices above 2**32 use the counter's second word; empty outputs are fine."""
    start = 3 * 2**34 + 5
    far = sample(kind, (2, 100), start=start, row_stride=1000)
    again = sample(kind, (1, 1000), start=start)
    assert_array_equal(far[0], again[0, :100])
    assert not np.array_equal(far[0], sample(kind, (1, 100), start=5)[0])
    for shape in [(0, 5), (5, 0), (0, 0)]:
        sample(kind, shape)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("out", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("seed", [5, 2**63 + 11])
def test_every_path_matches_portable(kind, out, seed, simd):
    """Each SIMD path gives the bits of the portable C path (heads, tails and odd starts too)."""
    dtype, half = {"float32": (np.float32, 0), "float64": (np.float64, 0),
                   "float16": (np.float32, 1), "bfloat16": (np.float32, 2)}[out]
    cases = [dict(shape=(1, 2 * CHUNK + 45)), dict(shape=(7, 301), start=13, row_stride=1001),
             dict(shape=(3, 4099), start=2**35 + 3, row_stride=5000)]
    for case in cases:
        got = sample(kind, dtype=dtype, half=half, a=0.5, b=1.5, seed=seed, **case)
        previous = _random._force_simd_level(0)
        try:
            portable = sample(kind, dtype=dtype, half=half, a=0.5, b=1.5, seed=seed, **case)
        finally:
            _random._force_simd_level(previous)
        assert_array_equal(got.view(np.uint8), portable.view(np.uint8))


def test_simd_level_and_forcing():
    assert _random.simd_level() == LEVEL_NAMES[HW_LEVEL]
    for level in LEVELS:
        previous = _random._force_simd_level(level)
        try:
            assert _random.simd_level() == LEVEL_NAMES[level]
        finally:
            _random._force_simd_level(previous)
    with pytest.raises(ValueError, match="level"):
        _random._force_simd_level(HW_LEVEL + 1)
    with pytest.raises(ValueError, match="level"):
        _random._force_simd_level(-1)


# ------------------------------------------------------------------ bounds

@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform_never_reaches_b(dtype, simd):
    # b is a few ulps above a, so a + (b - a) u rounds to b for about a quarter of the draws.
    a = 1.0
    b = 1.0 + 4 * float(np.finfo(dtype).eps)
    x = sample(_random.UNIFORM, 4 * CHUNK + 3, dtype, a=a, b=b)
    assert x.min() >= dtype(a)
    assert x.max() < dtype(b)
    assert x.max() == np.nextafter(dtype(b), dtype(0))  # the clamp is reached, not avoided

    x = sample(_random.UNIFORM, 10**5, dtype, seed=3)
    assert x.min() >= 0 and x.max() < 1
    assert x.max() > 1 - 1e-4  # draws near 1 happen and stay below it


@pytest.mark.parametrize("dtype", DTYPES)
def test_truncated_within_two_stddev(dtype, simd):
    x = sample(_random.TRUNCATED_NORMAL, 2 * 10**5, dtype, seed=11)
    assert np.abs(x).max() <= 2
    assert np.abs(x).max() > 1.99  # the bound is the truncation, not a narrower law
    y = sample(_random.TRUNCATED_NORMAL, 10**5, dtype, seed=11, a=3.0, b=0.5)
    assert np.abs(y - dtype(3.0)).max() <= dtype(1.0)


# ------------------------------------------------------------------ 16-bit outputs

def f16_bits(x32):
    """numpy's float32 -> float16 cast (round to nearest even; overflow to inf is expected)."""
    with np.errstate(over="ignore"):
        return np.asarray(x32, np.float32).astype(np.float16).view(np.uint16)

@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("scale", [1.0, 1e-6, 3e4, 1e6])
def test_float16_is_float32_rounded(kind, scale, simd):
    """Subnormal halves (1e-6), overflow to inf (3e4 * |z| > 65520) and ordinary values."""
    x32 = sample(kind, (3, CHUNK + 17), a=0.0, b=scale, seed=8)
    x16 = sample(kind, (3, CHUNK + 17), a=0.0, b=scale, seed=8, half=1)
    assert_array_equal(x16, f16_bits(x32))


@pytest.mark.skipif(ml_dtypes is None, reason="ml_dtypes not installed")
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("scale", [1.0, 1e-30, 3e38])
def test_bfloat16_is_float32_rounded(kind, scale, simd):
    x32 = sample(kind, (3, CHUNK + 17), a=0.0, b=scale, seed=8)
    xbf = sample(kind, (3, CHUNK + 17), a=0.0, b=scale, seed=8, half=2)
    assert_array_equal(xbf, x32.astype(ml_dtypes.bfloat16).view(np.uint16))


SPECIALS = [0.0, -0.0, 1.0, -2.5, 65504.0, 65519.99, 65520.0, 1e5, float("inf"), -float("inf"),
            6e-8, 2.0**-24, 2.0**-25, 3 * 2.0**-26, 2.0**-14, 2.0**-14 - 2.0**-25, 1e-40,
            np.float32(1.00048828125), 1.0009765625, 3.4e38]


@pytest.mark.parametrize("value", SPECIALS)
def test_fill_constant_16bit(value):
    v32 = np.float32(value)
    h = np.empty((1, 100), np.uint16)
    _random.fill_constant(h, value, 2, 1)
    assert (h == f16_bits(v32)).all()
    if ml_dtypes is not None:
        _random.fill_constant(h, value, 2, 2)
        assert (h == v32.astype(ml_dtypes.bfloat16).view(np.uint16)).all()


def test_fill_constant_16bit_nan_is_nan():
    h = np.empty((1, 10), np.uint16)
    _random.fill_constant(h, float("nan"), 1, 1)
    assert np.isnan(h.view(np.float16)).all()
    if ml_dtypes is not None:
        _random.fill_constant(h, float("nan"), 1, 2)
        assert np.isnan(h.view(ml_dtypes.bfloat16).astype(np.float32)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_fill_constant(dtype, n_threads):
    out = np.empty((3, CHUNK + 5), dtype)
    _random.fill_constant(out, 0.1, n_threads)
    assert (out == dtype(0.1)).all()
    _random.fill_constant(np.empty((0, 3), dtype), 1.0, n_threads)


def test_bad_output_type_is_refused():
    with pytest.raises(TypeError):
        _random.fill(0, np.empty((2, 2), np.int32), 0, 0, 2, 0.0, 1.0, 1)
    with pytest.raises(TypeError):
        _random.fill(0, np.empty((2, 2), np.float32), 0, 0, 2, 0.0, 1.0, 1, 1)


# ------------------------------------------------------------------ distribution sanity

TRUNC = stats.truncnorm(-2, 2)
CDFS = {_random.UNIFORM: stats.uniform.cdf, _random.NORMAL: stats.norm.cdf,
        _random.TRUNCATED_NORMAL: TRUNC.cdf}
MOMENTS = {_random.UNIFORM: (0.5, 1 / 12), _random.NORMAL: (0.0, 1.0),
           _random.TRUNCATED_NORMAL: (0.0, TRUNC.var())}


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", [0, 42])
def test_ks_and_moments(kind, dtype, seed):
    n = 2 * 10**5
    x = sample(kind, n, dtype, seed=seed).ravel().astype(np.float64)
    assert stats.kstest(x, CDFS[kind]).pvalue > 1e-3
    mean, var = MOMENTS[kind]
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / n)
    # var of the sample variance is (mu4 - var^2) / n; mu4 <= 3 var^2 for these laws.
    assert abs(x.var() - var) < 5 * np.sqrt(2 * var**2 / n)


def test_lanes_are_independent():
    """Box-Muller lanes (cos/sin of one pair, two pairs of a block) are uncorrelated."""
    x = sample(_random.NORMAL, 4 * 10**5, seed=2).reshape(-1, 4).astype(np.float64)
    corr = np.corrcoef(x.T)
    assert np.abs(corr - np.eye(4)).max() < 5 / np.sqrt(x.shape[0])


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_ks_float32_million(kind):
    x = sample(kind, 10**6, np.float32, seed=2024).ravel().astype(np.float64)
    assert stats.kstest(x, CDFS[kind]).pvalue > 1e-3


# ------------------------------------------------------------------ memory

PEAK_SCRIPT = """
import numpy as np
from densekit._lib import _random

def hwm():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))

out = np.empty((1, 2**24), {dtype})
before = hwm()
# the truncated normal is the kernel with the most machinery (rejection bookkeeping)
_random.fill(_random.TRUNCATED_NORMAL, out, 7, 0, 2**24, 0.0, 1.0, 2, {half})
print(hwm() - before - out.nbytes)
"""


@pytest.mark.skipif(not pathlib.Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("dtype, half", [("np.float32", 0), ("np.float64", 0), ("np.uint16", 1)])
def test_no_temporaries_proportional_to_output(dtype, half):
    """Peak resident memory grows by the output only (plus well under 32 MiB)."""
    import subprocess
    import sys

    code = PEAK_SCRIPT.format(dtype=dtype, half=half)
    extra = int(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                               text=True).stdout)
    assert extra < 32 * 2**20


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("a, b", [(float("nan"), 1.0), (float("inf"), 1.0), (0.0, float("inf"))])
def test_non_finite_parameters_round_like_numpy(kind, a, b, simd):
    """NaN and inf results (callers normally refuse such parameters) still follow the rules."""
    with np.errstate(invalid="ignore"):
        x32 = sample(kind, (2, 4 * 64 + 3), a=a, b=b)
    assert_array_equal(sample(kind, (2, 4 * 64 + 3), a=a, b=b, half=1), f16_bits(x32))
    if ml_dtypes is not None:
        xbf = sample(kind, (2, 4 * 64 + 3), a=a, b=b, half=2)
        assert_array_equal(xbf, x32.astype(ml_dtypes.bfloat16).view(np.uint16))
