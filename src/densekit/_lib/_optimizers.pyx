"""Optimizer updates: one compiled call per step for all parameters.

:func:`step` updates every parameter of a step and its slots in place, in one
call (and at most one OpenMP region). Per chunk of a parameter, weight decay
``w := w - w * wd * lr`` is applied, the gradient is clipped (by a precomputed
norm factor or by value) into a stack buffer, then the optimizer's own update
runs: the chunk's w, g and slots come from memory once per step, and each of
these loops is branch-free, so that it vectorizes. Arithmetic is done in each parameter's
precision (float32 state for float32 weights), with every step scalar already
rounded to that precision by the caller and the operations in Keras 3's order,
so float32 results track Keras' to the last bits.

Each parameter, taken flat, is cut into fixed chunks of CHUNK elements, a shape-only
partition, and the (parameter, chunk) tasks are spread over the threads.
Element-wise results therefore never depend on the thread count, and
:func:`sumsq` adds per-chunk float64 partials in chunk order, so norms are
bit-identical for any `n_threads` as well. A step touching fewer than
SERIAL_BELOW elements in total runs on the calling thread without entering an
OpenMP region.

Inputs are validated by densekit.optimizers: every array is a C-contiguous
float32 or float64 ndarray (of any shape: only its data and size are read), the
gradient and slots of a parameter share its dtype and size, and no two arrays
overlap.
"""

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf, fabs
from libc.stdlib cimport malloc, free

cnp.import_array()

cdef enum:
    # Elements per task: 4096 float32 values and their slots stay in L1/L2.
    CHUNK = 4096
    # Below this many elements per step a thread team costs more than the update.
    _SERIAL_BELOW = 16384
    # Independent float64 accumulators of the squared norm (a fixed summation order).
    LANES = 8
    # Scalars per dtype in the `k32` / `k64` arguments of step().
    N_SCALARS = 9

    # How the gradient is prepared before the update (column 0 of `prep`).
    _CLIP_NONE = 0
    _CLIP_SCALE_DIV = 1   # g := (g * a) / b     (clipnorm: a = clipnorm, b = max(norm, clipnorm))
    _CLIP_SCALE = 2       # g := g * a           (global_clipnorm: a = the global scale)
    _CLIP_VALUE = 3       # g := clip(g, -a, a)  (clipvalue)

    # The update rule (`kind` of step()).
    _SGD = 0
    _ADAM = 1
    _RMSPROP = 2
    _ADAGRAD = 3
    _ADAMAX = 4
    _NADAM = 5

SERIAL_BELOW = _SERIAL_BELOW
SCALARS = N_SCALARS
CLIP_NONE = _CLIP_NONE
CLIP_SCALE_DIV = _CLIP_SCALE_DIV
CLIP_SCALE = _CLIP_SCALE
CLIP_VALUE = _CLIP_VALUE
SGD = _SGD
ADAM = _ADAM
RMSPROP = _RMSPROP
ADAGRAD = _ADAGRAD
ADAMAX = _ADAMAX
NADAM = _NADAM


cdef struct Prep:
    int clip        # one of the _CLIP_* codes
    double a        # clip parameter a (see the codes)
    double b        # clip parameter b
    bint decay      # apply w := w - w * wd * lr before the update
    double wd       # weight decay factor
    double lr       # learning rate


cdef struct Task:
    Py_ssize_t var      # parameter index
    Py_ssize_t start    # first element of the chunk
    Py_ssize_t n        # elements in the chunk


cdef inline floating _sqrt(floating x) noexcept nogil:
    """sqrtf for float (vectorizable with -fno-math-errno), sqrt for double."""
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating _maximum(floating a, floating b) noexcept nogil:
    """max(a, b) that propagates NaN from either side (as numpy.maximum)."""
    if a > b or a != a:
        return a
    return b


