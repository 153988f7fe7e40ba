"""Norm constraints as two parallel passes: float64 norms, then one fused rescale.

Every array arrives C-contiguous and in (outer, reduced, inner) form: the norm
of element (o, r, i) is taken over r, so norms have shape (outer, inner). Row
norms are the inner == 1 case. The work partition (at most TARGET_TASKS row
blocks, row chunks, row groups) depends only on the shape, never on `n_threads`, and partial sums
are added in a fixed order: results are bit-identical for any thread count.
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

cdef enum:
    # Column chunk of the norm accumulators: 1024 float64 = 8 KiB stays in L1.
    COL_CHUNK = 1024
    # Aim for this many independent tasks so that threads stay busy (a shape-only choice).
    TARGET_TASKS = 64
    # Fewest rows a column-norm row block holds.
    MIN_BLOCK_ROWS = 32
    # A row longer than this is summed in chunks of this many values, added in order.
    ROW_CHUNK = 8192
    # Elements per task of the elementwise passes.
    FLAT_CHUNK = 16384
    # Fewest values worth a thread of their own.
    MIN_PER_THREAD = 32768
    # Rows shorter than this are summed and scaled by a plain loop (no call per row).
    SHORT_ROW = 32


cdef inline int _useful_threads(Py_ssize_t n_values, int n_threads) noexcept nogil:
    """At most one thread per MIN_PER_THREAD values: waking a thread costs more than
    a small array's work (and much more on a loaded machine). The partition, hence
    the result, does not depend on this choice."""
    cdef Py_ssize_t most = n_values // MIN_PER_THREAD
    if most < 1:
        return 1
    return <int>most if most < n_threads else n_threads


cdef double EPS = 1e-7

# MAX_NORM, MIN_MAX_NORM, UNIT_NORM: the norm kinds, a cpdef enum in _constraints.pxd.


cdef extern from "dk_norms.h" nogil:
    void dk_add_sq_f(double* acc, const float* x, Py_ssize_t n)
    void dk_add_sq_d(double* acc, const double* x, Py_ssize_t n)
    void dk_add_sq4_f(double* acc, const float* x, Py_ssize_t stride, Py_ssize_t n)
    void dk_add_sq4_d(double* acc, const double* x, Py_ssize_t stride, Py_ssize_t n)
    void dk_add_sq8_f(double* acc, const float* x, Py_ssize_t stride, Py_ssize_t n)
    void dk_add_sq8_d(double* acc, const double* x, Py_ssize_t stride, Py_ssize_t n)
    double dk_sumsq_f(const float* x, Py_ssize_t n)
    double dk_sumsq_d(const double* x, Py_ssize_t n)
    void dk_scale_f(float* y, const float* x, const double* f, Py_ssize_t n)
    void dk_scale_d(double* y, const double* x, const double* f, Py_ssize_t n)
    void dk_scale_inplace_f(float* y, const double* f, Py_ssize_t n)
    void dk_scale_inplace_d(double* y, const double* f, Py_ssize_t n)
    void dk_scale4_f(float* y, Py_ssize_t ys, const float* x, Py_ssize_t xs, const double* f,
                     Py_ssize_t n)
    void dk_scale4_d(double* y, Py_ssize_t ys, const double* x, Py_ssize_t xs,
                     const double* f, Py_ssize_t n)
    void dk_scale4_inplace_f(float* y, Py_ssize_t stride, const double* f, Py_ssize_t n)
    void dk_scale4_inplace_d(double* y, Py_ssize_t stride, const double* f, Py_ssize_t n)
    void dk_scale1_f(float* y, const float* x, double f, Py_ssize_t n)
    void dk_scale1_d(double* y, const double* x, double f, Py_ssize_t n)
    void dk_scale1_inplace_f(float* y, double f, Py_ssize_t n)
    void dk_scale1_inplace_d(double* y, double f, Py_ssize_t n)


cdef inline double _sumsq(const floating* x, Py_ssize_t n) noexcept nogil:
    """sum(x**2) in float64 over 16 fixed lanes (dk_norms.h)."""
    if floating is float:
        return dk_sumsq_f(x, n)
    else:
        return dk_sumsq_d(x, n)


cdef inline void _add_sq(double* acc, const floating* x, Py_ssize_t n) noexcept nogil:
    """acc += x**2, elementwise in float64."""
    if floating is float:
        dk_add_sq_f(acc, x, n)
    else:
        dk_add_sq_d(acc, x, n)


cdef inline void _add_sq4(double* acc, const floating* x, Py_ssize_t stride,
                          Py_ssize_t n) noexcept nogil:
    """acc += x0**2 + x1**2 + x2**2 + x3**2 for four rows `stride` apart, left to right
    (the same result as four _add_sq calls, a quarter of the accumulator traffic)."""
    if floating is float:
        dk_add_sq4_f(acc, x, stride, n)
    else:
        dk_add_sq4_d(acc, x, stride, n)


cdef inline void _add_sq8(double* acc, const floating* x, Py_ssize_t stride,
                          Py_ssize_t n) noexcept nogil:
    """acc += x0**2 + ... + x7**2 for eight rows `stride` apart, left to right."""
    if floating is float:
        dk_add_sq8_f(acc, x, stride, n)
    else:
        dk_add_sq8_d(acc, x, stride, n)


cdef inline void _scale(floating* y, const floating* x, const double* f,
                        Py_ssize_t n) noexcept nogil:
    """y := x * f (elementwise, one rounding); y may be x."""
    if <const void*>y == <const void*>x:
        if floating is float:
            dk_scale_inplace_f(y, f, n)
        else:
            dk_scale_inplace_d(y, f, n)
    else:
        if floating is float:
            dk_scale_f(y, x, f, n)
        else:
            dk_scale_d(y, x, f, n)


cdef inline void _scale4(floating* y, const floating* x, Py_ssize_t stride, const double* f,
                         Py_ssize_t n) noexcept nogil:
    """y_k := x_k * f for four rows `stride` apart (one rounding); y may be x."""
    if <const void*>y == <const void*>x:
        if floating is float:
            dk_scale4_inplace_f(y, stride, f, n)
        else:
            dk_scale4_inplace_d(y, stride, f, n)
    else:
        if floating is float:
            dk_scale4_f(y, stride, x, stride, f, n)
        else:
            dk_scale4_d(y, stride, x, stride, f, n)


cdef inline void _scale1(floating* y, const floating* x, double f, Py_ssize_t n) noexcept nogil:
    """y := x * f (scalar f, one rounding); y may be x."""
    if <const void*>y == <const void*>x:
        if floating is float:
            dk_scale1_inplace_f(y, f, n)
        else:
            dk_scale1_inplace_d(y, f, n)
    else:
        if floating is float:
            dk_scale1_f(y, x, f, n)
        else:
            dk_scale1_d(y, x, f, n)


cdef void _colsq_blocks(
    const floating[:, :, ::1] x,  # IN (outer, red, inner)
    double[:, :, ::1] part,       # OUT (outer, n_rb, inner) partial sums of squares
    Py_ssize_t rows_per_block,
    Py_ssize_t span,              # columns per task, a multiple of COL_CHUNK
    int n_threads,
) noexcept nogil:
    """part[o, b, i] := sum over rows r of block b of x[o, r, i]**2, row by row.

    A task is (row block, column span); a span is all columns unless the row blocks
    alone are too few. It reads eight rows at a time from start to end of the span
    (long sequential streams for the prefetchers) in column chunks, so that each
    chunk of the float64 accumulator row stays in L1 while the rows are added to it.
    Within a block the rows are added in order, whatever the chunking.
    """
    cdef Py_ssize_t outer = x.shape[0], red = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t n_rb = part.shape[1]
    cdef Py_ssize_t n_sp = (inner + span - 1) // span
    cdef Py_ssize_t t, o, b, s0, s1, c0, cw, r, r0, r1, j
    cdef double* acc
    for t in prange(outer * n_rb * n_sp, schedule='dynamic', num_threads=n_threads, nogil=True):
        o = t // (n_rb * n_sp)
        b = (t // n_sp) % n_rb
        s0 = (t % n_sp) * span
        s1 = min(inner, s0 + span)
        r0 = b * rows_per_block
        r1 = min(red, r0 + rows_per_block)
        acc = &part[o, b, 0]
        for j in range(s0, s1):
            acc[j] = 0.0
        r = r0
        while r < r1:
            c0 = s0
            while c0 < s1:
                cw = min(COL_CHUNK, s1 - c0)
                if r + 8 <= r1:
                    _add_sq8(acc + c0, &x[o, r, c0], inner, cw)
                elif r + 4 <= r1:
                    _add_sq4(acc + c0, &x[o, r, c0], inner, cw)
                    for j in range(r + 4, r1):
                        _add_sq(acc + c0, &x[o, j, c0], cw)
                else:
                    for j in range(r, r1):
                        _add_sq(acc + c0, &x[o, j, c0], cw)
                c0 = c0 + cw
            r = r + 8


cdef void _combine_blocks(
    const double[:, :, ::1] part,  # IN (outer, n_rb, inner)
    double[:, ::1] sq,             # OUT (outer, inner)
) noexcept nogil:
    """sq[o, i] := sum_b part[o, b, i], blocks added in order.

    Serial on purpose: it is at most TARGET_TASKS times the norms' size (well under
    a millisecond), and one fewer parallel region means one fewer wake-up and
    barrier, which on a busy machine cost more than this loop.
    """
    cdef Py_ssize_t outer = part.shape[0], n_rb = part.shape[1], inner = part.shape[2]
    cdef Py_ssize_t o, b, j
    for o in range(outer):
        for j in range(inner):
            sq[o, j] = part[o, 0, j]
        for b in range(1, n_rb):
            for j in range(inner):
                sq[o, j] = sq[o, j] + part[o, b, j]


cdef void _rowsq(
    const floating[:, ::1] x,  # IN (outer, red)
    double[:, ::1] part,       # OUT (outer, n_ch) chunk sums of squares
    int n_threads,
) noexcept nogil:
    """part[o, k] := sum(x[o, k*ROW_CHUNK:(k+1)*ROW_CHUNK]**2).

    Long rows are split into ROW_CHUNK chunks (one task each); short rows are
    grouped, about FLAT_CHUNK values per task, so that tiny rows do not pay a
    task each. A row's sum never depends on the grouping.
    """
    cdef Py_ssize_t outer = x.shape[0], red = x.shape[1], n_ch = part.shape[1]
    cdef Py_ssize_t per_task = max(1, FLAT_CHUNK // red) if n_ch == 1 else 1
    cdef Py_ssize_t n_tasks = (outer + per_task - 1) // per_task if n_ch == 1 else outer * n_ch
    cdef Py_ssize_t t, o, o1, k, c0, j
    cdef double s, v
    for t in prange(n_tasks, schedule='guided', num_threads=n_threads, nogil=True):
        if n_ch == 1:
            o1 = min(outer, (t + 1) * per_task)
            for o in range(t * per_task, o1):
                if red >= SHORT_ROW:
                    part[o, 0] = _sumsq(&x[o, 0], red)
                else:
                    s = 0.0
                    for j in range(red):
                        v = x[o, j]
                        s = s + v * v
                    part[o, 0] = s
        else:
            o = t // n_ch
            k = t % n_ch
            c0 = k * ROW_CHUNK
            part[o, k] = _sumsq(&x[o, c0], min(ROW_CHUNK, red - c0))


cdef inline double _factor(double s, int kind, double a, double b, double rate) noexcept nogil:
    """Keras' scale for a column with sum of squares s (NaN propagates like numpy.clip)."""
    cdef double n = sqrt(s), c
    if n != n:
        return n
    if kind == MAX_NORM:          # clip(n, 0, a) / (eps + n)
        c = n if n < a else a
        return c / (EPS + n)
    if kind == MIN_MAX_NORM:      # (rate*clip(n, a, b) + (1-rate)*n) / (eps + n)
        c = a if n < a else (b if n > b else n)
        return (rate * c + (1.0 - rate) * n) / (EPS + n)
    return 1.0 / (EPS + n)        # UnitNorm


