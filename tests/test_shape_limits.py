"""The element-count limit that keeps the samplers' 64-bit index arithmetic overflow-free.

Issue 10.1: shapes of 2**63 - 60 ... 2**63 - 1 elements used to pass validation; the
kernels then overflowed int64 in ``(i0 + step - 1) / step * step`` and ``(blk << 2) + 4``
and wrote out of bounds (``RandomUniform(seed=5).block((2**63 - 4,), (slice(-1, None),))``
segfaulted). Every shape is now checked against 2**62 elements (see
``densekit._validation.MAX_ELEMENTS`` for the bound's derivation).
"""

import numpy as np
import pytest

from densekit import initializers
from densekit._validation import MAX_ELEMENTS, check_shape

LIMIT_MSG = r"more than the limit of 2\*\*62 = 4611686018427387904 elements"

OVER = [2**63 - 60, 2**63 - 4, 2**63 - 1, 2**63, 2**62 + 1, 2**64 + 3]


def test_limit_value():
    assert MAX_ELEMENTS == 2**62


@pytest.mark.parametrize("n", OVER)
def test_block_of_too_many_elements_is_a_value_error(n):
    with pytest.raises(ValueError, match=LIMIT_MSG):
        initializers.RandomUniform(seed=5).block((n,), (slice(-1, None),))


@pytest.mark.parametrize("shape", [(2**31, 2**31 + 1), (2**21, 2**21, 2**21), (3, 2**62)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multi_dim_shapes_over_the_limit(shape, dtype):
    init = initializers.TruncatedNormal(seed=1)
    with pytest.raises(ValueError, match=LIMIT_MSG):
        init.block(shape, (-1, -1), dtype)
    with pytest.raises(ValueError, match=LIMIT_MSG):
        init(shape, dtype)


def test_check_shape_names_the_argument_and_limit():
    with pytest.raises(ValueError, match=r"Argument `shape` describes 9223372036854775804 elements, "
                                         + LIMIT_MSG + r".*Received: shape=\(9223372036854775804,\)"):
        check_shape((2**63 - 4,))
    # a zero-size shape cannot be addressed either when one dim is beyond the limit
    with pytest.raises(ValueError, match="or a dimension above it"):
        check_shape((0, 2**63))
    assert check_shape((0, 2**62)) == (0, 2**62)
    assert check_shape((2**62,)) == (2**62,)
    assert check_shape((2**31, 2**31)) == (2**31, 2**31)


def test_dask_rejects_too_many_elements():
    import densekit.dask as dk_dask

    with pytest.raises(ValueError, match=LIMIT_MSG):
        dk_dask.from_initializer(initializers.RandomUniform(seed=5), (2**63 - 4,), chunks=2**40)


KINDS = [
    initializers.RandomUniform(-1.0, 1.0, seed=5),
    initializers.RandomNormal(seed=5),
    initializers.TruncatedNormal(seed=5),
]


@pytest.mark.parametrize("init", KINDS, ids=lambda i: type(i).__name__)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("tail", [1, 3, 70, 5000])
def test_last_elements_at_the_limit(init, dtype, tail):
    # The largest allowed tensor: its last elements are computed (unaligned heads and
    # tails of every SIMD path) and equal the same stream elements seen through a
    # 2-D shape, so the index arithmetic is exact at the bound.
    flat = init.block((MAX_ELEMENTS,), (slice(-tail, None),), dtype)
    two_d = init.block((2**31, 2**31), (-1, slice(-tail, None)), dtype)
    assert flat.shape == (tail,)
    assert np.isfinite(flat).all()
    np.testing.assert_array_equal(flat, two_d)