cdef const floating* _prepare(floating* w, const floating* g, floating* buf, Py_ssize_t n,
                              const Prep* p) noexcept nogil:
    """w := w - w*wd*lr (if decay), and the clipped gradient: `g` itself, or `buf`
    holding clip(g). Each case is its own loop over the L1-resident chunk."""
    cdef Py_ssize_t j
    cdef floating a = <floating>p.a, b = <floating>p.b
    cdef floating wd = <floating>p.wd, lr = <floating>p.lr
    cdef floating x
    if p.decay:
        for j in range(n):
            w[j] = w[j] - w[j] * wd * lr
    if p.clip == _CLIP_SCALE_DIV:
        for j in range(n):
            buf[j] = (g[j] * a) / b
    elif p.clip == _CLIP_SCALE:
        for j in range(n):
            buf[j] = g[j] * a
    elif p.clip == _CLIP_VALUE:
        for j in range(n):
            x = g[j]
            # NaN passes through, as in numpy.clip
            buf[j] = -a if x < -a else (a if x > a else x)
    else:
        return g
    return buf


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


# ----------------------------------------------------------------- update rules
# Each rule sees the decayed w and the clipped g; loops are branch-free per variant.

cdef void _sgd_chunk(floating* w, const floating* g, floating* m, Py_ssize_t n,
                     floating lr, int mode, floating mom) noexcept nogil:
    """mode 0: w -= g*lr; 1: m = m*mom - g*lr, w += m; 2 (Nesterov): then w += m*mom - g*lr."""
    cdef Py_ssize_t j
    cdef floating mj
    if mode == 0 or m == NULL:
        for j in range(n):
            w[j] = w[j] - g[j] * lr
    elif mode == 1:
        for j in range(n):
            mj = m[j] * mom - g[j] * lr
            m[j] = mj
            w[j] = w[j] + mj
    else:
        for j in range(n):
            mj = m[j] * mom - g[j] * lr
            m[j] = mj
            w[j] = w[j] + (mj * mom - g[j] * lr)


cdef void _adam_chunk(floating* w, const floating* g, floating* m, floating* v,
                      floating* vh, Py_ssize_t n, floating c1, floating c2,
                      floating alpha, floating eps) noexcept nogil:
    """m += (g - m)*c1; v += (g*g - v)*c2; [vh = max(vh, v)]; w -= m*alpha / (sqrt(v) + eps)."""
    cdef Py_ssize_t j
    cdef floating gj, mj, vj
    if vh == NULL:
        for j in range(n):
            gj = g[j]
            mj = m[j] + (gj - m[j]) * c1
            vj = v[j] + (gj * gj - v[j]) * c2
            m[j] = mj
            v[j] = vj
            w[j] = w[j] - (mj * alpha) / (_sqrt(vj) + eps)
    else:
        for j in range(n):
            gj = g[j]
            mj = m[j] + (gj - m[j]) * c1
            vj = v[j] + (gj * gj - v[j]) * c2
            m[j] = mj
            v[j] = vj
            vj = _maximum(vh[j], vj)
            vh[j] = vj
            w[j] = w[j] - (mj * alpha) / (_sqrt(vj) + eps)


cdef void _rmsprop_chunk(floating* w, const floating* g, floating* vel, floating* mom,
                         floating* avg, Py_ssize_t n, floating lr, floating rho,
                         floating one_minus_rho, floating eps,
                         floating momentum) noexcept nogil:
    """vel = rho*vel + (1-rho)*g*g; centered: avg = rho*avg + (1-rho)*g and
    den = vel - avg*avg + eps, else den = vel + eps; inc = lr*g / sqrt(den);
    with momentum: mom = momentum*mom + inc and w -= mom, else w -= inc."""
    cdef Py_ssize_t j
    cdef floating gj, vj, aj, inc
    for j in range(n):
        gj = g[j]
        vj = rho * vel[j] + one_minus_rho * (gj * gj)
        vel[j] = vj
        if avg != NULL:
            aj = rho * avg[j] + one_minus_rho * gj
            avg[j] = aj
            vj = (vj - aj * aj) + eps
        else:
            vj = vj + eps
        inc = (lr * gj) / _sqrt(vj)
        if mom != NULL:
            inc = momentum * mom[j] + inc
            mom[j] = inc
        w[j] = w[j] - inc


