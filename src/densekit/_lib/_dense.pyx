"""Dense forward kernel: y := act(x @ w + b).

float32 on a CPU with FMA (AVX-512 or AVX2, `FMA_LEVEL`): densekit's own product
(src/dk_gemm.c), whose every output is one fused multiply-add per k in k order,
then the bias and the activation on each block while it is in L1; tasks are
disjoint blocks of y shared by OpenMP threads. So a row's bits depend neither on
its batch nor on the thread count nor on the instruction set.

Otherwise (float64, or a CPU without FMA): one row-major GEMM through scipy's
BLAS (which threads on its own), then one OpenMP pass over the output rows that
adds the bias and applies the activation while each row is still in cache. BLAS
is never called from inside a prange, but by Orthogonal's QR, whose column tasks
each call BLAS held to one thread.

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
cimport numpy as cnp
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, sgemm
from scipy.linalg.cython_lapack cimport dgeqrt3, dlarfb, sgeqrt3, slarfb

from densekit._lib._activation_ops cimport bias_activate_row
from densekit._lib._activations cimport (
    ACT_LINEAR,
    ACT_LOG_SOFTMAX,
    ACT_N_CODES,
    ACT_SOFTMAX,
)

cnp.import_array()

cdef extern from "dk_openmp.h" nogil:
    int omp_get_thread_num()

cdef extern from "dk_dense.h" nogil:
    # x[rows, k] @ w[k, u] -> y[rows, u] for small kernels (src/dk_dense.c): the same bits
    # for any clone, row grouping or thread.
    void dk_dense_rows_f32(const float* x, const float* w, float* y,
                           Py_ssize_t rows, Py_ssize_t k, Py_ssize_t u)
    void dk_dense_rows_f64(const double* x, const double* w, double* y,
                           Py_ssize_t rows, Py_ssize_t k, Py_ssize_t u)
    # dst (cols, rows) := src (rows, cols) transposed, source rows [r0, r1), row i times
    # scale[i] unless scale is NULL (src/dk_dense.c).
    void dk_transpose_scale_f32(float* dst, const float* src, const float* scale,
                                Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t r0,
                                Py_ssize_t r1)
    void dk_transpose_scale_f64(double* dst, const double* src, const double* scale,
                                Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t r0,
                                Py_ssize_t r1)

cdef extern from "dk_gemm.h" nogil:
    # The float32 FMA product (src/dk_gemm.h): y := act(x @ w + bias), one fma per k in
    # k order for every output, for elementwise activation codes.
    ctypedef struct dk_gemm_args:
        const float* x
        const float* w
        const float* bias
        float* y
        Py_ssize_t m, k, n
        int code
        double p0, p1, p2
    int dk_gemm_level()
    int dk_gemm_tasks(int level, const dk_gemm_args* g, int n_threads)
    void dk_gemm_task_f32(int level, const dk_gemm_args* g, int task, int n_tasks)
    void dk_gemm_reference_f32(const dk_gemm_args* g)
    # The k pipeline of one row (src/dk_gemm.h): stages passing y along.
    ctypedef struct dk_gemm_progress:
        pass
    int dk_gemm_pipe_stages(int level, const dk_gemm_args* g, int n_threads)
    dk_gemm_progress* dk_gemm_progress_new(int n_stages)
    void dk_gemm_progress_free(dk_gemm_progress* p)
    void dk_gemm_pipe_stage_f32(int level, const dk_gemm_args* g, int stage, int n_stages,
                                dk_gemm_progress* p)

# The instruction set of the FMA product on this CPU (3 = AVX-512, 2 = AVX2), or 0: then
# float32 takes the BLAS / row-kernel paths of float64.
cdef int _fma_level = dk_gemm_level()
FMA_LEVEL = _fma_level


cdef inline void _fma_args(dk_gemm_args* g, const float* x, const float* w,
                           const float* bias, float* y, Py_ssize_t n, Py_ssize_t k,
                           Py_ssize_t u, int code, double p0, double p1,
                           double p2) noexcept nogil:
    g.x = x
    g.w = w
    g.bias = bias
    g.y = y
    g.m = n
    g.k = k
    g.n = u
    g.code = code
    g.p0 = p0
    g.p1 = p1
    g.p2 = p2


cdef bint _fma_pipeline(const dk_gemm_args* g, int level, int n_stages) noexcept nogil:
    """The product by the k pipeline of one row in n_stages stages, one per thread
    (dk_gemm.h); False, having done nothing, for fewer than 2 stages or when its
    progress counters cannot be had. Stage s waits only for stage s - 1 and static
    chunks of 1 hand each thread its stages in order, so a smaller team still
    completes them."""
    cdef dk_gemm_progress* prog
    cdef int t
    if n_stages < 2:
        return False
    prog = dk_gemm_progress_new(n_stages)
    if prog == NULL:
        return False
    for t in prange(n_stages, schedule='static', chunksize=1, num_threads=n_stages):
        dk_gemm_pipe_stage_f32(level, g, t, n_stages, prog)
    dk_gemm_progress_free(prog)
    return True


cdef void _fma_forward(const float* x, const float* w, const float* bias, float* y,
                       Py_ssize_t n, Py_ssize_t k, Py_ssize_t u,
                       int code, double p0, double p1, double p2,
                       int n_threads, int level) noexcept nogil:
    """y := act(x @ w + bias) by the FMA product at `level`, in n_threads tasks (a
    plain call for one). Row-wise codes (softmax, log_softmax) need whole rows: the
    product adds only the bias, then one pass over the rows applies them."""
    cdef dk_gemm_args g
    cdef int t, n_tasks
    cdef bint rowwise = code == ACT_SOFTMAX or code == ACT_LOG_SOFTMAX
    if n == 0 or u == 0:
        return
    _fma_args(&g, x, w, bias, y, n, k, u, ACT_LINEAR if rowwise else code, p0, p1, p2)
    if n_threads == 1:
        dk_gemm_task_f32(level, &g, 0, 1)
    elif not _fma_pipeline(&g, level, dk_gemm_pipe_stages(level, &g, n_threads)):
        # Disjoint blocks of y (dk_gemm_tasks: up to 4 per thread, taken dynamically, so
        # that a thread sharing its core takes fewer). The bits do not depend on them.
        n_tasks = dk_gemm_tasks(level, &g, n_threads)
        for t in prange(n_tasks, schedule='dynamic', num_threads=n_threads):
            dk_gemm_task_f32(level, &g, t, n_tasks)
    if rowwise:
        _bias_activate_2d(y, <const float*> NULL, n, u, code, p0, p1, p2, n_threads)


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
    if n_threads == 1:
        # A plain loop: even a one-thread prange enters a parallel region.
        for i in range(n):
            bias_activate_row(code, y + i * u, bias, u, p0, p1, p2)
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
        if _fma_level:
            _fma_forward(x, w, bias, y, rows, k, u, code, p0, p1, p2, 1, _fma_level)
            return
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
    if n_threads == 1:
        # The same 64-row blocks (the same bits) without any parallel region.
        for b in range(n_blocks):
            r0 = b * 64
            _small_rows(x + r0 * k, w, bias, y + r0 * u, min(64, n - r0), k, u,
                        code, p0, p1, p2)
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
    """out := act_code(x @ kernel + bias); the caller checked every shape. The
    training forward pass: small kernels as rows_forward, larger ones through BLAS
    (like the backward pass), so for float32 on an FMA CPU a large layer's training
    outputs may differ in the last bits from its calls and predict.

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
    if n == 0 or u == 0:
        return
    with nogil:
        if floating is float and k * u <= SMALL_KERNEL and _fma_level:
            # As in Dense calls and predict; a larger kernel keeps the BLAS forward: the
            # backward GEMMs are BLAS calls, and alternating BLAS's thread pool with
            # OpenMP's within each step costs more than the product gains (measured: the
            # MLP epoch of bench_train 1.87 s -> 2.67 s).
            _fma_forward(&x[0, 0], &kernel[0, 0], bptr, &out[0, 0], n, k, u,
                         code, p0, p1, p2, n_threads, _fma_level)
        elif k * u <= SMALL_KERNEL:
            _small_forward(&x[0, 0], &kernel[0, 0], bptr, &out[0, 0], n, k, u,
                           code, p0, p1, p2, n_threads)
        else:
            _gemm(&x[0, 0], &kernel[0, 0], &out[0, 0], n, k, ui)
            if bptr != NULL or code != ACT_LINEAR:
                _bias_activate_2d(&out[0, 0], bptr, n, u, code, p0, p1, p2, n_threads)


