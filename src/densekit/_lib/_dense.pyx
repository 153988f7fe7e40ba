"""Dense forward kernel: y := act(x @ w + b).

One row-major GEMM through scipy's BLAS (which threads on its own), then one
OpenMP pass over the output rows that adds the bias and applies the activation
while each row is still in cache. BLAS is never called from inside a prange.

Narrow layers (a kernel of at most SMALL_KERNEL values, like the tutorial's
16x32) skip BLAS: a skinny GEMM is too small to amortize BLAS's thread
hand-off, and alternating BLAS's thread pool with OpenMP's costs more than the
arithmetic (measured: 10x on 2 shared cores). There one OpenMP pass over the
rows computes each output row from x[i] and the cached kernel and activates it
at once. The choice depends only on the kernel shape, never on the row count,
so results do not depend on how rows are batched.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

from densekit._lib._activation_ops cimport bias_activate_row
from densekit._lib._activations cimport ACT_LINEAR, ACT_N_CODES

cdef extern from "dk_dense.h" nogil:
    # x[rows, k] @ w[k, u] -> y[rows, u] for small kernels (src/dk_dense.c): the same bits
    # for any clone, row grouping or thread.
    void dk_dense_rows_f32(const float* x, const float* w, float* y,
                           Py_ssize_t rows, Py_ssize_t k, Py_ssize_t u)
    void dk_dense_rows_f64(const double* x, const double* w, double* y,
                           Py_ssize_t rows, Py_ssize_t k, Py_ssize_t u)


cdef enum:
    # Kernels with at most this many values (16 KiB as float32, in L1) use the
    # direct row kernel instead of BLAS.
    SMALL_KERNEL = 4096
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


cdef inline void _small_rows(const floating* x, const floating* w, const floating* bias,
                             floating* y, Py_ssize_t rows, Py_ssize_t k, Py_ssize_t u,
                             int code, double p0, double p1, double p2) noexcept nogil:
    """y[i, :] := act(x[i, :] @ w + bias) for `rows` consecutive rows.

    The product runs in dk_dense_rows (same bits for any grouping of rows), the
    bias is added last as in the GEMM path, and each row is activated while it
    is in L1."""
    cdef Py_ssize_t i
    if floating is float:
        dk_dense_rows_f32(x, w, y, rows, k, u)
    else:
        dk_dense_rows_f64(x, w, y, rows, k, u)
    if bias != NULL or code != ACT_LINEAR:
        for i in range(rows):
            bias_activate_row(code, y + i * u, bias, u, p0, p1, p2)


cdef void _small_forward(const floating* x,      # IN (n, k)
                         const floating* w,      # IN (k, u), small
                         const floating* bias,   # IN (u,) or NULL
                         floating* y,            # OUT (n, u)
                         Py_ssize_t n, Py_ssize_t k, Py_ssize_t u,
                         int code, double p0, double p1, double p2,
                         int n_threads) noexcept nogil:
    """y[i, :] := act(x[i, :] @ w + bias), blocks of 64 rows split over threads."""
    cdef Py_ssize_t b, r0, n_blocks = (n + 63) // 64
    if n == 0 or u == 0:
        return
    for b in prange(n_blocks, schedule='static', num_threads=n_threads):
        r0 = b * 64
        _small_rows(x + r0 * k, w, bias, y + r0 * u, min(64, n - r0), k, u,
                    code, p0, p1, p2)


def dense_forward(const floating[:, ::1] x,       # IN (n, k)
                  const floating[:, ::1] kernel,  # IN (k, u)
                  const floating[::1] bias,       # IN (u,) or None
                  floating[:, ::1] out,           # OUT (n, u)
                  int code, double p0, double p1, double p2,
                  int n_threads):
    """out := act_code(x @ kernel + bias); the caller checked every shape.

    `code`, p0..p2: a fused activation from `densekit.activations.fused_code`
    (ACT_LINEAR: none; see src/dk_activations.h); bias None skips the add.
    """
    cdef Py_ssize_t n = x.shape[0], u = kernel.shape[1]
    cdef int k = <int> x.shape[1], ui = <int> kernel.shape[1]
    cdef const floating* bptr = NULL
    # Cheap guards so that a misuse of this private entry raises instead of crashing.
    if (kernel.shape[0] != x.shape[1] or out.shape[0] != n or out.shape[1] != u
            or (bias is not None and bias.shape[0] != u)):
        raise ValueError("dense_forward: inconsistent shapes")
    if code < 0 or code >= ACT_N_CODES:
        raise ValueError("dense_forward: unknown activation code")
    if bias is not None and u > 0:
        bptr = &bias[0]
    with nogil:
        if k * u <= SMALL_KERNEL:
            _small_forward(&x[0, 0], &kernel[0, 0], bptr, &out[0, 0], n, k, u,
                           code, p0, p1, p2, n_threads)
        else:
            _gemm(&x[0, 0], &kernel[0, 0], &out[0, 0], n, k, ui)
            if bptr != NULL or code != ACT_LINEAR:
                _bias_activate_2d(&out[0, 0], bptr, n, u, code, p0, p1, p2, n_threads)


cdef bint _mlp_blocks(const floating* x, floating* out, Py_ssize_t n,
                      const floating** kernels, const floating** biases,
                      const Py_ssize_t* dims, const int* codes, const double* params,
                      Py_ssize_t n_layers, Py_ssize_t block, Py_ssize_t width,
                      int n_threads) noexcept nogil:
    """Run a stack of small Dense layers over row blocks, one parallel region.

    Each thread takes blocks of `block` rows and pushes them through every
    layer with two private buffers of block*width values, so the
    intermediate activations never leave its cache and the whole forward pass
    is a single OpenMP region (no per-layer barrier)."""
    cdef Py_ssize_t n_blocks = (n + block - 1) // block
    cdef Py_ssize_t b, r0, rows, l
    cdef floating* buf
    cdef floating* dst
    cdef const floating* src
    cdef int failed[1]
    failed[0] = 0
    buf = NULL  # Cython makes buf firstprivate: give the copies a defined value
    with parallel(num_threads=n_threads):
        buf = <floating*> malloc(2 * block * width * sizeof(floating))
        # Dynamic blocks: on a shared machine a descheduled thread does not hold
        # the others back (rows are independent, so results do not depend on it).
        for b in prange(n_blocks, schedule='dynamic'):
            if buf == NULL:
                failed[0] = 1  # an array element is shared; the caller raises
            else:
                r0 = b * block
                rows = n - r0 if n - r0 < block else block
                src = x + r0 * dims[0]
                for l in range(n_layers):
                    if l == n_layers - 1:
                        dst = out + r0 * dims[n_layers]
                    else:
                        dst = buf + (l % 2) * block * width
                    _small_rows(src, kernels[l], biases[l], dst, rows,
                                dims[l], dims[l + 1], codes[l],
                                params[3 * l], params[3 * l + 1], params[3 * l + 2])
                    src = dst
        free(buf)
    return failed[0] == 0


def mlp_forward(const floating[:, ::1] x,    # IN (n, dims[0])
                list kernels,                # IN L arrays (dims[l], dims[l+1])
                list biases,                 # IN L arrays (dims[l+1],) or None
                const int[::1] codes,        # IN L fused activation codes
                const double[::1] params,    # IN 3L activation parameters
                floating[:, ::1] out,        # OUT (n, dims[L])
                Py_ssize_t block,
                int n_threads):
    """out := the stack of small Dense layers applied to x; the caller checked
    that every kernel is C-contiguous, of x's dtype, chained in shape, and at most
    SMALL_KERNEL values."""
    cdef Py_ssize_t L = len(kernels), l, width = 1
    cdef Py_ssize_t n = x.shape[0]
    cdef const floating[:, ::1] wv
    cdef const floating[::1] bv
    cdef bint ok = True
    cdef const floating** kp = <const floating**> malloc(L * sizeof(floating*))
    cdef const floating** bp = <const floating**> malloc(L * sizeof(floating*))
    cdef Py_ssize_t* dims = <Py_ssize_t*> malloc((L + 1) * sizeof(Py_ssize_t))
    if kp == NULL or bp == NULL or dims == NULL:
        free(kp); free(bp); free(dims)
        raise MemoryError()
    try:
        if (L == 0 or len(biases) != L or codes.shape[0] != L or params.shape[0] != 3 * L
                or block < 1):
            raise ValueError("mlp_forward: inconsistent layer lists")
        dims[0] = x.shape[1]
        for l in range(L):
            wv = kernels[l]
            if wv.shape[0] != dims[l] or wv.shape[0] * wv.shape[1] > SMALL_KERNEL:
                raise ValueError("mlp_forward: kernel shapes do not chain or are too large")
            kp[l] = &wv[0, 0]
            dims[l + 1] = wv.shape[1]
            if biases[l] is None:
                bp[l] = NULL
            else:
                bv = biases[l]
                if bv.shape[0] != dims[l + 1]:
                    raise ValueError("mlp_forward: bias shape")
                bp[l] = &bv[0]
            if codes[l] < 0 or codes[l] >= ACT_N_CODES:
                raise ValueError("mlp_forward: unknown activation code")
            if l + 1 < L and dims[l + 1] > width:
                width = dims[l + 1]
        if out.shape[0] != n or out.shape[1] != dims[L]:
            raise ValueError("mlp_forward: out shape")
        if n == 0:
            return True
        with nogil:
            ok = _mlp_blocks(&x[0, 0], &out[0, 0], n, kp, bp, dims, &codes[0], &params[0],
                             L, block, width, n_threads)
    finally:
        free(kp)
        free(bp)
        free(dims)
    if not ok:
        raise MemoryError("could not allocate the per-thread row buffers")
    return True


# Kernels with at most this many values take the direct (non-BLAS) row path.
SMALL_KERNEL_SIZE = SMALL_KERNEL


# ---------------------------------------------------------------- backward

from densekit._lib._activation_ops cimport activation_grad as _act_grad
from densekit._lib._activations cimport ACT_SOFTMAX

cdef extern from "dk_dense.h" nogil:
    # dw := x^T dz, dx := dz w^T (dx may be NULL) on the calling thread (src/dk_dense.c).
    void dk_dense_backward_rows_f32(const float* x, const float* w, const float* dz,
                                    float* dx, float* dw, Py_ssize_t rows, Py_ssize_t k,
                                    Py_ssize_t u)
    void dk_dense_backward_rows_f64(const double* x, const double* w, const double* dz,
                                    double* dx, double* dw, Py_ssize_t rows, Py_ssize_t k,
                                    Py_ssize_t u)


cdef enum:
    # Small kernels (at most SMALL_KERNEL values, as in the forward) with at most this
    # many multiply-adds per GEMM skip BLAS: its call and thread hand-off cost more than
    # the arithmetic there (the tutorial's 32 x 16 x 32 step is 16k).
    SMALL_BACKWARD_WORK = 1 << 20
    # Rows per partial of the bias gradient: a fixed chunking (never the thread count),
    # so the column sums are bit-identical for any n_threads.
    DBIAS_ROWS = 256
    # Below this many values of dz the backward elementwise passes run on the calling
    # thread, without an OpenMP region (its start-up costs more than the loop).
    SERIAL_BACKWARD = 32768


cdef void _gemm_xt_dz(const floating* x,     # IN (n, k) row-major
                      const floating* dz,    # IN (n, u) row-major
                      floating* dw,          # OUT (k, u) row-major
                      Py_ssize_t n, int k, int u) noexcept nogil:
    """dw := x^T @ dz, all row-major.

    Column-major, dw is the (u, k) matrix dz_cm @ x_cm^T, where dz_cm (u, n) and
    x_cm (k, n) are the row-major arrays read column-major: one 'N','T' GEMM,
    no copy. The sum over rows runs in blocks of at most 2**30 rows (BLAS int
    sizes), accumulated with beta = 1."""
    cdef char tn = b'N', tt = b'T'
    cdef int rows
    cdef Py_ssize_t start = 0
    cdef float sone = 1.0, sbeta
    cdef double done = 1.0, dbeta
    if k == 0 or u == 0:
        return
    if n == 0:
        memset(dw, 0, k * u * sizeof(floating))
        return
    while start < n:
        rows = <int> min(n - start, _MAX_ROWS_PER_GEMM)
        if floating is float:
            sbeta = 0.0 if start == 0 else 1.0
            sgemm(&tn, &tt, &u, &k, &rows, &sone, <float*> (dz + start * u), &u,
                  <float*> (x + start * k), &k, &sbeta, dw, &u)
        else:
            dbeta = 0.0 if start == 0 else 1.0
            dgemm(&tn, &tt, &u, &k, &rows, &done, <double*> (dz + start * u), &u,
                  <double*> (x + start * k), &k, &dbeta, dw, &u)
        start += rows


cdef void _gemm_dz_wt(const floating* dz,    # IN (n, u) row-major
                      const floating* w,     # IN (k, u) row-major
                      floating* dx,          # OUT (n, k) row-major
                      Py_ssize_t n, int k, int u) noexcept nogil:
    """dx := dz @ w^T, all row-major.

    Column-major, dx is the (k, n) matrix w_cm^T @ dz_cm with w_cm (u, k): one
    'T','N' GEMM, no copy; rows in blocks of at most 2**30."""
    cdef char tn = b'N', tt = b'T'
    cdef int rows
    cdef Py_ssize_t start = 0
    cdef float sone = 1.0, szero = 0.0
    cdef double done = 1.0, dzero = 0.0
    if n == 0 or k == 0:
        return
    if u == 0:
        memset(dx, 0, n * k * sizeof(floating))
        return
    while start < n:
        rows = <int> min(n - start, _MAX_ROWS_PER_GEMM)
        if floating is float:
            sgemm(&tt, &tn, &k, &rows, &u, &sone, <float*> w, &u,
                  <float*> (dz + start * u), &u, &szero, dx + start * k, &k)
        else:
            dgemm(&tt, &tn, &k, &rows, &u, &done, <double*> w, &u,
                  <double*> (dz + start * u), &u, &dzero, dx + start * k, &k)
        start += rows


cdef inline void _partial_sums(const floating* dz, double* part, Py_ssize_t r0,
                               Py_ssize_t r1, Py_ssize_t u) noexcept nogil:
    """part[j] := sum of dz[i, j] over r0 <= i < r1, in row order, in double."""
    cdef Py_ssize_t i, j
    cdef const floating* row
    for j in range(u):
        part[j] = 0.0
    for i in range(r0, r1):
        row = dz + i * u
        for j in range(u):
            part[j] += row[j]


cdef inline void _grad_rows_block(int code, const floating* src, floating* dz,
                                  Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t u,
                                  double p0, double p1, double p2) noexcept nogil:
    """dz[r0:r1] := dz * act'(src) in place, row by row (rows are whole for softmax)."""
    cdef Py_ssize_t r
    if code >= ACT_SOFTMAX:
        for r in range(r0, r1):
            _act_grad(code, src + r * u, dz + r * u, dz + r * u, u, p0, p1, p2)
    else:
        _act_grad(code, src + r0 * u, dz + r0 * u, dz + r0 * u, (r1 - r0) * u, p0, p1, p2)