cdef void _adagrad_chunk(floating* w, const floating* g, floating* acc, Py_ssize_t n,
                         floating lr, floating eps) noexcept nogil:
    """acc += g*g; w -= lr*g / sqrt(acc + eps)."""
    cdef Py_ssize_t j
    cdef floating gj, aj
    for j in range(n):
        gj = g[j]
        aj = acc[j] + gj * gj
        acc[j] = aj
        w[j] = w[j] - (lr * gj) / _sqrt(aj + eps)


cdef void _adamax_chunk(floating* w, const floating* g, floating* m, floating* u,
                        Py_ssize_t n, floating lr, floating c1, floating beta_2,
                        floating bias, floating eps) noexcept nogil:
    """m += (g - m)*c1; u = max(beta_2*u, |g|); w -= lr*m / (bias * (u + eps))."""
    cdef Py_ssize_t j
    cdef floating gj, mj, uj
    for j in range(n):
        gj = g[j]
        mj = m[j] + (gj - m[j]) * c1
        m[j] = mj
        uj = _maximum(beta_2 * u[j], <floating>fabs(gj))
        u[j] = uj
        w[j] = w[j] - (lr * mj) / (bias * (uj + eps))


cdef void _nadam_chunk(floating* w, const floating* g, floating* m, floating* v,
                       Py_ssize_t n, floating lr, floating c1, floating c2,
                       floating u_next, floating d_next, floating one_minus_u,
                       floating d_now, floating d_v, floating eps) noexcept nogil:
    """m += (g - m)*c1; v += (g*g - v)*c2;
    m_hat = u_next*m/d_next + one_minus_u*g/d_now; v_hat = v/d_v;
    w -= m_hat*lr / (sqrt(v_hat) + eps)."""
    cdef Py_ssize_t j
    cdef floating gj, mj, vj, mh
    for j in range(n):
        gj = g[j]
        mj = m[j] + (gj - m[j]) * c1
        vj = v[j] + (gj * gj - v[j]) * c2
        m[j] = mj
        v[j] = vj
        mh = (u_next * mj) / d_next + (one_minus_u * gj) / d_now
        w[j] = w[j] - (mh * lr) / (_sqrt(vj / d_v) + eps)


# ------------------------------------------------------------------- dispatch

cdef void _run(int kind, floating* w, const floating* g, floating* s0, floating* s1,
               floating* s2, Py_ssize_t n, const double* k) noexcept nogil:
    """One chunk of one parameter; k[0] is lr, k[1:] the rule's scalars (see step())."""
    cdef floating lr = <floating>k[0]
    if kind == _SGD:
        _sgd_chunk(w, g, s0, n, lr, <int>k[1], <floating>k[2])
    elif kind == _ADAM:
        _adam_chunk(w, g, s0, s1, s2, n, <floating>k[1], <floating>k[2], <floating>k[3],
                    <floating>k[4])
    elif kind == _RMSPROP:
        _rmsprop_chunk(w, g, s0, s1, s2, n, lr, <floating>k[1], <floating>k[2],
                       <floating>k[3], <floating>k[4])
    elif kind == _ADAGRAD:
        _adagrad_chunk(w, g, s0, n, lr, <floating>k[1])
    elif kind == _ADAMAX:
        _adamax_chunk(w, g, s0, s1, n, lr, <floating>k[1], <floating>k[2], <floating>k[3],
                      <floating>k[4])
    elif kind == _NADAM:
        _nadam_chunk(w, g, s0, s1, n, lr, <floating>k[1], <floating>k[2], <floating>k[3],
                     <floating>k[4], <floating>k[5], <floating>k[6], <floating>k[7],
                     <floating>k[8])


cdef void _chunk(int kind, floating* w, const floating* g, floating* s0, floating* s1,
                 floating* s2, Py_ssize_t n, const Prep* p, const double* k) noexcept nogil:
    """Prepare (decay, clip into a stack buffer) and update one chunk."""
    cdef floating buf[CHUNK]
    _run(kind, w, _prepare(w, g, buf, n, p), s0, s1, s2, n, k)


