"""densekit._lib._regularizers kernels: block edges, float64 accumulation, threads."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from densekit._lib import _regularizers as k

BOTH = k.SUM_ABS | k.SUM_SQ


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 8, 9, 8191, 8192, 8193, 3 * 8192 + 5, 200001])
def test_sums_block_edges(n, dtype):
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    x64 = x.astype(np.float64)
    ref_abs = math.fsum(np.abs(x64).tolist())
    ref_sq = math.fsum((x64 * x64).tolist())
    results = [k.sums(x, BOTH, t) for t in (1, 2, 3, 4)]
    assert_allclose(results[0], (ref_abs, ref_sq), rtol=1e-14)
    assert all(r == results[0] for r in results[1:])
    assert k.sums(x, k.SUM_ABS, 2)[0] == results[0][0]
    assert k.sums(x, k.SUM_SQ, 2)[1] == results[0][1]


def test_sums_empty_inf_nan():
    assert k.sums(np.zeros(0, np.float32), BOTH, 2) == (0.0, 0.0)
    x = np.ones(20000)
    x[12345] = np.inf
    assert k.sums(x, BOTH, 2) == (np.inf, np.inf)
    x[3] = np.nan
    s1, s2 = k.sums(x, BOTH, 2)
    assert math.isnan(s1) and math.isnan(s2)


def test_compensated_block_total():
    # A block summing to 2**53, then 100 blocks summing to 0.5 each: a plain running
    # sum of the block sums would round every 0.5 away (ties to even).
    x = np.concatenate([np.full(8192, 2.0**40), np.full(8192 * 100, 2.0**-14)])
    s1, _ = k.sums(x, k.SUM_ABS, 2)
    assert s1 == 2.0**53 + 50


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_kernel(dtype, n_threads):
    x = np.random.default_rng(1).standard_normal(20001).astype(dtype)
    x[:3] = 0
    x64 = x.astype(np.float64)
    out = np.empty_like(x)
    for use_l1, use_l2, expected in [
        (True, True, 0.25 * np.sign(x64) + 1.5 * x64),
        (True, False, 0.25 * np.sign(x64)),
        (False, True, 1.5 * x64),
        (False, False, np.zeros_like(x64)),
    ]:
        k.l1l2_gradient(x, out, 0.25, 0.75, use_l1, use_l2, n_threads)
        assert_array_equal(out, expected.astype(dtype))