cdef bint _act_and_dbias(floating* dz,            # IN/OUT (n, u)
                         const floating* src,     # IN (n, u) y or z, or NULL: no activation
                         floating* dbias,         # OUT (u,) or NULL
                         Py_ssize_t n, Py_ssize_t u, int code,
                         double p0, double p1, double p2, int n_threads) noexcept nogil:
    """dz := dz * act'(src) (when src is given) and dbias := column sums of dz, in one
    pass over blocks of DBIAS_ROWS rows: block b's partial sums go to part[b], summed in
    block order afterwards, so the result does not depend on n_threads. Returns False
    when the partials cannot be allocated (nothing was written to dbias then)."""
    cdef Py_ssize_t n_blocks = (n + DBIAS_ROWS - 1) // DBIAS_ROWS
    cdef Py_ssize_t b, r0, r1, j
    cdef double* part = NULL
    cdef double acc
    if n == 0 or u == 0:
        if dbias != NULL:
            for j in range(u):
                dbias[j] = 0
        return True
    if dbias != NULL:
        part = <double*> malloc(n_blocks * u * sizeof(double))
        if part == NULL:
            return False
    if n * u <= SERIAL_BACKWARD or n_threads <= 1 or n_blocks == 1:
        for b in range(n_blocks):
            r0 = b * DBIAS_ROWS
            r1 = min(r0 + DBIAS_ROWS, n)
            if src != NULL:
                _grad_rows_block(code, src, dz, r0, r1, u, p0, p1, p2)
            if part != NULL:
                _partial_sums(dz, part + b * u, r0, r1, u)
    else:
        for b in prange(n_blocks, schedule='static', num_threads=n_threads):
            r0 = b * DBIAS_ROWS
            r1 = min(r0 + DBIAS_ROWS, n)
            if src != NULL:
                _grad_rows_block(code, src, dz, r0, r1, u, p0, p1, p2)
            if part != NULL:
                _partial_sums(dz, part + b * u, r0, r1, u)
    if part != NULL:
        for j in range(u):
            acc = 0.0
            for b in range(n_blocks):
                acc += part[b * u + j]
            dbias[j] = <floating> acc
        free(part)
    return True