cdef inline char* _data(object a):
    """The data pointer of an ndarray, or NULL for None."""
    if a is None:
        return NULL
    return <char*>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef Task* _tasks(list arrays, Py_ssize_t* n_tasks, Py_ssize_t* total) except? NULL:
    """The (parameter, chunk) tasks of `arrays`, in order."""
    cdef Py_ssize_t i, j, n, count = 0, size = 0, t = 0
    cdef Py_ssize_t n_arrays = len(arrays)
    cdef Py_ssize_t* sizes = <Py_ssize_t*>malloc((n_arrays + 1) * sizeof(Py_ssize_t))
    if sizes == NULL:
        raise MemoryError()
    for i in range(n_arrays):
        n = cnp.PyArray_SIZE(<cnp.ndarray>arrays[i])
        sizes[i] = n
        count += (n + CHUNK - 1) // CHUNK
        size += n
    cdef Task* tasks = <Task*>malloc((count + 1) * sizeof(Task))
    if tasks == NULL:
        free(sizes)
        raise MemoryError()
    for i in range(n_arrays):
        j = 0
        while j < sizes[i]:
            tasks[t].var = i
            tasks[t].start = j
            tasks[t].n = min(<Py_ssize_t>CHUNK, sizes[i] - j)
            t += 1
            j += CHUNK
    free(sizes)
    n_tasks[0] = count
    total[0] = size
    return tasks


cdef inline int _team(Py_ssize_t total, Py_ssize_t n_tasks, int n_threads) noexcept nogil:
    """1 below SERIAL_BELOW elements in total, else at most one thread per task."""
    if total < _SERIAL_BELOW or n_threads < 1:
        return 1
    return <int>n_tasks if n_tasks < n_threads else n_threads


cdef inline void _task_sumsq(const Task* t, char** gp, bint* f32, double* part) noexcept nogil:
    if f32[t.var]:
        part[0] = _chunk_sumsq((<const float*>gp[t.var]) + t.start, t.n)
    else:
        part[0] = _chunk_sumsq((<const double*>gp[t.var]) + t.start, t.n)


def sumsq(list grads, double[::1] out, int n_threads):
    """out[i] := sum(grads[i]**2) in float64, for each gradient (any thread count alike)."""
    cdef Py_ssize_t n_arrays = len(grads), n_tasks = 0, total = 0, i, t
    cdef Task* tasks = _tasks(grads, &n_tasks, &total)
    cdef char** gp = <char**>malloc((n_arrays + 1) * sizeof(char*))
    cdef bint* f32 = <bint*>malloc((n_arrays + 1) * sizeof(bint))
    cdef double* part = <double*>malloc((n_tasks + 1) * sizeof(double))
    if gp == NULL or f32 == NULL or part == NULL:
        free(tasks); free(gp); free(f32); free(part)
        raise MemoryError()
    for i in range(n_arrays):
        gp[i] = _data(grads[i])
        f32[i] = cnp.PyArray_TYPE(<cnp.ndarray>grads[i]) == cnp.NPY_FLOAT
    n_threads = _team(total, n_tasks, n_threads)
    with nogil:
        if n_threads == 1:
            for t in range(n_tasks):
                _task_sumsq(&tasks[t], gp, f32, &part[t])
        else:
            for t in prange(n_tasks, schedule='static', num_threads=n_threads):
                _task_sumsq(&tasks[t], gp, f32, &part[t])
        for i in range(n_arrays):
            out[i] = 0.0
        for t in range(n_tasks):
            out[tasks[t].var] = out[tasks[t].var] + part[t]
    free(tasks); free(gp); free(f32); free(part)


