"""Parallel activation kernels. Callers (densekit.activations) validate and allocate;
these only release the GIL and loop. Arrays arrive flattened, C-contiguous, with
`out` of the same dtype (and, for softmax/glu, the documented sizes)."""

from cython.parallel cimport parallel, prange
from libc.math cimport exp, log, INFINITY
from libc.stdlib cimport malloc, free

from densekit._lib._activation_ops cimport (
    floating, activate_into, bias_activate_row, softmax_into, log_softmax_into, glu_row,
    activation_grad as _activation_grad, dk_act_grad_input_always, dk_act_grad_needs_input,
    dk_f32_exp_cols, dk_f64_exp_cols, dk_f32_max_cols, dk_f64_max_cols, dk_f32_finish_cols,
    dk_f64_finish_cols,
)

# The ACT_* codes (cpdef enum in _activations.pxd, from src/dk_activations.h) are module
# attributes of their own: densekit._lib._activations.ACT_RELU and so on.

# Elements per parallel work item of the elementwise kernels: large enough to
# amortise the scheduling, small enough to balance and to stay in L2.
cdef Py_ssize_t CHUNK = 16384
# Columns per work item when softmax reduces over a non-last axis.
cdef Py_ssize_t COLS = 128

N_CODES = ACT_N_CODES

# Elementwise work below this many values runs on the calling thread, without an OpenMP
# region (its start-up costs more than the loop).
cdef Py_ssize_t GRAD_SERIAL_MAX = 32768

#: The codes whose derivative reads the forward INPUT x whatever the parameters (the
#: others read the OUTPUT y, except for the parameter-dependent cases that
#: `grad_needs_input` reports). From dk_act_grad_input_always, the only table of it.
GRAD_NEEDS_INPUT = frozenset(c for c in range(ACT_N_CODES) if dk_act_grad_input_always(c))


def grad_needs_input(int code, double p0, double p1, double p2):
    """True when `activation_grad(code, ...)` with these parameters reads the input x
    (else the output y): the codes of GRAD_NEEDS_INPUT, plus relu with a threshold, a
    max_value (p1 not NaN) or a negative slope, leaky_relu with a negative slope and
    elu with a negative alpha."""
    if code < 0 or code >= ACT_N_CODES:
        raise ValueError("grad_needs_input: unknown activation code")
    return dk_act_grad_needs_input(code, p0, p1, p2) != 0


def activation_grad(int code, const floating[::1] y_or_x, const floating[::1] dy,
                    floating[::1] out, Py_ssize_t row_len, double p0, double p1,
                    double p2, int n_threads):
    """out := dy * act_code'(.) (the backward pass of `elementwise`/`softmax`).

    y_or_x is the forward output y, or the input x when
    ``grad_needs_input(code, p0, p1, p2)``; same code and p0..p2 as the forward.
    For ACT_SOFTMAX / ACT_LOG_SOFTMAX the arrays are rows of `row_len` values (the
    last axis; the Jacobian-vector product per row), otherwise row_len is ignored.
    `out` may be `dy` (in place) or `y_or_x`. Results do not depend on n_threads.
    """
    cdef Py_ssize_t n = y_or_x.shape[0]
    cdef Py_ssize_t n_chunks, c, start, stop, r, n_rows
    cdef const floating* sp
    cdef const floating* gp
    cdef floating* op
    if code < 0 or code >= ACT_N_CODES:
        raise ValueError("activation_grad: unknown activation code")
    if dy.shape[0] != n or out.shape[0] != n:
        raise ValueError("activation_grad: y_or_x, dy and out must have the same size")
    if code >= ACT_SOFTMAX and (row_len < 1 or n % row_len != 0):
        if n == 0 and row_len >= 0:
            return
        raise ValueError("activation_grad: row_len must divide the size")
    if n == 0:
        return
    sp = &y_or_x[0]
    gp = &dy[0]
    op = &out[0]
    if code >= ACT_SOFTMAX:
        n_rows = n // row_len
        with nogil:
            if n <= GRAD_SERIAL_MAX or n_threads <= 1 or n_rows == 1:
                _grad_rows(code, sp, gp, op, n_rows, row_len)
            else:
                for r in prange(n_rows, schedule='static', num_threads=n_threads):
                    _activation_grad(code, sp + r * row_len, gp + r * row_len,
                                     op + r * row_len, row_len, p0, p1, p2)
        return
    with nogil:
        if n <= GRAD_SERIAL_MAX or n_threads <= 1:
            _activation_grad(code, sp, gp, op, n, p0, p1, p2)
        else:
            n_chunks = (n + CHUNK - 1) // CHUNK
            for c in prange(n_chunks, schedule='static', num_threads=n_threads):
                start = c * CHUNK
                stop = start + CHUNK if start + CHUNK < n else n
                _activation_grad(code, sp + start, gp + start, op + start, stop - start,
                                 p0, p1, p2)


