"""Statistical tests of the random initializers (scipy.stats), fixed seeds, no retries.

For every random initializer and output dtype: a Kolmogorov-Smirnov test against
the exact CDF (p > 1e-3), the mean within 5 standard errors, the variance within 5
standard errors of the sample variance (from the fourth central moment), and exact
bounds. Fans are checked on rank 1, 2 and 4 shapes with their expected values
written out. `DENSEKIT_TEST_SEEDS=all` runs seeds 0..99 instead of [0, 42].

That sweep makes about 600 independent KS tests (uniform, normal and truncated
streams in float32 and float64; the scaled initializers reuse the same streams,
and KS is scale invariant), so at the 1e-3 floor about 0.6 failures are expected
by chance. Seen: seed 52, float64 truncated normal, p = 6.4e-4 at n = 1e5; the
same stream gives p = 0.04 at n = 1e6 and 0.49 at n = 4e6 (a defect would make
p fall with n). The slow test below checks the p-values' uniformity instead.

16-bit outputs are the float32 values rounded (checked bit for bit in
test_initializers.py). Their KS test spreads each value uniformly over its
rounding cell (clipped to the support) with a fixed numpy generator, which makes
the CDF exact at every cell boundary, so the rounding costs the test no power.
"""

import math
import os

import numpy as np
import pytest
from scipy import stats

from densekit.initializers import (
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
)

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)

SEEDS = list(range(100)) if os.environ.get("DENSEKIT_TEST_SEEDS") == "all" else [0, 42]
P_FLOOR = 1e-3
TRUNC_STD = 0.87962566103423978

DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "float16": np.dtype(np.float16),
    "bfloat16": BF16,
}


@pytest.fixture(params=SEEDS, ids=lambda s: f"seed{s}")
def seed(request):
    return request.param


class Spec:
    """An initializer with its exact distribution: `kind` and stream parameters (a, b)."""

    def __init__(self, name, make, shape, kind, a, b):
        self.name, self.make, self.shape, self.kind, self.a, self.b = (
            name, make, shape, kind, a, b,
        )

    def dist(self):
        if self.kind == "uniform":
            return stats.uniform(loc=self.a, scale=self.b - self.a)
        if self.kind == "normal":
            return stats.norm(loc=self.a, scale=self.b)
        return stats.truncnorm(-2.0, 2.0, loc=self.a, scale=self.b)

    def support(self):
        if self.kind == "uniform":
            return self.a, self.b
        if self.kind == "truncnorm":
            return self.a - 2 * self.b, self.a + 2 * self.b
        return -np.inf, np.inf


# Shapes with their fans written out (rank 1, 2, 4), >= 1e5 elements each.
FAN_SHAPES = {
    "rank1": ((100_000,), 100_000, 100_000),
    "rank2": ((400, 250), 400, 250),
    "rank4": ((5, 5, 64, 80), 25 * 64, 25 * 80),
}

NAMED = {
    GlorotNormal: (1.0, "fan_avg", "truncnorm"),
    GlorotUniform: (1.0, "fan_avg", "uniform"),
    HeNormal: (2.0, "fan_in", "truncnorm"),
    HeUniform: (2.0, "fan_in", "uniform"),
    LecunNormal: (1.0, "fan_in", "truncnorm"),
    LecunUniform: (1.0, "fan_in", "uniform"),
}


def _vs_params(scale, mode, kind, fan_in, fan_out):
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    s = scale / max(1.0, n)
    if kind == "uniform":
        limit = math.sqrt(3 * s)
        return -limit, limit
    if kind == "truncnorm":
        return 0.0, math.sqrt(s) / TRUNC_STD
    return 0.0, math.sqrt(s)


