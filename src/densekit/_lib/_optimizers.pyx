"""Optimizer updates: one fused pass per parameter and step, plus the gradient norm.

Each entry point updates a flat, C-contiguous parameter `w` and its slots in
place. The gradient is prepared element by element inside the same pass
(clipping by a precomputed norm factor or by value), weight decay
``w := w - w * wd * lr`` is applied first, then the optimizer's own update.
All arithmetic is done in the parameter's precision (float32 state for float32
weights), with every step scalar already rounded to that precision by the
caller and the operations in Keras 3's order, so float32 results track Keras'.

The flat array is cut into fixed chunks of CHUNK elements (a shape-only
partition). Element-wise results therefore never depend on the thread count,
and the squared norm adds per-chunk float64 partials in chunk order, so it is
bit-identical for any `n_threads` too. Arrays below SERIAL_BELOW elements are
updated on the calling thread without entering an OpenMP region.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, fabs

cdef enum:
    # Elements per task: 4096 float32 values and their slots stay in L1/L2.
    CHUNK = 4096
    # Below this many elements a thread team costs more than the update itself.
    _SERIAL_BELOW = 16384
    # Independent float64 accumulators of the squared norm (a fixed summation order).
    LANES = 8

    # How the gradient is prepared before the update.
    _CLIP_NONE = 0
    _CLIP_SCALE_DIV = 1   # g := (g * a) / b          (clipnorm: a = clipnorm, b = max(norm, clipnorm))
    _CLIP_SCALE = 2       # g := g * a                (global_clipnorm: a = the global scale)
    _CLIP_VALUE = 3       # g := clip(g, -a, a)       (clipvalue)

SERIAL_BELOW = _SERIAL_BELOW
CLIP_NONE = _CLIP_NONE
CLIP_SCALE_DIV = _CLIP_SCALE_DIV
CLIP_SCALE = _CLIP_SCALE
CLIP_VALUE = _CLIP_VALUE


cdef struct Prep:
    int clip        # one of the _CLIP_* codes
    double a        # clip parameter a (see the codes)
    double b        # clip parameter b
    bint decay      # apply w := w - w * wd * lr before the update
    double wd       # weight decay factor
    double lr       # learning rate


cdef inline Prep _prep(int clip, double a, double b, bint decay, double wd,
                       double lr) noexcept nogil:
    cdef Prep p
    p.clip = clip
    p.a = a
    p.b = b
    p.decay = decay
    p.wd = wd
    p.lr = lr
    return p


cdef inline int _threads_for(Py_ssize_t n, int n_threads) noexcept nogil:
    """1 below SERIAL_BELOW elements, else at most one thread per chunk."""
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    if n < _SERIAL_BELOW or n_threads < 1:
        return 1
    return <int>n_chunks if n_chunks < n_threads else n_threads


cdef inline floating _grad(floating g, const Prep* p) noexcept nogil:
    """The clipped gradient value (NaN stays NaN)."""
    cdef floating a
    if p.clip == _CLIP_SCALE_DIV:
        return (g * <floating>p.a) / <floating>p.b
    if p.clip == _CLIP_SCALE:
        return g * <floating>p.a
    if p.clip == _CLIP_VALUE:
        a = <floating>p.a
        if g < -a:
            return -a
        if g > a:
            return a
    return g


cdef inline floating _decayed(floating w, const Prep* p) noexcept nogil:
    """w - w * wd * lr (if decay is on)."""
    if p.decay:
        return w - w * <floating>p.wd * <floating>p.lr
    return w


cdef inline floating _maximum(floating a, floating b) noexcept nogil:
    """max(a, b) that propagates NaN from either side (as numpy.maximum)."""
    if a > b or a != a:
        return a
    return b


# ---------------------------------------------------------------- squared norm

cdef double _chunk_sumsq(const floating* x, Py_ssize_t n) noexcept nogil:
    """sum(x**2) in float64 over LANES fixed lanes, lanes added in order."""
    cdef double acc[LANES]
    cdef double v, s = 0.0
    cdef Py_ssize_t j = 0
    cdef int k
    for k in range(LANES):
        acc[k] = 0.0
    while j + LANES <= n:
        for k in range(LANES):
            v = <double>x[j + k]
            acc[k] = acc[k] + v * v
        j = j + LANES
    while j < n:
        v = <double>x[j]
        acc[0] = acc[0] + v * v
        j = j + 1
    for k in range(LANES):
        s = s + acc[k]
    return s


def sumsq(const floating[::1] g, double[::1] part, int n_threads):
    """sum(g**2) in float64; `part` is scratch of at least ceil(n / CHUNK) values."""
    cdef Py_ssize_t n = g.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, j0
    cdef double s = 0.0
    if n == 0:
        return 0.0
    n_threads = _threads_for(n, n_threads)
    with nogil:
        if n_threads == 1:
            for c in range(n_chunks):
                j0 = c * CHUNK
                part[c] = _chunk_sumsq(&g[j0], min(<Py_ssize_t>CHUNK, n - j0))
        else:
            for c in prange(n_chunks, schedule='static', num_threads=n_threads):
                j0 = c * CHUNK
                part[c] = _chunk_sumsq(&g[j0], min(<Py_ssize_t>CHUNK, n - j0))
        for c in range(n_chunks):
            s = s + part[c]
    return s


def n_chunks(Py_ssize_t n):
    """Number of CHUNK-sized pieces of n elements (the scratch size of sumsq)."""
    return (n + CHUNK - 1) // CHUNK


# ------------------------------------------------------------------------- SGD

cdef void _sgd_chunk(floating* w, const floating* g, floating* m, Py_ssize_t n,
                     const Prep* p, int mode, floating mom) noexcept nogil:
    """mode 0: w -= g*lr; 1: m = m*mom - g*lr, w += m; 2 (nesterov): w += m*mom - g*lr."""
    cdef Py_ssize_t j
    cdef floating gj, wj, mj, lr = <floating>p.lr
    for j in range(n):
        gj = _grad(g[j], p)
        wj = _decayed(w[j], p)
        if mode == 0:
            w[j] = wj - gj * lr
        else:
            mj = m[j] * mom - gj * lr
            m[j] = mj
            if mode == 2:
                w[j] = wj + (mj * mom - gj * lr)
            else:
                w[j] = wj + mj


def sgd(floating[::1] w,           # IN/OUT parameter
        const floating[::1] g,     # IN gradient
        floating[::1] m,           # IN/OUT momentum (unused, may be empty, if mode 0)
        int mode, double momentum,
        int clip, double a, double b, bint decay, double wd, double lr,
        int n_threads):
    """SGD step; mode 0 plain, 1 momentum, 2 Nesterov momentum."""
    cdef Py_ssize_t n = w.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, j0
    cdef Prep p = _prep(clip, a, b, decay, wd, lr)
    cdef floating mom = <floating>momentum
    cdef floating* mp
    if n == 0:
        return
    n_threads = _threads_for(n, n_threads)
    mp = &m[0] if mode != 0 else NULL
    with nogil:
        if n_threads == 1:
            for c in range(n_chunks):
                j0 = c * CHUNK
                _sgd_chunk(&w[j0], &g[j0], mp + j0 if mp != NULL else NULL,
                           min(<Py_ssize_t>CHUNK, n - j0), &p, mode, mom)
        else:
            for c in prange(n_chunks, schedule='static', num_threads=n_threads):
                j0 = c * CHUNK
                _sgd_chunk(&w[j0], &g[j0], mp + j0 if mp != NULL else NULL,
                           min(<Py_ssize_t>CHUNK, n - j0), &p, mode, mom)


# ------------------------------------------------------------------------ Adam

cdef void _adam_chunk(floating* w, const floating* g, floating* m, floating* v,
                      floating* vh, Py_ssize_t n, const Prep* p, floating c1,
                      floating c2, floating alpha, floating eps) noexcept nogil:
    """m += (g - m)*c1; v += (g*g - v)*c2; [vh = max(vh, v)]; w -= m*alpha / (sqrt(v) + eps)."""
    cdef Py_ssize_t j
    cdef floating gj, wj, mj, vj
    for j in range(n):
        gj = _grad(g[j], p)
        wj = _decayed(w[j], p)
        mj = m[j] + (gj - m[j]) * c1
        vj = v[j] + (gj * gj - v[j]) * c2
        m[j] = mj
        v[j] = vj
        if vh != NULL:
            vj = _maximum(vh[j], vj)
            vh[j] = vj
        w[j] = wj - (mj * alpha) / (<floating>sqrt(vj) + eps)


def adam(floating[::1] w,          # IN/OUT parameter
         const floating[::1] g,    # IN gradient
         floating[::1] m,          # IN/OUT first moment
         floating[::1] v,          # IN/OUT second moment
         floating[::1] vhat,       # IN/OUT running max of v (unused, may be empty, unless amsgrad)
         bint amsgrad, double c1, double c2, double alpha, double eps,
         int clip, double a, double b, bint decay, double wd, double lr,
         int n_threads):
    """Adam / AdamW step; alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)."""
    cdef Py_ssize_t n = w.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, j0
    cdef Prep p = _prep(clip, a, b, decay, wd, lr)
    cdef floating* vp
    if n == 0:
        return
    n_threads = _threads_for(n, n_threads)
    vp = &vhat[0] if amsgrad else NULL
    with nogil:
        if n_threads == 1:
            for c in range(n_chunks):
                j0 = c * CHUNK
                _adam_chunk(&w[j0], &g[j0], &m[j0], &v[j0], vp + j0 if vp != NULL else NULL,
                            min(<Py_ssize_t>CHUNK, n - j0), &p, <floating>c1, <floating>c2,
                            <floating>alpha, <floating>eps)
        else:
            for c in prange(n_chunks, schedule='static', num_threads=n_threads):
                j0 = c * CHUNK
                _adam_chunk(&w[j0], &g[j0], &m[j0], &v[j0], vp + j0 if vp != NULL else NULL,
                            min(<Py_ssize_t>CHUNK, n - j0), &p, <floating>c1, <floating>c2,
                            <floating>alpha, <floating>eps)


# --------------------------------------------------------------------- RMSprop

cdef void _rmsprop_chunk(floating* w, const floating* g, floating* vel, floating* mom,
                         floating* avg, Py_ssize_t n, const Prep* p, floating rho,
                         floating one_minus_rho, floating eps,
                         floating momentum) noexcept nogil:
    """vel = rho*vel + (1-rho)*g*g; [avg = rho*avg + (1-rho)*g; den = vel - avg*avg + eps]
    else den = vel + eps; inc = lr*g / sqrt(den); [mom = momentum*mom + inc; w -= mom] else w -= inc."""
    cdef Py_ssize_t j
    cdef floating gj, wj, vj, aj, den, inc, lr = <floating>p.lr
    for j in range(n):
        gj = _grad(g[j], p)
        wj = _decayed(w[j], p)
        vj = rho * vel[j] + one_minus_rho * (gj * gj)
        vel[j] = vj
        if avg != NULL:
            aj = rho * avg[j] + one_minus_rho * gj
            avg[j] = aj
            den = (vj - aj * aj) + eps
        else:
            den = vj + eps
        inc = (lr * gj) / <floating>sqrt(den)
        if mom != NULL:
            inc = momentum * mom[j] + inc
            mom[j] = inc
        w[j] = wj - inc


def rmsprop(floating[::1] w,        # IN/OUT parameter
            const floating[::1] g,  # IN gradient
            floating[::1] vel,      # IN/OUT mean square
            floating[::1] mom,      # IN/OUT momentum (unused, may be empty, unless use_momentum)
            floating[::1] avg,      # IN/OUT mean gradient (unused, may be empty, unless centered)
            bint use_momentum, bint centered, double rho, double one_minus_rho,
            double eps, double momentum,
            int clip, double a, double b, bint decay, double wd, double lr,
            int n_threads):
    """RMSprop step (optionally with momentum and centered)."""
    cdef Py_ssize_t n = w.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, j0
    cdef Prep p = _prep(clip, a, b, decay, wd, lr)
    cdef floating* mp
    cdef floating* ap
    if n == 0:
        return
    n_threads = _threads_for(n, n_threads)
    mp = &mom[0] if use_momentum else NULL
    ap = &avg[0] if centered else NULL
    with nogil:
        if n_threads == 1:
            for c in range(n_chunks):
                j0 = c * CHUNK
                _rmsprop_chunk(&w[j0], &g[j0], &vel[j0], mp + j0 if mp != NULL else NULL,
                               ap + j0 if ap != NULL else NULL,
                               min(<Py_ssize_t>CHUNK, n - j0), &p, <floating>rho,
                               <floating>one_minus_rho, <floating>eps, <floating>momentum)
        else:
            for c in prange(n_chunks, schedule='static', num_threads=n_threads):
                j0 = c * CHUNK
                _rmsprop_chunk(&w[j0], &g[j0], &vel[j0], mp + j0 if mp != NULL else NULL,
                               ap + j0 if ap != NULL else NULL,
                               min(<Py_ssize_t>CHUNK, n - j0), &p, <floating>rho,
                               <floating>one_minus_rho, <floating>eps, <floating>momentum)


# --------------------------------------------------------------------- Adagrad

cdef void _adagrad_chunk(floating* w, const floating* g, floating* acc, Py_ssize_t n,
                         const Prep* p, floating eps) noexcept nogil:
    """acc += g*g; w -= lr*g / sqrt(acc + eps)."""
    cdef Py_ssize_t j
    cdef floating gj, wj, aj, lr = <floating>p.lr
    for j in range(n):
        gj = _grad(g[j], p)
        wj = _decayed(w[j], p)
        aj = acc[j] + gj * gj
        acc[j] = aj
        w[j] = wj - (lr * gj) / <floating>sqrt(aj + eps)


def adagrad(floating[::1] w,        # IN/OUT parameter
            const floating[::1] g,  # IN gradient
            floating[::1] acc,      # IN/OUT sum of squared gradients
            double eps,
            int clip, double a, double b, bint decay, double wd, double lr,
            int n_threads):
    """Adagrad step."""
    cdef Py_ssize_t n = w.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, j0
    cdef Prep p = _prep(clip, a, b, decay, wd, lr)
    if n == 0:
        return
    n_threads = _threads_for(n, n_threads)
    with nogil:
        if n_threads == 1:
            for c in range(n_chunks):
                j0 = c * CHUNK
                _adagrad_chunk(&w[j0], &g[j0], &acc[j0], min(<Py_ssize_t>CHUNK, n - j0),
                               &p, <floating>eps)
        else:
            for c in prange(n_chunks, schedule='static', num_threads=n_threads):
                j0 = c * CHUNK
                _adagrad_chunk(&w[j0], &g[j0], &acc[j0], min(<Py_ssize_t>CHUNK, n - j0),
                               &p, <floating>eps)


# ---------------------------------------------------------------------- Adamax

cdef void _adamax_chunk(floating* w, const floating* g, floating* m, floating* u,
                        Py_ssize_t n, const Prep* p, floating c1, floating beta_2,
                        floating bias, floating eps) noexcept nogil:
    """m += (g - m)*c1; u = max(beta_2*u, |g|); w -= lr*m / (bias * (u + eps))."""
    cdef Py_ssize_t j
    cdef floating gj, wj, mj, uj, lr = <floating>p.lr
    for j in range(n):
        gj = _grad(g[j], p)
        wj = _decayed(w[j], p)
        mj = m[j] + (gj - m[j]) * c1
        m[j] = mj
        uj = _maximum(beta_2 * u[j], <floating>fabs(gj))
        u[j] = uj
        w[j] = wj - (lr * mj) / (bias * (uj + eps))


def adamax(floating[::1] w,         # IN/OUT parameter
           const floating[::1] g,   # IN gradient
           floating[::1] m,         # IN/OUT first moment
           floating[::1] u,         # IN/OUT exponentially weighted infinity norm
           double c1, double beta_2, double bias, double eps,
           int clip, double a, double b, bint decay, double wd, double lr,
           int n_threads):
    """Adamax step; bias = 1 - beta_1**t."""
    cdef Py_ssize_t n = w.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, j0
    cdef Prep p = _prep(clip, a, b, decay, wd, lr)
    if n == 0:
        return
    n_threads = _threads_for(n, n_threads)
    with nogil:
        if n_threads == 1:
            for c in range(n_chunks):
                j0 = c * CHUNK
                _adamax_chunk(&w[j0], &g[j0], &m[j0], &u[j0], min(<Py_ssize_t>CHUNK, n - j0),
                              &p, <floating>c1, <floating>beta_2, <floating>bias, <floating>eps)
        else:
            for c in prange(n_chunks, schedule='static', num_threads=n_threads):
                j0 = c * CHUNK
                _adamax_chunk(&w[j0], &g[j0], &m[j0], &u[j0], min(<Py_ssize_t>CHUNK, n - j0),
                              &p, <floating>c1, <floating>beta_2, <floating>bias, <floating>eps)


# ----------------------------------------------------------------------- Nadam

cdef void _nadam_chunk(floating* w, const floating* g, floating* m, floating* v,
                       Py_ssize_t n, const Prep* p, floating c1, floating c2,
                       floating u_next, floating d_next, floating one_minus_u,
                       floating d_now, floating d_v, floating eps) noexcept nogil:
    """m += (g - m)*c1; v += (g*g - v)*c2;
    m_hat = u_next*m/d_next + one_minus_u*g/d_now; v_hat = v/d_v;
    w -= m_hat*lr / (sqrt(v_hat) + eps)."""
    cdef Py_ssize_t j
    cdef floating gj, wj, mj, vj, mh, vh, lr = <floating>p.lr
    for j in range(n):
        gj = _grad(g[j], p)
        wj = _decayed(w[j], p)
        mj = m[j] + (gj - m[j]) * c1
        vj = v[j] + (gj * gj - v[j]) * c2
        m[j] = mj
        v[j] = vj
        mh = (u_next * mj) / d_next + (one_minus_u * gj) / d_now
        vh = vj / d_v
        w[j] = wj - (mh * lr) / (<floating>sqrt(vh) + eps)


def nadam(floating[::1] w,          # IN/OUT parameter
          const floating[::1] g,    # IN gradient
          floating[::1] m,          # IN/OUT first moment
          floating[::1] v,          # IN/OUT second moment
          double c1, double c2, double u_next, double d_next, double one_minus_u,
          double d_now, double d_v, double eps,
          int clip, double a, double b, bint decay, double wd, double lr,
          int n_threads):
    """Nadam step; the momentum-schedule products are step scalars from the caller."""
    cdef Py_ssize_t n = w.shape[0]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t c, j0
    cdef Prep p = _prep(clip, a, b, decay, wd, lr)
    if n == 0:
        return
    n_threads = _threads_for(n, n_threads)
    with nogil:
        if n_threads == 1:
            for c in range(n_chunks):
                j0 = c * CHUNK
                _nadam_chunk(&w[j0], &g[j0], &m[j0], &v[j0], min(<Py_ssize_t>CHUNK, n - j0),
                             &p, <floating>c1, <floating>c2, <floating>u_next,
                             <floating>d_next, <floating>one_minus_u, <floating>d_now,
                             <floating>d_v, <floating>eps)
        else:
            for c in prange(n_chunks, schedule='static', num_threads=n_threads):
                j0 = c * CHUNK
                _nadam_chunk(&w[j0], &g[j0], &m[j0], &v[j0], min(<Py_ssize_t>CHUNK, n - j0),
                             &p, <floating>c1, <floating>c2, <floating>u_next,
                             <floating>d_next, <floating>one_minus_u, <floating>d_now,
                             <floating>d_v, <floating>eps)