cdef inline void _mlp_block(Py_ssize_t b, const floating* x, floating* out, Py_ssize_t n,
                            const floating** kernels, const floating** biases,
                            const Py_ssize_t* dims, const int* codes, const double* params,
                            Py_ssize_t n_layers, Py_ssize_t block, Py_ssize_t width,
                            floating* buf) noexcept nogil:
    """Row block `b` through every layer, ping-ponging between the two halves of
    `buf` (2 * block * width values); the last layer writes into `out`."""
    cdef Py_ssize_t r0 = b * block, l
    cdef Py_ssize_t rows = n - r0 if n - r0 < block else block
    cdef const floating* src = x + r0 * dims[0]
    cdef floating* dst
    for l in range(n_layers):
        if l == n_layers - 1:
            dst = out + r0 * dims[n_layers]
        else:
            dst = buf + (l % 2) * block * width
        _small_rows(src, kernels[l], biases[l], dst, rows, dims[l], dims[l + 1], codes[l],
                    params[3 * l], params[3 * l + 1], params[3 * l + 2])
        src = dst


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
    cdef Py_ssize_t b
    cdef floating* buf
    cdef int failed[1]
    failed[0] = 0
    buf = NULL  # Cython makes buf firstprivate: give the copies a defined value
    if n_threads == 1:
        # No parallel region at all for one thread: the same blocks, in order.
        buf = <floating*> malloc(2 * block * width * sizeof(floating))
        if buf == NULL:
            return False
        for b in range(n_blocks):
            _mlp_block(b, x, out, n, kernels, biases, dims, codes, params, n_layers, block,
                       width, buf)
        free(buf)
        return True
    with parallel(num_threads=n_threads):
        buf = <floating*> malloc(2 * block * width * sizeof(floating))
        # Dynamic blocks: on a shared machine a descheduled thread does not hold
        # the others back (rows are independent, so results do not depend on it).
        for b in prange(n_blocks, schedule='dynamic'):
            if buf == NULL:
                failed[0] = 1  # an array element is shared; the caller raises
            else:
                _mlp_block(b, x, out, n, kernels, biases, dims, codes, params, n_layers,
                           block, width, buf)
        free(buf)
    return failed[0] == 0


