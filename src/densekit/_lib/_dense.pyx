"""Dense forward kernel: y := act(x @ w + b).

One row-major GEMM through scipy's BLAS (which threads on its own), then one
OpenMP pass over the output rows that adds the bias and applies the activation
while each row is still in cache. BLAS is never called from inside a prange.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

from densekit._lib._activation_ops cimport ACT_LINEAR, bias_activate_row

cdef enum:
    # BLAS sizes are C ints: larger row counts are split into blocks of this many rows.
    _MAX_ROWS_PER_GEMM = 1 << 30


cdef void _gemm(const floating* x,      # IN (n, k) row-major
                const floating* w,      # IN (k, u) row-major
                floating* y,            # OUT (n, u) row-major
                Py_ssize_t n, int k, int u) noexcept nogil:
    """y := x @ w, all row-major, as the column-major product y^T := w^T x^T.

    A row-major (r, c) array is the column-major (c, r) array of its transpose,
    so one 'N','N' GEMM with m=u, n=rows, k=k computes it without any copy.
    BLAS takes int sizes: rows are done in blocks of at most 2**30.
    """
    cdef char trans = b'N'
    cdef int rows
    cdef Py_ssize_t start = 0
    cdef float sone = 1.0, szero = 0.0
    cdef double done = 1.0, dzero = 0.0
    if n == 0 or u == 0:
        return
    if k == 0:
        # An empty sum: BLAS may not touch C when k == 0, so zero it here.
        memset(y, 0, n * u * sizeof(floating))
        return
    while start < n:
        rows = <int> min(n - start, _MAX_ROWS_PER_GEMM)
        if floating is float:
            sgemm(&trans, &trans, &u, &rows, &k, &sone,
                  <float*> w, &u, <float*> (x + start * k), &k,
                  &szero, y + start * u, &u)
        else:
            dgemm(&trans, &trans, &u, &rows, &k, &done,
                  <double*> w, &u, <double*> (x + start * k), &k,
                  &dzero, y + start * u, &u)
        start += rows


cdef void _bias_activate_2d(floating* y,            # IN/OUT (n, u)
                            const floating* bias,   # IN (u,) or NULL
                            Py_ssize_t n, Py_ssize_t u,
                            int code, double p0, double p1, double p2,
                            int n_threads) noexcept nogil:
    """y[i, :] := act(y[i, :] + bias) for every row i, rows split over threads."""
    cdef Py_ssize_t i
    if n == 0 or u == 0:
        return
    for i in prange(n, schedule='static', num_threads=n_threads):
        bias_activate_row(code, y + i * u, bias, u, p0, p1, p2)


def dense_forward(const floating[:, ::1] x,       # IN (n, k)
                  const floating[:, ::1] kernel,  # IN (k, u)
                  const floating[::1] bias,       # IN (u,) or None
                  floating[:, ::1] out,           # OUT (n, u)
                  int code, double p0, double p1, double p2,
                  int n_threads):
    """out := act_code(x @ kernel + bias); the caller checked every shape.

    `code`, p0..p2: a fused activation from `densekit.activations.fused_code`
    (ACT_LINEAR: none; see _activation_ops.pxd); bias None skips the add.
    """
    cdef Py_ssize_t n = x.shape[0], u = kernel.shape[1]
    cdef int k = <int> x.shape[1], ui = <int> kernel.shape[1]
    cdef const floating* bptr = NULL
    if bias is not None and u > 0:
        bptr = &bias[0]
    with nogil:
        _gemm(&x[0, 0], &kernel[0, 0], &out[0, 0], n, k, ui)
        if bptr != NULL or code != ACT_LINEAR:
            _bias_activate_2d(&out[0, 0], bptr, n, u, code, p0, p1, p2, n_threads)