cdef _check_backward(const floating[:, ::1] x, const floating[:, ::1] kernel,
                     Py_ssize_t dz0, Py_ssize_t dz1, floating[:, ::1] dx,
                     floating[:, ::1] dkernel, floating[::1] dbias, bint need_dx, str name):
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], u = kernel.shape[1]
    if (kernel.shape[0] != k or dz0 != n or dz1 != u
            or dkernel.shape[0] != k or dkernel.shape[1] != u
            or (dbias is not None and dbias.shape[0] != u)):
        raise ValueError(f"{name}: inconsistent shapes")
    if need_dx and (dx is None or dx.shape[0] != n or dx.shape[1] != k):
        raise ValueError(f"{name}: dx must be an (n, k) array when need_dx is True")
    if k > 2147483647 or u > 2147483647:
        raise ValueError(f"{name}: k and u must fit a C int (BLAS)")


def dense_backward(const floating[:, ::1] x,        # IN (n, k)
                   const floating[:, ::1] kernel,   # IN (k, u)
                   const floating[:, ::1] dz,       # IN (n, u) dL/dz, z = x @ kernel + bias
                   floating[:, ::1] dx,             # OUT (n, k) or None
                   floating[:, ::1] dkernel,        # OUT (k, u)
                   floating[::1] dbias,             # OUT (u,) or None
                   bint need_dx,
                   int n_threads):
    """dkernel := x^T dz, dbias := dz.sum(0), dx := dz kernel^T (if need_dx).

    The backward of z = x @ kernel + bias. Two GEMMs through scipy's BLAS with
    transposition flags (no transposed copies; BLAS threads on its own); small
    ones (kernel of at most SMALL_KERNEL_SIZE values and at most
    SMALL_BACKWARD_WORK_SIZE multiply-adds) in a direct loop on the calling
    thread instead (deterministic, no BLAS call). And
    dbias as column sums over fixed blocks of 256 rows summed in block order, in
    double: bit-identical for any n_threads. dz is only read. dx may be None
    when need_dx is False; dbias None skips it. The outputs must not overlap
    the inputs or each other. The caller checked dtypes.
    """
    _check_backward(x, kernel, dz.shape[0], dz.shape[1], dx, dkernel, dbias, need_dx,
                    "dense_backward")
    _backward(x, kernel, NULL, <floating*> _ptr2(dz), dx, dkernel, dbias, need_dx,
              ACT_LINEAR, 0.0, 0.0, 0.0, n_threads, "dense_backward")