cdef void _grad_rows(int code, const floating* s, const floating* dy, floating* out,
                     Py_ssize_t n_rows, Py_ssize_t row_len) noexcept nogil:
    """The row-wise backward of `n_rows` consecutive rows on the calling thread."""
    cdef Py_ssize_t r
    for r in range(n_rows):
        _activation_grad(code, s + r * row_len, dy + r * row_len, out + r * row_len,
                         row_len, 0.0, 0.0, 0.0)


def elementwise(int code, const floating[::1] x, floating[::1] out,
                double p0, double p1, double p2, int n_threads):
    """out[i] := act_code(x[i]) for an elementwise activation code (out may alias x)."""
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, start, stop
    cdef const floating* xp
    cdef floating* yp
    if n == 0:
        return
    xp = &x[0]
    yp = &out[0]
    with nogil:
        for c in prange(n_chunks, schedule='static', num_threads=n_threads):
            start = c * CHUNK
            stop = start + CHUNK if start + CHUNK < n else n
            activate_into(code, xp + start, yp + start, stop - start, p0, p1, p2)


def softmax(bint log_softmax, const floating[::1] x, floating[::1] out,
            Py_ssize_t outer, Py_ssize_t n_axis, Py_ssize_t inner, int n_threads):
    """Softmax (or log-softmax) of x viewed as (outer, n_axis, inner) over axis 1."""
    cdef Py_ssize_t r, n_blocks, t, o, j0, j1, base
    cdef const floating* xp
    cdef floating* yp
    cdef double* mx
    cdef double* sm
    if outer * n_axis * inner == 0:
        return
    xp = &x[0]
    yp = &out[0]
    if inner == 1:
        # Reduced axis is contiguous: one row per work item.
        with nogil:
            for r in prange(outer, schedule='static', num_threads=n_threads):
                if log_softmax:
                    log_softmax_into(xp + r * n_axis, yp + r * n_axis, n_axis)
                else:
                    softmax_into(xp + r * n_axis, yp + r * n_axis, n_axis)
        return
    # Reduced axis is strided: each work item takes a block of up to COLS
    # contiguous columns of one outer slice and sweeps the axis row by row,
    # keeping per-column max and sum in thread-local buffers (no transpose).
    n_blocks = (inner + COLS - 1) // COLS
    mx = NULL
    sm = NULL
    with nogil, parallel(num_threads=n_threads):
        mx = <double*>malloc(COLS * sizeof(double))
        sm = <double*>malloc(COLS * sizeof(double))
        if mx != NULL and sm != NULL:
            for t in prange(outer * n_blocks, schedule='static'):
                o = t // n_blocks
                j0 = (t % n_blocks) * COLS
                j1 = j0 + COLS if j0 + COLS < inner else inner
                base = o * n_axis * inner
                _strided_softmax(log_softmax, xp + base, yp + base, n_axis, inner,
                                 j0, j1, mx, sm)
        free(mx)
        free(sm)