def mlp_forward(cnp.ndarray x,             # IN (n, dims[0]) C-contiguous
                list kernels,              # IN L arrays (dims[l], dims[l+1])
                list biases,               # IN L arrays (dims[l+1],) or None
                cnp.ndarray codes,         # IN L fused activation codes (intc)
                cnp.ndarray params,        # IN 3L activation parameters (float64)
                cnp.ndarray out,           # OUT (n, dims[L]) C-contiguous
                Py_ssize_t block,
                int n_threads):
    """out := the stack of small Dense layers applied to x; every array is
    checked (C-contiguous, of x's dtype, chained in shape, kernels of at most
    SMALL_KERNEL values). The data pointers are read directly (no typed
    memoryviews): a call on one row costs well under a microsecond."""
    cdef Py_ssize_t L = len(kernels), l, width = 1
    cdef Py_ssize_t n
    cdef int t = _float_type(x)
    cdef cnp.ndarray wv, bv
    cdef const int* cp
    cdef bint ok = True
    cdef const void** kp
    cdef const void** bp
    cdef Py_ssize_t* dims
    if not (_is_c_float(x, t, 2) and _is_c_float(out, t, 2) and cnp.PyArray_ISWRITEABLE(out)
            and _is_c_float(codes, cnp.NPY_INT, 1) and _is_c_float(params, cnp.NPY_DOUBLE, 1)):
        raise ValueError("mlp_forward: x, out, codes or params has the wrong dtype or layout")
    n = cnp.PyArray_DIM(x, 0)
    kp = <const void**> malloc((L + 1) * sizeof(void*))
    bp = <const void**> malloc((L + 1) * sizeof(void*))
    dims = <Py_ssize_t*> malloc((L + 1) * sizeof(Py_ssize_t))
    if kp == NULL or bp == NULL or dims == NULL:
        free(kp); free(bp); free(dims)
        raise MemoryError()
    try:
        if (L == 0 or len(biases) != L or cnp.PyArray_DIM(codes, 0) != L
                or cnp.PyArray_DIM(params, 0) != 3 * L or block < 1):
            raise ValueError("mlp_forward: inconsistent layer lists")
        cp = <const int*> cnp.PyArray_DATA(codes)
        dims[0] = cnp.PyArray_DIM(x, 1)
        for l in range(L):
            wv = <cnp.ndarray?> kernels[l]
            if (not _is_c_float(wv, t, 2) or cnp.PyArray_DIM(wv, 0) != dims[l]
                    or cnp.PyArray_DIM(wv, 0) * cnp.PyArray_DIM(wv, 1) > SMALL_KERNEL):
                raise ValueError("mlp_forward: kernel shapes do not chain or are too large")
            kp[l] = cnp.PyArray_DATA(wv)
            dims[l + 1] = cnp.PyArray_DIM(wv, 1)
            if biases[l] is None:
                bp[l] = NULL
            else:
                bv = <cnp.ndarray?> biases[l]
                if not _is_c_float(bv, t, 1) or cnp.PyArray_DIM(bv, 0) != dims[l + 1]:
                    raise ValueError("mlp_forward: bias shape")
                bp[l] = cnp.PyArray_DATA(bv)
            if cp[l] < 0 or cp[l] >= ACT_N_CODES:
                raise ValueError("mlp_forward: unknown activation code")
            if l + 1 < L and dims[l + 1] > width:
                width = dims[l + 1]
        if cnp.PyArray_DIM(out, 0) != n or cnp.PyArray_DIM(out, 1) != dims[L]:
            raise ValueError("mlp_forward: out shape")
        if n_threads < 1:
            raise ValueError("mlp_forward: bad thread count")
        if n == 0:
            return True
        with nogil:
            if t == cnp.NPY_FLOAT:
                ok = _mlp_blocks(<const float*> cnp.PyArray_DATA(x),
                                 <float*> cnp.PyArray_DATA(out), n,
                                 <const float**> kp, <const float**> bp, dims, cp,
                                 <const double*> cnp.PyArray_DATA(params),
                                 L, block, width, n_threads)
            else:
                ok = _mlp_blocks(<const double*> cnp.PyArray_DATA(x),
                                 <double*> cnp.PyArray_DATA(out), n,
                                 <const double**> kp, <const double**> bp, dims, cp,
                                 <const double*> cnp.PyArray_DATA(params),
                                 L, block, width, n_threads)
    finally:
        free(kp)
        free(bp)
        free(dims)
    if not ok:
        raise MemoryError("could not allocate the per-thread row buffers")
    return True