def dense_backward_act(const floating[:, ::1] x,        # IN (n, k)
                       const floating[:, ::1] kernel,   # IN (k, u)
                       const floating[:, ::1] act_src,  # IN (n, u) y, or z (see below)
                       floating[:, ::1] dz,             # IN/OUT (n, u) dL/dy -> dL/dz
                       floating[:, ::1] dx,             # OUT (n, k) or None
                       floating[:, ::1] dkernel,        # OUT (k, u)
                       floating[::1] dbias,             # OUT (u,) or None
                       bint need_dx,
                       int code, double p0, double p1, double p2,
                       int n_threads):
    """The backward of y = act_code(x @ kernel + bias), activation fused.

    On entry dz holds dL/dy; it is OVERWRITTEN in place with dL/dz = dL/dy *
    act'(z) (one pass over blocks of rows, which also accumulates dbias), then
    dkernel := x^T dz and dx := dz kernel^T (if need_dx) as in dense_backward.
    act_src is the forward output y, or the pre-activation z when
    ``_activations.grad_needs_input(code, p0, p1, p2)``; it may be dz itself
    only for ACT_LINEAR. For ACT_SOFTMAX/ACT_LOG_SOFTMAX each row of u values is
    one softmax row. Bit-identical results for any n_threads (the GEMMs are
    BLAS's). dx, dkernel and dbias must not overlap the inputs or each other.
    The caller checked dtypes.
    """
    _check_backward(x, kernel, dz.shape[0], dz.shape[1], dx, dkernel, dbias, need_dx,
                    "dense_backward_act")
    if act_src.shape[0] != dz.shape[0] or act_src.shape[1] != dz.shape[1]:
        raise ValueError("dense_backward_act: act_src must have dz's shape")
    if code < 0 or code >= ACT_N_CODES:
        raise ValueError("dense_backward_act: unknown activation code")
    _backward(x, kernel, _ptr2(act_src) if code != ACT_LINEAR else NULL, _mptr2(dz), dx,
              dkernel, dbias, need_dx, code, p0, p1, p2, n_threads, "dense_backward_act")


