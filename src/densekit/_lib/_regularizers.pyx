"""Regularizer reductions and gradients: float64 accumulation, thread-count independent.

The flat input is cut into fixed blocks of BLOCK values (a shape-only partition);
each block's sums go to its own slot and the slots are added in order with
Neumaier's compensated sum, so results are identical for any `n_threads` and a
sum over 1e8 float32 values matches math.fsum to ~1e-13 relative.
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport fabs, isfinite

cdef enum:
    # 8192 values per block: 512 per accumulator lane, so the in-block error is ~1e-13.
    BLOCK = 8192
    # Fewest values worth a thread of their own.
    MIN_PER_THREAD = 32768


cdef inline int _useful_threads(Py_ssize_t n_values, int n_threads) noexcept nogil:
    """At most one thread per MIN_PER_THREAD values: waking a thread costs more than
    a small array's work (and much more on a loaded machine). The partition, hence
    the result, does not depend on this choice."""
    cdef Py_ssize_t most = n_values // MIN_PER_THREAD
    if most < 1:
        return 1
    return <int>most if most < n_threads else n_threads


# SUM_ABS, SUM_SQ: the bits of `which`, a cpdef enum in _regularizers.pxd.


cdef extern from "dk_norms.h" nogil:
    void dk_sums_f(const float* x, Py_ssize_t n, int want_abs, int want_sq,
                   double* s1, double* s2)
    void dk_sums_d(const double* x, Py_ssize_t n, int want_abs, int want_sq,
                   double* s1, double* s2)


cdef inline void _block_sums(const floating* x, Py_ssize_t n, int which,
                             double* s1, double* s2) noexcept nogil:
    """s1 := sum|x|, s2 := sum x**2 (those asked for) over 16 fixed lanes (dk_norms.h)."""
    if floating is float:
        dk_sums_f(x, n, which & SUM_ABS, which & SUM_SQ, s1, s2)
    else:
        dk_sums_d(x, n, which & SUM_ABS, which & SUM_SQ, s1, s2)


cdef double _neumaier(const double* p, Py_ssize_t n, Py_ssize_t stride) noexcept nogil:
    """Compensated sum of p[0], p[stride], ... in order (inf and NaN pass through)."""
    cdef double s = 0.0, c = 0.0, t, v
    cdef Py_ssize_t i
    for i in range(n):
        v = p[i * stride]
        t = s + v
        if fabs(s) >= fabs(v):
            c = c + ((s - t) + v)
        else:
            c = c + ((v - t) + s)
        s = t
    if not isfinite(s):
        return s  # the compensation term would turn inf into NaN
    return s + c


def sums(const floating[::1] x, int which, int n_threads):
    """(sum|x|, sum x**2) in float64; `which` picks SUM_ABS, SUM_SQ or both (3)."""
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t b, j0
    cdef double r1, r2
    if n == 0:
        return 0.0, 0.0
    cdef double[:, ::1] part = np.empty((n_blocks, 2), dtype=np.float64)
    n_threads = _useful_threads(n, n_threads)
    with nogil:
        for b in prange(n_blocks, schedule='guided', num_threads=n_threads):
            j0 = b * BLOCK
            _block_sums(&x[j0], min(BLOCK, n - j0), which, &part[b, 0], &part[b, 1])
        r1 = _neumaier(&part[0, 0], n_blocks, 2)
        r2 = _neumaier(&part[0, 1], n_blocks, 2)
    return r1, r2


cdef inline double _sign(double v) noexcept nogil:
    """numpy.sign: -1, 0 or 1, NaN stays NaN."""
    if v > 0:
        return 1.0
    if v < 0:
        return -1.0
    return v  # 0 (keeps -0.0 as numpy does) or NaN


def l1l2_gradient(const floating[::1] x, floating[::1] out, double l1, double l2,
                  bint use_l1, bint use_l2, int n_threads):
    """out := l1 * sign(x) + 2 * l2 * x (each term only if used), rounded once."""
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t n_blocks = (n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t b, j, j1
    cdef double v, g, two_l2 = 2.0 * l2
    n_threads = _useful_threads(n, n_threads)
    with nogil:
        for b in prange(n_blocks, schedule='guided', num_threads=n_threads):
            j1 = min(n, (b + 1) * BLOCK)
            if use_l1 and use_l2:
                for j in range(b * BLOCK, j1):
                    v = x[j]
                    out[j] = <floating>(l1 * _sign(v) + two_l2 * v)
            elif use_l1:
                for j in range(b * BLOCK, j1):
                    out[j] = <floating>(l1 * _sign(x[j]))
            elif use_l2:
                for j in range(b * BLOCK, j1):
                    out[j] = <floating>(two_l2 * x[j])
            else:
                for j in range(b * BLOCK, j1):
                    out[j] = 0