# ---------------------------------------------------------------------------
# Latency entries for Dense.__call__ (src/densekit/layers/dense.py). They take
# ndarrays and read their data pointers directly: acquiring four typed
# memoryviews and dispatching a fused def costs a few microseconds, more than
# a whole 1x64 @ 64x64 layer. Each checks what a misuse could crash on.

cdef bint _is_c_float(cnp.ndarray a, int typenum, int ndim) noexcept:
    return (cnp.PyArray_TYPE(a) == typenum and cnp.PyArray_NDIM(a) == ndim
            and cnp.PyArray_IS_C_CONTIGUOUS(a))


cdef int _float_type(cnp.ndarray a) except -1:
    cdef int t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE:
        raise ValueError("dense kernels take float32 or float64 arrays")
    return t


def rows_forward(cnp.ndarray x,        # IN (n, k) C-contiguous
                 cnp.ndarray kernel,   # IN (k, u) C-contiguous
                 object bias,          # IN (u,) or None
                 cnp.ndarray out,      # OUT (n, u) C-contiguous, writeable
                 int code, double p0, double p1, double p2,
                 int n_threads):
    """out := act_code(x @ kernel + bias) without BLAS, the same bits as
    dense_forward for any thread count: by the FMA product for float32 when
    FMA_LEVEL is set (any kernel size), else by the direct row kernel (kernels
    of at most SMALL_KERNEL values)."""
    cdef int t = _float_type(x)
    cdef cnp.ndarray b
    cdef void* bptr = NULL
    cdef Py_ssize_t n, k, u
    if not (_is_c_float(x, t, 2) and _is_c_float(kernel, t, 2) and _is_c_float(out, t, 2)
            and cnp.PyArray_ISWRITEABLE(out)):
        raise ValueError("rows_forward: arrays must be C-contiguous 2-D of one float dtype")
    n = cnp.PyArray_DIM(x, 0)
    k = cnp.PyArray_DIM(x, 1)
    u = cnp.PyArray_DIM(kernel, 1)
    if (cnp.PyArray_DIM(kernel, 0) != k or cnp.PyArray_DIM(out, 0) != n
            or cnp.PyArray_DIM(out, 1) != u
            or (k * u > SMALL_KERNEL and not (t == cnp.NPY_FLOAT and _fma_level))):
        raise ValueError("rows_forward: inconsistent shapes")
    if code < 0 or code >= ACT_N_CODES or n_threads < 1:
        raise ValueError("rows_forward: unknown activation code or bad thread count")
    if bias is not None:
        b = <cnp.ndarray?> bias
        if not _is_c_float(b, t, 1) or cnp.PyArray_DIM(b, 0) != u:
            raise ValueError("rows_forward: bias shape or dtype")
        bptr = cnp.PyArray_DATA(b)
    if n == 0 or u == 0:
        return
    with nogil:
        if t == cnp.NPY_FLOAT and _fma_level:
            _fma_forward(<const float*> cnp.PyArray_DATA(x),
                         <const float*> cnp.PyArray_DATA(kernel), <const float*> bptr,
                         <float*> cnp.PyArray_DATA(out), n, k, u, code, p0, p1, p2,
                         n_threads, _fma_level)
        elif t == cnp.NPY_FLOAT:
            _small_forward(<const float*> cnp.PyArray_DATA(x),
                           <const float*> cnp.PyArray_DATA(kernel), <const float*> bptr,
                           <float*> cnp.PyArray_DATA(out), n, k, u, code, p0, p1, p2,
                           n_threads)
        else:
            _small_forward(<const double*> cnp.PyArray_DATA(x),
                           <const double*> cnp.PyArray_DATA(kernel), <const double*> bptr,
                           <double*> cnp.PyArray_DATA(out), n, k, u, code, p0, p1, p2,
                           n_threads)