def sq_norms_rows(const floating[:, ::1] x, int n_threads):
    """sq[o] := sum_r x[o, r]**2 in float64 (row norms); shape (outer, 1)."""
    cdef Py_ssize_t outer = x.shape[0], red = x.shape[1]
    cdef Py_ssize_t n_ch = max(1, (red + ROW_CHUNK - 1) // ROW_CHUNK)
    sq = np.zeros((outer, 1), dtype=np.float64)
    if outer == 0 or red == 0:
        return sq
    cdef double[:, ::1] sqv = sq
    cdef double[:, ::1] part = np.empty((outer, n_ch), dtype=np.float64)
    n_threads = _useful_threads(outer * red, n_threads)
    with nogil:
        _rowsq(x, part, n_threads)
        _sum_chunks(part, sqv)
    return sq


def sq_norms(const floating[:, :, ::1] x, int n_threads):
    """sq[o, i] := sum_r x[o, r, i]**2 in float64; shape (outer, inner)."""
    cdef Py_ssize_t outer = x.shape[0], red = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t n_rb, rows_per_block, want, n_cc, n_sp, span
    sq = np.zeros((outer, inner), dtype=np.float64)
    if outer == 0 or inner == 0 or red == 0:
        return sq
    cdef double[:, ::1] sqv = sq
    # Row blocks only when `outer` alone cannot feed the threads.
    want = (TARGET_TASKS + outer - 1) // outer
    n_rb = max(1, min(want, (red + MIN_BLOCK_ROWS - 1) // MIN_BLOCK_ROWS))
    rows_per_block = (red + n_rb - 1) // n_rb
    n_rb = (red + rows_per_block - 1) // rows_per_block
    # Few rows but long ones (axis=0 of (10, 1000, 1000)): split the columns too.
    n_cc = (inner + COL_CHUNK - 1) // COL_CHUNK
    n_sp = max(1, min(n_cc, (TARGET_TASKS + outer * n_rb - 1) // (outer * n_rb)))
    span = ((n_cc + n_sp - 1) // n_sp) * COL_CHUNK
    cdef double[:, :, ::1] part = np.empty((outer, n_rb, inner), dtype=np.float64)
    n_threads = _useful_threads(outer * red * inner, n_threads)
    with nogil:
        _colsq_blocks(x, part, rows_per_block, span, n_threads)
        _combine_blocks(part, sqv)
    return sq


cdef void _sum_chunks(const double[:, ::1] part, double[:, ::1] sq) noexcept nogil:
    cdef Py_ssize_t o, k
    cdef double s
    for o in range(part.shape[0]):
        s = part[o, 0]
        for k in range(1, part.shape[1]):
            s = s + part[o, k]
        sq[o, 0] = s


def factors(double[:, ::1] sq, int kind, double a, double b, double rate):
    """sq := Keras' per-norm scale computed from the sum of squares, in place."""
    cdef Py_ssize_t o, i
    with nogil:
        for o in range(sq.shape[0]):
            for i in range(sq.shape[1]):
                sq[o, i] = _factor(sq[o, i], kind, a, b, rate)


cdef void _scale_inner(
    const floating[:, :, ::1] x,  # IN (outer, red, inner)
    const double[:, ::1] f,       # IN (outer, inner)
    floating[:, :, ::1] out,      # OUT (outer, red, inner); may be x itself
    int n_threads,
) noexcept nogil:
    """out[o, r, i] := x[o, r, i] * f[o, i].

    A task is a group of four rows (times a column span when there are few groups),
    swept in column chunks so that each chunk of f (8 KiB) is read once for the
    four rows while it sits in L1.
    """
    cdef Py_ssize_t outer = x.shape[0], red = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t n_groups = (red + 3) // 4
    cdef Py_ssize_t n_cc = (inner + COL_CHUNK - 1) // COL_CHUNK
    cdef Py_ssize_t n_sp = max(1, min(n_cc, (TARGET_TASKS + outer * n_groups - 1)
                                      // (outer * n_groups)))
    cdef Py_ssize_t span = ((n_cc + n_sp - 1) // n_sp) * COL_CHUNK
    cdef Py_ssize_t t, g, o, r, rr, r1, c0, s1, cw
    n_sp = (inner + span - 1) // span
    for t in prange(outer * n_groups * n_sp, schedule='guided', num_threads=n_threads,
                    nogil=True):
        g = t // n_sp
        o = g // n_groups
        r = (g % n_groups) * 4
        r1 = min(red, r + 4)
        c0 = (t % n_sp) * span
        s1 = min(inner, c0 + span)
        while c0 < s1:
            cw = min(COL_CHUNK, s1 - c0)
            if r1 - r == 4:
                _scale4(&out[o, r, c0], &x[o, r, c0], inner, &f[o, c0], cw)
            else:
                for rr in range(r, r1):
                    _scale(&out[o, rr, c0], &x[o, rr, c0], &f[o, c0], cw)
            c0 = c0 + cw


cdef void _scale_rows(
    const floating[:, ::1] x,  # IN (outer, red)
    const double[::1] f,       # IN (outer,)
    floating[:, ::1] out,      # OUT (outer, red); may be x itself
    int n_threads,
) noexcept nogil:
    """out[o, r] := x[o, r] * f[o]; long rows in FLAT_CHUNK pieces, short rows grouped."""
    cdef Py_ssize_t outer = x.shape[0], red = x.shape[1]
    cdef Py_ssize_t n_ch = (red + FLAT_CHUNK - 1) // FLAT_CHUNK
    cdef Py_ssize_t per_task = max(1, FLAT_CHUNK // red) if n_ch == 1 else 1
    cdef Py_ssize_t n_tasks = (outer + per_task - 1) // per_task if n_ch == 1 else outer * n_ch
    cdef Py_ssize_t t, o, o1, c0, c1, j
    cdef double fo
    for t in prange(n_tasks, schedule='guided', num_threads=n_threads, nogil=True):
        if n_ch == 1:
            o1 = min(outer, (t + 1) * per_task)
            for o in range(t * per_task, o1):
                if red >= SHORT_ROW:
                    _scale1(&out[o, 0], &x[o, 0], f[o], red)
                else:
                    fo = f[o]
                    for j in range(red):
                        out[o, j] = <floating>(x[o, j] * fo)
        else:
            o = t // n_ch
            c0 = (t % n_ch) * FLAT_CHUNK
            c1 = min(red, c0 + FLAT_CHUNK)
            _scale1(&out[o, c0], &x[o, c0], f[o], c1 - c0)


def rescale(const floating[:, :, ::1] x, const double[:, ::1] f, floating[:, :, ::1] out,
            int n_threads):
    """out[o, r, i] := x[o, r, i] * f[o, i], rounded once to x's dtype."""
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        return
    n_threads = _useful_threads(x.shape[0] * x.shape[1] * x.shape[2], n_threads)
    with nogil:
        _scale_inner(x, f, out, n_threads)


def rescale_rows(const floating[:, ::1] x, const double[::1] f, floating[:, ::1] out,
                 int n_threads):
    """out[o, r] := x[o, r] * f[o], rounded once to x's dtype."""
    if x.shape[0] == 0 or x.shape[1] == 0:
        return
    n_threads = _useful_threads(x.shape[0] * x.shape[1], n_threads)
    with nogil:
        _scale_rows(x, f, out, n_threads)


def nonneg(const floating[::1] x, floating[::1] out, int n_threads):
    """out := max(x, 0), NaN kept (numpy.maximum semantics)."""
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t n_ch = (n + FLAT_CHUNK - 1) // FLAT_CHUNK
    cdef Py_ssize_t t, j, c1
    cdef floating v
    n_threads = _useful_threads(n, n_threads)
    with nogil:
        for t in prange(n_ch, schedule='guided', num_threads=n_threads):
            c1 = min(n, (t + 1) * FLAT_CHUNK)
            for j in range(t * FLAT_CHUNK, c1):
                v = x[j]
                out[j] = 0 if v < 0 else v