def _specs():
    specs = [
        Spec("RandomUniform", lambda s: RandomUniform(-0.3, 0.7, seed=s), (400, 250),
             "uniform", -0.3, 0.7),
        Spec("RandomNormal", lambda s: RandomNormal(0.5, 2.0, seed=s), (400, 250),
             "normal", 0.5, 2.0),
        Spec("TruncatedNormal", lambda s: TruncatedNormal(-1.0, 0.5, seed=s), (400, 250),
             "truncnorm", -1.0, 0.5),
        Spec("TruncatedNormal-default", lambda s: TruncatedNormal(seed=s), (100_000,),
             "truncnorm", 0.0, 0.05),
    ]
    for label, (shape, fan_in, fan_out) in FAN_SHAPES.items():
        for cls, (scale, mode, kind) in NAMED.items():
            a, b = _vs_params(scale, mode, kind, fan_in, fan_out)
            specs.append(Spec(f"{cls.__name__}-{label}", lambda s, c=cls: c(seed=s), shape,
                              kind, a, b))
        for mode, dist, kind in [("fan_out", "uniform", "uniform"),
                                 ("fan_avg", "untruncated_normal", "normal"),
                                 ("fan_in", "normal", "truncnorm")]:
            a, b = _vs_params(0.7, mode, kind, fan_in, fan_out)
            specs.append(Spec(
                f"VarianceScaling-{dist}-{mode}-{label}",
                lambda s, m=mode, d=dist: VarianceScaling(0.7, m, d, seed=s),
                shape, kind, a, b,
            ))
    return specs


SPECS = _specs()


def _bounds(spec, dtype):
    """Inclusive bounds in the output precision (rounding is monotone)."""
    if spec.kind == "normal":
        return None
    if dtype == np.float64:
        if spec.kind == "uniform":
            return spec.a, np.nextafter(spec.b, -np.inf)
        return spec.a - 2 * spec.b, spec.a + 2 * spec.b
    a32, b32 = np.float32(spec.a), np.float32(spec.b)
    if spec.kind == "uniform":
        lo, hi = a32, np.nextafter(b32, np.float32(-np.inf))
    else:
        lo, hi = a32 - np.float32(2) * b32, a32 + np.float32(2) * b32
    # 16-bit outputs are rounded float32 values: round the float32 bounds too.
    return lo.astype(dtype).astype(np.float64), hi.astype(dtype).astype(np.float64)


def _spread_over_rounding_cells(x, support, rng):
    """Replace each 16-bit value by a uniform draw over the interval that rounds to it."""
    bits = x.view(np.uint16)
    sign = (bits & 0x8000) != 0
    mag = (bits & 0x7FFF).astype(np.uint16)
    value = np.abs(x.astype(np.float64))
    up = (mag + np.uint16(1)).view(x.dtype).astype(np.float64)
    down = np.where(mag > 0, (mag - np.uint16(1)), np.uint16(1)).view(x.dtype).astype(np.float64)
    down = np.where(mag > 0, down, -down)  # zero: the cell is symmetric about 0
    lo_mag, hi_mag = (value + down) / 2, (value + up) / 2
    lo = np.where(sign, -hi_mag, lo_mag)
    hi = np.where(sign, -lo_mag, hi_mag)
    lo = np.maximum(lo, support[0])
    hi = np.minimum(hi, support[1])
    return lo + (hi - lo) * rng.random(x.shape[0])


def _check_distribution(x, spec, dtype, seed):
    x = x.reshape(-1)
    n = x.shape[0]
    assert n >= 100_000
    dist = spec.dist()
    values = x.astype(np.float64)
    assert np.isfinite(values).all()

    bounds = _bounds(spec, dtype)
    if bounds is not None:
        assert values.min() >= bounds[0], (values.min(), bounds)
        assert values.max() <= bounds[1], (values.max(), bounds)

    ks_values = values
    if dtype.itemsize == 2:
        ks_values = _spread_over_rounding_cells(x, spec.support(), np.random.default_rng(seed))
    p = stats.kstest(ks_values, dist.cdf).pvalue
    assert p > P_FLOOR, f"KS p-value {p:.2e} for {spec.name} {dtype}"

    mean, var = float(dist.mean()), float(dist.var())
    assert abs(values.mean() - mean) <= 5 * math.sqrt(var / n)
    # Var(sample variance) ~ (mu4 - var**2) / n, mu4 = (excess kurtosis + 3) * var**2.
    kurt = float(dist.stats(moments="k"))
    se_var = math.sqrt((kurt + 2.0) * var**2 / n)
    assert abs(values.var() - var) <= 5 * se_var, (values.var(), var, se_var)


# 16-bit outputs: the basic initializers and every family member on the rank-2
# shape (the fans are the float32 ones: the rounding comes after).
HALF_SPECS = [s for s in SPECS if "rank" not in s.name or s.name.endswith("rank2")]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_distribution(spec, dtype_name, seed):
    dtype = DTYPES[dtype_name]
    x = spec.make(seed)(spec.shape, dtype)
    assert x.shape == spec.shape and x.dtype == dtype
    _check_distribution(x, spec, dtype, seed)