def fma_product(const float[:, ::1] x, const float[:, ::1] kernel, object bias,
                float[:, ::1] out, int code, double p0, double p1, double p2, int level,
                int n_threads, bint reference=False, object pipeline=False):
    """For the tests: out := act_code(x @ kernel + bias) by the FMA product at
    `level` (a level this CPU has) in `n_threads` tasks, or by the scalar fmaf
    reference. Elementwise codes only. `pipeline`: True runs one row in the
    n_threads stages of the k pipeline (x of 1 row, at least n_threads rows of
    kernel), None where dk_gemm_pipe_stages takes it (as Dense does), False never."""
    cdef dk_gemm_args g
    cdef const float[::1] b
    cdef const float* bptr = NULL
    cdef int t
    if (kernel.shape[0] != x.shape[1] or out.shape[0] != x.shape[0]
            or out.shape[1] != kernel.shape[1]):
        raise ValueError("fma_product: inconsistent shapes")
    if level not in (2, 3) or level > _fma_level or n_threads < 1:
        raise ValueError(f"fma_product: level {level} is not available (FMA_LEVEL={_fma_level})")
    if code < 0 or code >= ACT_SOFTMAX:
        raise ValueError("fma_product: elementwise codes only")
    if bias is not None:
        b = bias
        if b.shape[0] != kernel.shape[1]:
            raise ValueError("fma_product: bias shape")
        if b.shape[0]:
            bptr = &b[0]
    if pipeline is True and (n_threads < 2 or x.shape[0] != 1 or x.shape[1] < n_threads):
        raise ValueError("fma_product: the pipeline takes 1 row, 2+ threads, k >= threads")
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    _fma_args(&g, &x[0, 0] if x.shape[1] else NULL, &kernel[0, 0] if x.shape[1] else NULL,
              bptr, &out[0, 0], x.shape[0], x.shape[1], kernel.shape[1], code, p0, p1, p2)
    cdef int stages = 0
    if pipeline is True:
        stages = n_threads
    elif pipeline is None and n_threads > 1:
        stages = dk_gemm_pipe_stages(level, &g, n_threads)
    with nogil:
        if reference:
            dk_gemm_reference_f32(&g)
        elif n_threads == 1:
            dk_gemm_task_f32(level, &g, 0, 1)
        elif _fma_pipeline(&g, level, stages):
            pass
        else:
            # n_threads tasks exactly (not dk_gemm_tasks): the tests pick odd splits
            for t in prange(n_threads, schedule='dynamic', num_threads=n_threads):
                dk_gemm_task_f32(level, &g, t, n_threads)