cdef inline void _task_step(int kind, const Task* t, char** ptr, bint* f32,
                            const double* prep, const double* k32,
                            const double* k64) noexcept nogil:
    """Run one task; ptr holds 5 pointers per parameter (w, g, s0, s1, s2)."""
    cdef Py_ssize_t v = t.var, o = t.start
    cdef char** q = ptr + 5 * v
    cdef const double* r = prep + 5 * v
    cdef Prep p
    p.clip = <int>r[0]
    p.a = r[1]
    p.b = r[2]
    p.decay = r[3] != 0.0
    p.wd = r[4]
    if f32[v]:
        p.lr = k32[0]
        _chunk(kind, (<float*>q[0]) + o, (<const float*>q[1]) + o,
             (<float*>q[2]) + o if q[2] != NULL else <float*>NULL,
             (<float*>q[3]) + o if q[3] != NULL else <float*>NULL,
             (<float*>q[4]) + o if q[4] != NULL else <float*>NULL, t.n, &p, k32)
    else:
        p.lr = k64[0]
        _chunk(kind, (<double*>q[0]) + o, (<const double*>q[1]) + o,
             (<double*>q[2]) + o if q[2] != NULL else <double*>NULL,
             (<double*>q[3]) + o if q[3] != NULL else <double*>NULL,
             (<double*>q[4]) + o if q[4] != NULL else <double*>NULL, t.n, &p, k64)


def step(int kind,
         list weights,                  # IN/OUT parameters (C-contiguous)
         list grads,                    # IN gradients, each of its parameter's size and dtype
         list slot0, list slot1, list slot2,   # IN/OUT slots (None where a rule has none)
         const double[:, ::1] prep,     # IN per parameter: clip code, a, b, decay flag, wd
         tuple k32,                     # IN lr and the rule's scalars, rounded to float32
         tuple k64,                     # IN the same for float64 parameters
         int n_threads):
    """One optimizer step of rule `kind` over all parameters.

    Scalars after k[0] = lr: SGD (mode 0 plain / 1 momentum / 2 Nesterov, momentum);
    Adam (1 - beta_1, 1 - beta_2, alpha, epsilon; slot2 = v_hat for AMSGrad);
    RMSprop (rho, 1 - rho, epsilon, momentum; slot1 = momentum, slot2 = mean gradient);
    Adagrad (epsilon); Adamax (1 - beta_1, beta_2, 1 - beta_1**t, epsilon);
    Nadam (1 - beta_1, 1 - beta_2, u_{t+1}, 1 - P_t u_{t+1}, 1 - u_t, 1 - P_t,
    1 - beta_2**t, epsilon).
    """
    cdef Py_ssize_t n_arrays = len(weights), n_tasks = 0, total = 0, i, t
    cdef double c32[N_SCALARS]
    cdef double c64[N_SCALARS]
    for i in range(N_SCALARS):
        c32[i] = k32[i] if i < len(k32) else 0.0
        c64[i] = k64[i] if i < len(k64) else 0.0
    cdef Task* tasks = _tasks(weights, &n_tasks, &total)
    cdef char** ptr = <char**>malloc((5 * n_arrays + 1) * sizeof(char*))
    cdef bint* f32 = <bint*>malloc((n_arrays + 1) * sizeof(bint))
    if ptr == NULL or f32 == NULL:
        free(tasks); free(ptr); free(f32)
        raise MemoryError()
    for i in range(n_arrays):
        ptr[5 * i] = _data(weights[i])
        ptr[5 * i + 1] = _data(grads[i])
        ptr[5 * i + 2] = _data(slot0[i])
        ptr[5 * i + 3] = _data(slot1[i])
        ptr[5 * i + 4] = _data(slot2[i])
        f32[i] = cnp.PyArray_TYPE(<cnp.ndarray>weights[i]) == cnp.NPY_FLOAT
    n_threads = _team(total, n_tasks, n_threads)
    cdef const double* pp = &prep[0, 0] if n_arrays > 0 else NULL
    with nogil:
        if n_threads == 1:
            for t in range(n_tasks):
                _task_step(kind, &tasks[t], ptr, f32, pp, c32, c64)
        else:
            for t in prange(n_tasks, schedule='static', num_threads=n_threads):
                _task_step(kind, &tasks[t], ptr, f32, pp, c32, c64)
    free(tasks); free(ptr); free(f32)