cdef inline const floating* _ptr2(const floating[:, ::1] a) noexcept:
    return &a[0, 0] if a.shape[0] * a.shape[1] > 0 else NULL


cdef inline floating* _mptr2(floating[:, ::1] a) noexcept:
    return &a[0, 0] if a.shape[0] * a.shape[1] > 0 else NULL


cdef _backward(const floating[:, ::1] x, const floating[:, ::1] kernel,
               const floating* src, floating* dzp, floating[:, ::1] dx,
               floating[:, ::1] dkernel, floating[::1] dbias, bint need_dx,
               int code, double p0, double p1, double p2, int n_threads, str name):
    """The shared body of dense_backward(_act): shapes are checked."""
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], u = kernel.shape[1]
    cdef const floating* xp = _ptr2(x)
    cdef const floating* wp = _ptr2(kernel)
    cdef floating* dwp = _mptr2(dkernel)
    cdef floating* dxp = _mptr2(dx) if need_dx else NULL
    cdef floating* dbp = &dbias[0] if dbias is not None and u > 0 else NULL
    cdef bint ok
    with nogil:
        ok = dense_backward_ptr(xp, wp, src, dzp, dxp, dwp, dbp, n, k, u, need_dx,
                                code, p0, p1, p2, n_threads)
    if not ok:
        raise MemoryError(f"{name}: could not allocate the bias partial sums")