def bias_activate(cnp.ndarray y,     # IN/OUT (n, u) C-contiguous, writeable
                  object bias,       # IN (u,) or None
                  int code, double p0, double p1, double p2,
                  int n_threads):
    """y := act_code(y + bias) in place, row by row (one row on one thread, so
    the bits do not depend on the thread count); a plain loop for one thread."""
    cdef int t = _float_type(y)
    cdef cnp.ndarray b
    cdef void* bptr = NULL
    cdef Py_ssize_t n, u
    if not (_is_c_float(y, t, 2) and cnp.PyArray_ISWRITEABLE(y)):
        raise ValueError("bias_activate: y must be a writeable C-contiguous 2-D float array")
    if code < 0 or code >= ACT_N_CODES or n_threads < 1:
        raise ValueError("bias_activate: unknown activation code or bad thread count")
    n = cnp.PyArray_DIM(y, 0)
    u = cnp.PyArray_DIM(y, 1)
    if bias is not None:
        b = <cnp.ndarray?> bias
        if not _is_c_float(b, t, 1) or cnp.PyArray_DIM(b, 0) != u:
            raise ValueError("bias_activate: bias shape or dtype")
        bptr = cnp.PyArray_DATA(b)
    if bptr == NULL and code == ACT_LINEAR:
        return
    with nogil:
        if t == cnp.NPY_FLOAT:
            _bias_activate_2d(<float*> cnp.PyArray_DATA(y), <const float*> bptr, n, u,
                              code, p0, p1, p2, n_threads)
        else:
            _bias_activate_2d(<double*> cnp.PyArray_DATA(y), <const double*> bptr, n, u,
                              code, p0, p1, p2, n_threads)


# ---------------------------------------------------------------------------
# The QR factor of Orthogonal (densekit/initializers/random_initializers.py).