@pytest.mark.parametrize("spec", HALF_SPECS, ids=[s.name for s in HALF_SPECS])
@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16"])
def test_distribution_half(spec, dtype_name, seed):
    dtype = DTYPES[dtype_name]
    x = spec.make(seed)(spec.shape, dtype)
    assert x.shape == spec.shape and x.dtype == dtype
    _check_distribution(x, spec, dtype, seed)


@pytest.mark.parametrize("spec", SPECS[:3], ids=[s.name for s in SPECS[:3]])
def test_distribution_of_blocks(spec, seed):
    """A block is a sample of the same distribution (and equals the whole's part)."""
    init = spec.make(seed)
    full = (10**6, 10**6)
    x = init.block(full, (slice(123_456, 123_556), slice(7, 1007)), "float64")
    _check_distribution(x, spec, np.dtype(np.float64), seed)


def test_different_seeds_are_independent(seed):
    """Pearson correlation of two seeds' streams is within 5 / sqrt(n) of 0."""
    n = 200_000
    for init_cls in (RandomUniform, RandomNormal, TruncatedNormal):
        x = init_cls(seed=seed)((n,), "float64")
        y = init_cls(seed=seed + 1)((n,), "float64")
        r = np.corrcoef(x, y)[0, 1]
        assert abs(r) < 5 / math.sqrt(n)
        # Neighbouring elements of one stream are uncorrelated as well.
        r_lag = np.corrcoef(x[:-1], x[1:])[0, 1]
        assert abs(r_lag) < 5 / math.sqrt(n)


def test_truncated_normal_never_clips(seed):
    """Rejection, not clipping: no mass piles up at the bounds."""
    x = TruncatedNormal(0.0, 1.0, seed=seed)((1_000_000,), "float64")
    assert np.abs(x).max() <= 2.0
    # Clipping 4.55% of draws would put ~22750 values on each bound.
    assert np.count_nonzero(np.abs(x) == 2.0) <= 1
    # Fraction within 0.01 of a bound matches the density there.
    expected = stats.truncnorm(-2, 2).cdf(-1.99) * 2
    observed = np.mean(np.abs(x) > 1.99)
    assert abs(observed - expected) <= 5 * math.sqrt(expected / x.size)


@pytest.mark.parametrize(
    "shape, gain", [((120, 80), 1.0), ((80, 120), 0.5), ((4, 10, 30), 2.0), ((64, 64), 1.0)],
    ids=str,
)
def test_orthogonal(shape, gain, seed):
    rows, cols = math.prod(shape[:-1]), shape[-1]
    for dtype, atol in [("float64", 1e-12), ("float32", 1e-5)]:
        w = Orthogonal(gain=gain, seed=seed)(shape, dtype).reshape(rows, cols)
        w = w.astype(np.float64)
        gram = w.T @ w if rows >= cols else w @ w.T
        np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), atol=atol)


def test_orthogonal_is_haar_distributed(seed):
    """Entries of a Haar-random n x n orthogonal matrix, times sqrt(n), are close to N(0, 1);
    the sign correction makes diag(r) > 0 so the first column is uniform on the sphere."""
    n = 200
    w = Orthogonal(seed=seed)((n, n), "float64")
    first_col = w[:, 0] * math.sqrt(n)
    # A uniform unit vector's coordinates: sqrt(n) * x_i ~ t-like, N(0,1) as n grows;
    # its squared coordinates are Beta(1/2, (n-1)/2) exactly.
    p = stats.kstest(w[:, 0] ** 2, stats.beta(0.5, (n - 1) / 2).cdf).pvalue
    assert p > P_FLOOR
    assert abs(first_col.mean()) <= 5 / math.sqrt(n)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uniform", "normal", "truncnorm"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_ks_pvalues_are_uniform_across_seeds(kind, dtype_name):
    """Over seeds 0..99 the KS p-values are themselves uniform on [0, 1]."""
    spec = {"uniform": SPECS[0], "normal": SPECS[1], "truncnorm": SPECS[2]}[kind]
    dist = spec.dist()
    pvalues = []
    for s in range(100):
        x = spec.make(s)(spec.shape, dtype_name).reshape(-1).astype(np.float64)
        pvalues.append(stats.kstest(x, dist.cdf).pvalue)
    assert stats.kstest(pvalues, "uniform").pvalue > P_FLOOR