cdef bint dense_backward_ptr(const floating* x, const floating* w,
                             const floating* act_src, floating* dz, floating* dx,
                             floating* dw, floating* db,
                             Py_ssize_t n, Py_ssize_t k, Py_ssize_t u, bint need_dx,
                             int code, double p0, double p1, double p2,
                             int n_threads) noexcept nogil:
    """dense_backward_act on raw C-contiguous buffers (declared in _dense.pxd, so a
    compiled training step can cimport it). act_src NULL: no activation (dz is only
    read); db NULL: no bias gradient; a buffer of a zero-size array may be NULL; k
    and u must fit a C int. Returns False, having written nothing, if the bias
    partial sums cannot be allocated."""
    cdef bint ok = True
    if act_src != NULL or db != NULL:
        ok = _act_and_dbias(dz, act_src, db, n, u, code, p0, p1, p2, n_threads)
    if not ok:
        return False
    if k * u <= SMALL_KERNEL and n * k * u <= SMALL_BACKWARD_WORK:
        if floating is float:
            dk_dense_backward_rows_f32(x, w, dz, dx if need_dx else NULL, dw, n, k, u)
        else:
            dk_dense_backward_rows_f64(x, w, dz, dx if need_dx else NULL, dw, n, k, u)
    else:
        _gemm_xt_dz(x, dz, dw, n, <int> k, <int> u)
        if need_dx:
            _gemm_dz_wt(dz, w, dx, n, <int> k, <int> u)
    return True


# Small kernels with at most this many multiply-adds per GEMM take the direct backward.
SMALL_BACKWARD_WORK_SIZE = SMALL_BACKWARD_WORK