cdef inline void _transpose_rows(floating* dst, const floating* src, const floating* scale,
                                 Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t r0,
                                 Py_ssize_t r1) noexcept nogil:
    if floating is float:
        dk_transpose_scale_f32(dst, src, scale, rows, cols, r0, r1)
    else:
        dk_transpose_scale_f64(dst, src, scale, rows, cols, r0, r1)


def transpose_scale(const floating[:, ::1] src,     # IN (rows, cols)
                    floating[:, ::1] dst,           # OUT (cols, rows)
                    const floating[::1] scale,      # IN (rows,) or None
                    int n_threads):
    """dst := (src * scale[:, None]).T (or src.T when scale is None), in cache
    tiles, blocks of 256 source rows split between `n_threads` threads."""
    cdef Py_ssize_t rows = src.shape[0], cols = src.shape[1], b, n_blocks
    cdef const floating* sp = NULL
    if dst.shape[0] != cols or dst.shape[1] != rows:
        raise ValueError("transpose_scale: dst must have the transposed shape")
    if scale is not None:
        if scale.shape[0] != rows:
            raise ValueError("transpose_scale: scale must have one value per source row")
        if rows:
            sp = &scale[0]
    if rows == 0 or cols == 0:
        return
    n_blocks = (rows + 255) // 256
    if n_threads <= 1 or n_blocks == 1:
        # A plain call: even a one-thread prange enters a parallel region.
        with nogil:
            _transpose_rows(&dst[0, 0], &src[0, 0], sp, rows, cols, 0, rows)
        return
    for b in prange(n_blocks, nogil=True, schedule='static', num_threads=n_threads):
        _transpose_rows(&dst[0, 0], &src[0, 0], sp, rows, cols, b * 256,
                        min(rows, (b + 1) * 256))


# Block size of the QR: LAPACK's own ?geqrf/?orgqr use 32 (ilaenv), which makes
# a 2048^2 QR thousands of small BLAS calls; 128 with the recursive panel of
# ?geqrt3 keeps most of the flops in large GEMMs (measured on 2048^2 float32,
# LAPACK's ?geqrt + ?gemqrt: nb=32 0.34 s, 64 0.27 s, 128 0.23 s, 256 0.24 s).
QR_BLOCK = 128
# Columns per task of the trailing updates: a fixed partition (as every densekit
# kernel's), so that each BLAS call, and hence every bit of Q, is the same
# whatever the number of threads that share the tasks.
DEF QR_TASK_COLS = 256


cdef inline void _larfb_cols(floating* v, int ldv, int mi, int ib, floating* t, int ldt,
                             floating* c, int ldc, int ncols, bint transpose,
                             floating* work, int n_threads) noexcept nogil:
    """C[:, :ncols] := H C (or H^T C) with H = I - V T V^T of `ib` reflectors,
    in QR_TASK_COLS-column tasks shared by `n_threads` threads."""
    cdef int n_tasks = (ncols + QR_TASK_COLS - 1) // QR_TASK_COLS, task, c0, cn, tid
    cdef char side = b'L', direct = b'F', storev = b'C'
    cdef char trans = b'T' if transpose else b'N'
    if ncols <= 0:
        return
    if n_threads > n_tasks:
        n_threads = n_tasks
    for task in prange(n_tasks, schedule='static', num_threads=n_threads):
        tid = omp_get_thread_num()
        c0 = task * QR_TASK_COLS
        cn = ncols - c0 if ncols - c0 < QR_TASK_COLS else QR_TASK_COLS
        if floating is float:
            slarfb(&side, &trans, &direct, &storev, &mi, &cn, &ib, v, &ldv, t, &ldt,
                   c + <size_t> c0 * ldc, &ldc, work + <size_t> tid * QR_TASK_COLS * ldt, &cn)
        else:
            dlarfb(&side, &trans, &direct, &storev, &mi, &cn, &ib, v, &ldv, t, &ldt,
                   c + <size_t> c0 * ldc, &ldc, work + <size_t> tid * QR_TASK_COLS * ldt, &cn)