cdef void _strided_softmax(bint log_softmax, const floating* x, floating* y,
                           Py_ssize_t n_axis, Py_ssize_t stride, Py_ssize_t j0,
                           Py_ssize_t j1, double* mx, double* sm) noexcept nogil:
    """Softmax over k of x[k * stride + j] for the columns j0 <= j < j1."""
    cdef Py_ssize_t j, k, w = j1 - j0
    cdef const floating* xr
    cdef floating* yr
    cdef double v, e, m
    cdef bint has_inf
    for j in range(w):
        mx[j] = x[j0 + j]
        sm[j] = 0.0
    for k in range(1, n_axis):
        if floating is float:
            dk_f32_max_cols(x + k * stride + j0, mx, w)
        else:
            dk_f64_max_cols(x + k * stride + j0, mx, w)
    has_inf = False
    for j in range(w):
        if mx[j] == INFINITY:
            has_inf = True
    if not has_inf:
        # The common case, in vectorized C: exp and sums, then one scaling pass.
        for k in range(n_axis):
            if floating is float:
                dk_f32_exp_cols(x + k * stride + j0, mx, y + k * stride + j0, sm, w,
                                log_softmax)
            else:
                dk_f64_exp_cols(x + k * stride + j0, mx, y + k * stride + j0, sm, w,
                                log_softmax)
        for j in range(w):
            sm[j] = log(sm[j]) if log_softmax else 1.0 / sm[j]
        for k in range(n_axis):
            if floating is float:
                dk_f32_finish_cols(x + k * stride + j0, y + k * stride + j0, mx, sm, w,
                                   log_softmax)
            else:
                dk_f64_finish_cols(x + k * stride + j0, y + k * stride + j0, mx, sm, w,
                                   log_softmax)
        return
    # Columns whose max is +inf: count the infinities into sm (the limit is 1/count).
    for k in range(n_axis):
        xr = x + k * stride + j0
        yr = y + k * stride + j0
        for j in range(w):
            m = mx[j]
            if m == INFINITY:
                if xr[j] == INFINITY:
                    sm[j] += 1.0
            else:
                e = exp(<double>xr[j] - m)
                sm[j] += e
                if not log_softmax:
                    yr[j] = <floating>e
    for k in range(n_axis):
        xr = x + k * stride + j0
        yr = y + k * stride + j0
        for j in range(w):
            m = mx[j]
            if m == INFINITY:
                if log_softmax:
                    yr[j] = <floating>(-log(sm[j])) if xr[j] == INFINITY else <floating>(-INFINITY)
                else:
                    yr[j] = <floating>(1.0 / sm[j]) if xr[j] == INFINITY else 0
            elif log_softmax:
                yr[j] = <floating>((<double>xr[j] - m) - log(sm[j]))
            else:
                yr[j] = <floating>(<double>yr[j] / sm[j])


def glu(const floating[::1] x, floating[::1] out, Py_ssize_t outer, Py_ssize_t half,
        Py_ssize_t inner, int n_threads):
    """x viewed as (outer, 2*half, inner) -> out (outer, half, inner) := a * sigmoid(b)."""
    cdef Py_ssize_t r, o, k, n_rows = outer * half
    cdef const floating* a
    cdef const floating* b
    cdef floating* y
    if n_rows * inner == 0:
        return
    with nogil:
        for r in prange(n_rows, schedule='static', num_threads=n_threads):
            o = r // half
            k = r % half
            a = &x[0] + (o * 2 * half + k) * inner
            b = a + half * inner
            y = &out[0] + r * inner
            glu_row(a, b, y, inner)


def bias_activate_rows(int code, floating[:, ::1] x, const floating[::1] bias,
                       double p0, double p1, double p2, int n_threads):
    """x[i, :] := act_code(x[i, :] + bias) in place, through the Dense epilogue
    (`bias_activate_row`); bias may be None. Used by tests to pin that contract."""
    cdef Py_ssize_t i, n_rows = x.shape[0], n_cols = x.shape[1]
    cdef const floating* bp = NULL
    cdef floating* xp
    if n_rows * n_cols == 0:
        return
    if bias is not None:
        bp = &bias[0]
    xp = &x[0, 0]
    with nogil:
        for i in prange(n_rows, schedule='static', num_threads=n_threads):
            bias_activate_row(code, xp + i * n_cols, bp, n_cols, p0, p1, p2)