def orthonormalize_columns(floating[:, ::1] at,   # IN/OUT (n, m), m >= n: A^T -> Q^T
                           floating[::1] diag,    # OUT (n,) diag(R)
                           int n_threads):
    """Q of A = Q R in place, where the C-ordered (n, m) `at` is the
    Fortran-ordered (m, n) A; diag := diag(R).

    Blocked Householder QR as LAPACK's ?geqrt does it (each panel of QR_BLOCK
    columns by the recursive ?geqrt3, its T factor kept), then Q formed in
    place as ?orgqr does, from the last block back, each block applied by
    ?larfb to [I; 0] and the columns already formed: every step but the
    panels is a large GEMM. The trailing updates are split into fixed column
    tasks shared by `n_threads` threads, each calling BLAS on one thread (the
    caller holds scipy's OpenBLAS to one thread), so the bits do not depend
    on the thread count. Returns LAPACK's info (0 on success)."""
    cdef int n = <int> at.shape[0], m = <int> at.shape[1], nb, info = 0
    cdef int i, ib, mi, c
    cdef floating* a
    cdef floating* t
    cdef floating* work
    cdef floating* vs
    if at.shape[1] < at.shape[0] or diag.shape[0] != at.shape[0]:
        raise ValueError("orthonormalize_columns: needs m >= n and diag of n values")
    if at.shape[1] > 2147483647 or at.shape[0] == 0:
        raise ValueError("orthonormalize_columns: sizes must be positive C ints")
    if n_threads < 1:
        raise ValueError("orthonormalize_columns: n_threads must be positive")
    nb = QR_BLOCK if n > QR_BLOCK else n
    a = &at[0, 0]
    # T (nb x n), the ?larfb work of each thread (QR_TASK_COLS x nb), one block's V (m x nb).
    t = <floating*> malloc((<size_t> nb * n + <size_t> n_threads * QR_TASK_COLS * nb
                            + <size_t> m * nb) * sizeof(floating))
    if t == NULL:
        raise MemoryError()
    work = t + <size_t> nb * n
    vs = work + <size_t> n_threads * QR_TASK_COLS * nb
    with nogil:
        i = 0
        while i < n and info == 0:
            ib = n - i if n - i < nb else nb
            mi = m - i
            if floating is float:
                sgeqrt3(&mi, &ib, a + <size_t> i * m + i, &m, t + <size_t> i * nb, &nb, &info)
            else:
                dgeqrt3(&mi, &ib, a + <size_t> i * m + i, &m, t + <size_t> i * nb, &nb, &info)
            # A[i:, i+ib:] := H^T A[i:, i+ib:]
            _larfb_cols(a + <size_t> i * m + i, m, mi, ib, t + <size_t> i * nb, nb,
                        a + <size_t> (i + ib) * m + i, m, n - i - ib, True, work, n_threads)
            i += nb
        if info == 0:
            for c in range(n):
                diag[c] = a[<size_t> c * m + c]
            i = ((n - 1) // nb) * nb
            while i >= 0:
                ib = n - i if n - i < nb else nb
                mi = m - i
                # This block's reflectors V = A[i:, i:i+ib] (unit lower trapezoid),
                # then its columns become [0; I; 0] and H_i..H_last apply to A[i:, i:].
                for c in range(ib):
                    memcpy(vs + <size_t> c * mi, a + <size_t> (i + c) * m + i,
                           <size_t> mi * sizeof(floating))
                    memset(a + <size_t> (i + c) * m, 0, <size_t> m * sizeof(floating))
                    a[<size_t> (i + c) * m + i + c] = 1
                _larfb_cols(vs, mi, mi, ib, t + <size_t> i * nb, nb, a + <size_t> i * m + i, m,
                            n - i, False, work, n_threads)
                i -= nb
    free(t)
    return info


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
