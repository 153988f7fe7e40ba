"""Loss values and gradients: one pass per row, float64 arithmetic, thread-count independent.

Every loss is a per-row value (a mean or sum over the last axis, or a row-wise
formula such as a log-softmax) followed by a weighted sum over rows. Rows are
split between threads (static schedule); each row is computed by exactly one
thread with a serial inner loop, its value goes to its own slot, and the slots
are added afterwards in row order on the calling thread. The value and the
gradient are therefore bit-identical for every `n_threads`. Inputs below
SERIAL_BELOW elements run on the calling thread without an OpenMP region.

Element values are computed in float64 from the stored (float32 or float64)
inputs; Keras' clipping bounds (epsilon = 1e-7) are rounded to the input dtype
first, so that saturated terms equal Keras' exactly.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, expm1, fabs, log, log1p, sqrt, tanh, INFINITY
from libc.stdlib cimport free, malloc

cdef double EPSILON = 1e-7

# Below this many elements a call runs on the calling thread, with no OpenMP region:
# waking a team costs more than the work.
cdef enum:
    _SERIAL_BELOW = 16384

SERIAL_BELOW = _SERIAL_BELOW


cpdef enum Elementwise:
    # mean over the last axis of f(t, p) unless noted
    MSE = 0
    MAE = 1
    MAPE = 2
    MSLE = 3
    HUBER = 4           # param = delta
    LOG_COSH = 5
    BCE = 6             # probabilities; param = label_smoothing
    BCE_LOGITS = 7      # logits; param = label_smoothing
    BCE_SIGMOID = 8     # logits in, Keras' value on clip(sigmoid(x)); param = label_smoothing
    HINGE = 9           # param = 1.0: labels in {0, 1} are mapped to {-1, 1}
    SQUARED_HINGE = 10  # param as HINGE
    POISSON = 11
    KLD = 12            # sum over the last axis


cpdef enum Rowwise:
    CCE = 0             # probabilities; param = label_smoothing
    CCE_LOGITS = 1      # logits; param = label_smoothing
    CCE_SOFTMAX = 2     # logits in, Keras' value on clip(softmax(x)); param = label_smoothing
    CATEGORICAL_HINGE = 3
    COSINE = 4          # -cos(t, p), Keras' normalisation bound 1/epsilon


cpdef enum Sparse:
    SCCE = 0            # probabilities
    SCCE_LOGITS = 1     # logits
    SCCE_SOFTMAX = 2    # logits in, Keras' value on clip(softmax(x))


cdef inline double _sign(double v) noexcept nogil:
    if v > 0:
        return 1.0
    if v < 0:
        return -1.0
    return 0.0


cdef inline double _softplus(double x) noexcept nogil:
    """log(1 + exp(x)) without overflow."""
    if x > 0:
        return x + log1p(exp(-x))
    return log1p(exp(x))


cdef inline double _sigmoid(double x) noexcept nogil:
    cdef double e
    if x >= 0:
        return 1.0 / (1.0 + exp(-x))
    e = exp(x)
    return e / (1.0 + e)


cdef inline double _keras_sigmoid(floating x) noexcept nogil:
    """The probability Keras' jax backend stores: 1 / (1 + exp(-x)) evaluated in the
    input dtype (XLA's float32 logistic on CPU). Near 1, float32 keeps only a few
    digits of 1 - p; reproducing that rounding reproduces Keras' loss value."""
    cdef float fx, fe
    if floating is float:
        fx = x
        fe = expf(-fx)
        return <double>(<float>1.0 / (<float>1.0 + fe))
    else:
        return 1.0 / (1.0 + exp(-x))


cdef inline double _clip(double v, double lo, double hi) noexcept nogil:
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


cdef double _elementwise_row(int kind, const floating* t, const floating* p, Py_ssize_t n,
                             double param, double lo, double hi, double c,
                             floating* g) noexcept nogil:
    """Row value (mean, or sum for KLD, of the element terms); if g: g[j] := c * d(value)/dp[j].

    lo, hi: epsilon and 1 - epsilon rounded to the input dtype.
    """
    cdef Py_ssize_t j
    cdef double acc = 0.0, tj, pj, x, a, b, o, om, s, q, tc, pc
    cdef double inv = 1.0 / n if n > 0 else 0.0
    cdef double gc = c * inv
    cdef double ls = param, ls_half = 0.5 * param
    if kind == MSE:
        for j in range(n):
            x = <double>p[j] - <double>t[j]
            acc += x * x
            if g:
                g[j] = <floating>(gc * 2.0 * x)
    elif kind == MAE:
        for j in range(n):
            x = <double>p[j] - <double>t[j]
            acc += fabs(x)
            if g:
                g[j] = <floating>(gc * _sign(x))
    elif kind == MAPE:
        for j in range(n):
            tj = t[j]
            x = <double>p[j] - tj
            a = fabs(tj)
            if a < lo:
                a = lo
            acc += 100.0 * fabs(x) / a
            if g:
                g[j] = <floating>(gc * 100.0 * _sign(x) / a)
    elif kind == MSLE:
        for j in range(n):
            pj = p[j]
            tj = t[j]
            a = log1p(pj if pj > lo else lo)
            b = log1p(tj if tj > lo else lo)
            acc += (a - b) * (a - b)
            if g:
                g[j] = <floating>(gc * 2.0 * (a - b) / (1.0 + pj) if pj > lo else 0.0)
    elif kind == HUBER:
        for j in range(n):
            x = <double>p[j] - <double>t[j]
            a = fabs(x)
            if a <= param:
                acc += 0.5 * x * x
                if g:
                    g[j] = <floating>(gc * x)
            else:
                acc += param * a - 0.5 * param * param
                if g:
                    g[j] = <floating>(gc * param * _sign(x))
    elif kind == LOG_COSH:
        for j in range(n):
            x = <double>p[j] - <double>t[j]
            a = fabs(x)
            # log(cosh(x)) = |x| + log1p(exp(-2|x|)) - log(2), stable for large |x|
            acc += a + log1p(exp(-2.0 * a)) - 0.6931471805599453
            if g:
                g[j] = <floating>(gc * tanh(x))
    elif kind == BCE:
        for j in range(n):
            tj = <double>t[j] * (1.0 - ls) + ls_half
            pj = p[j]
            o = _clip(pj, lo, hi)
            om = <double><floating>(1.0 - o)  # Keras forms 1 - output in the input dtype
            acc -= tj * log(o) + (1.0 - tj) * log(om)
            if g:
                g[j] = <floating>(gc * ((1.0 - tj) / om - tj / o) if lo < pj < hi else 0.0)
    elif kind == BCE_LOGITS:
        for j in range(n):
            tj = <double>t[j] * (1.0 - ls) + ls_half
            x = p[j]
            acc += tj * _softplus(-x) + (1.0 - tj) * _softplus(x)
            if g:
                g[j] = <floating>(gc * (_sigmoid(x) - tj))
    elif kind == BCE_SIGMOID:
        for j in range(n):
            tj = <double>t[j] * (1.0 - ls) + ls_half
            s = _sigmoid(<double>p[j])
            q = _keras_sigmoid(p[j])
            o = _clip(q, lo, hi)
            om = <double><floating>(1.0 - o)
            acc -= tj * log(o) + (1.0 - tj) * log(om)
            if g:
                g[j] = <floating>(gc * (s - tj) if lo < q < hi else 0.0)
    elif kind == HINGE or kind == SQUARED_HINGE:
        for j in range(n):
            tj = t[j]
            if param != 0.0:
                tj = 2.0 * tj - 1.0
            a = 1.0 - tj * <double>p[j]
            if a > 0.0:
                if kind == HINGE:
                    acc += a
                    if g:
                        g[j] = <floating>(-gc * tj)
                else:
                    acc += a * a
                    if g:
                        g[j] = <floating>(-gc * 2.0 * tj * a)
            elif g:
                g[j] = 0
    elif kind == POISSON:
        for j in range(n):
            tj = t[j]
            pj = p[j]
            acc += pj - tj * log(pj + lo)
            if g:
                g[j] = <floating>(gc * (1.0 - tj / (pj + lo)))
    elif kind == KLD:
        gc = c
        for j in range(n):
            tc = _clip(<double>t[j], lo, 1.0)
            pj = p[j]
            pc = _clip(pj, lo, 1.0)
            acc += tc * log(tc / pc)
            if g:
                g[j] = <floating>(-gc * tc / pc if lo < pj < 1.0 else 0.0)
        return acc
    return acc * inv


cdef double _rowwise_row(int kind, const floating* t, const floating* p, Py_ssize_t n,
                         double param, double lo, double hi, double inv_eps, double c,
                         floating* g) noexcept nogil:
    """Row value of a row-wise loss; if g: g[j] := c * d(value)/dp[j]."""
    cdef Py_ssize_t j, jmax
    cdef double acc = 0.0, S, tj, o, oc, m, se, lse, lp, pj, T, gdot
    cdef double pos, neg, v, qt, qp, rt, rp, d
    cdef double ls = param
    cdef double smooth = param / n if n > 0 else 0.0
    if kind == CCE:
        S = 0.0
        for j in range(n):
            S += p[j]
        gdot = 0.0
        for j in range(n):
            tj = <double>t[j] * (1.0 - ls) + smooth
            o = <double>p[j] / S
            oc = <double><floating>o  # Keras normalises in the input dtype
            if lo < oc < hi:
                gdot -= tj  # sum_j d(value)/d(o_j) * o_j
            acc -= tj * log(_clip(oc, lo, hi))
        if g:
            # through o = p / sum(p): d/dp_k = (d/do_k - sum_j d/do_j * o_j) / S
            for j in range(n):
                tj = <double>t[j] * (1.0 - ls) + smooth
                o = <double>p[j] / S
                oc = <double><floating>o
                v = -tj / o if lo < oc < hi else 0.0
                g[j] = <floating>(c * (v - gdot) / S)
        return acc
    if kind == CCE_LOGITS or kind == CCE_SOFTMAX:
        m = -INFINITY
        for j in range(n):
            if p[j] > m:
                m = p[j]
        se = 0.0
        if g:
            # keep exp(x - m) in g: one exp per element for value and gradient
            for j in range(n):
                pj = exp(<double>p[j] - m)
                se += pj
                g[j] = <floating>pj
        else:
            for j in range(n):
                se += exp(<double>p[j] - m)
        lse = m + log(se)
        T = 0.0
        for j in range(n):
            tj = <double>t[j] * (1.0 - ls) + smooth
            if tj == 0.0:
                continue
            lp = <double>p[j] - lse
            if kind == CCE_SOFTMAX:
                # Keras: -t * log(clip(softmax(x))); clip(log p) = log(clip(p)).
                oc = <double><floating>exp(lp)
                if oc <= lo:
                    lp = log(lo)
                elif oc >= hi:
                    lp = log(hi)
                else:
                    T += tj
            else:
                T += tj
            acc -= tj * lp
        if g:
            for j in range(n):
                tj = <double>t[j] * (1.0 - ls) + smooth
                if kind == CCE_SOFTMAX and tj != 0.0:
                    oc = <double><floating>exp(<double>p[j] - lse)
                    if oc <= lo or oc >= hi:
                        tj = 0.0  # a clipped probability has no gradient
                g[j] = <floating>(c * ((<double>g[j] / se) * T - tj))
        return acc
    if kind == CATEGORICAL_HINGE:
        pos = 0.0
        neg = -INFINITY
        jmax = 0
        for j in range(n):
            pos += <double>t[j] * <double>p[j]
            v = (1.0 - <double>t[j]) * <double>p[j]
            if v > neg:
                neg = v
                jmax = j
        v = neg - pos + 1.0
        if g:
            for j in range(n):
                g[j] = <floating>(-c * <double>t[j] if v > 0 else 0.0)
            if v > 0 and n > 0:
                g[jmax] = <floating>(<double>g[jmax] + c * (1.0 - <double>t[jmax]))
        return v if v > 0 else 0.0
    if kind == COSINE:
        qt = 0.0
        qp = 0.0
        for j in range(n):
            qt += <double>t[j] * <double>t[j]
            qp += <double>p[j] * <double>p[j]
        rt = 1.0 / sqrt(qt) if qt > 0 else INFINITY
        rp = 1.0 / sqrt(qp) if qp > 0 else INFINITY
        if rt > inv_eps:
            rt = inv_eps
        d = 0.0
        for j in range(n):
            d += <double>t[j] * rt * <double>p[j]
        if g:
            for j in range(n):
                if rp < inv_eps:
                    g[j] = <floating>(-c * (<double>t[j] * rt * rp - d * rp * rp * rp * <double>p[j]))
                else:
                    g[j] = <floating>(-c * <double>t[j] * rt * inv_eps)
        if rp > inv_eps:
            rp = inv_eps
        return -d * rp
    return 0.0


cdef double _sparse_row(int kind, long long y, const floating* p, Py_ssize_t n,
                        double lo, double hi, double c, floating* g) noexcept nogil:
    """Row value of sparse categorical crossentropy for label y (y < 0: a masked row, 0)."""
    cdef Py_ssize_t j
    cdef double S, o, oq, m, se, lse, lp, pj
    cdef bint clipped
    if y < 0:
        if g:
            for j in range(n):
                g[j] = 0
        return 0.0
    if kind == SCCE:
        S = 0.0
        for j in range(n):
            S += p[j]
        o = <double>p[y] / S
        oq = <double><floating>o
        if g:
            for j in range(n):
                if lo < oq < hi:
                    g[j] = <floating>(c * ((1.0 - (1.0 / o if j == y else 0.0)) / S))
                else:
                    g[j] = 0
        return -log(_clip(oq, lo, hi))
    m = -INFINITY
    for j in range(n):
        if p[j] > m:
            m = p[j]
    se = 0.0
    if g:
        for j in range(n):  # keep exp(x - m) in g, as in _rowwise_row
            pj = exp(<double>p[j] - m)
            se += pj
            g[j] = <floating>pj
    else:
        for j in range(n):
            se += exp(<double>p[j] - m)
    lse = m + log(se)
    lp = <double>p[y] - lse
    clipped = False
    if kind == SCCE_SOFTMAX:
        oq = <double><floating>exp(lp)
        if oq <= lo:
            lp = log(lo)
            clipped = True
        elif oq >= hi:
            lp = log(hi)
            clipped = True
    if g:
        for j in range(n):
            if clipped:
                g[j] = 0
            else:
                g[j] = <floating>(c * (<double>g[j] / se - (1.0 if j == y else 0.0)))
    return -lp


cdef inline double _bounds(floating dummy, double* lo, double* hi, double* inv_eps) noexcept nogil:
    """epsilon, 1 - epsilon and 1 / epsilon as Keras has them in the input dtype."""
    lo[0] = <double><floating>EPSILON
    hi[0] = <double><floating>(1.0 - EPSILON)
    inv_eps[0] = <double><floating>(1.0 / EPSILON)
    return 0.0


cdef double _ordered_sum(const double* v, const double* w, Py_ssize_t n) noexcept nogil:
    """sum_i w[i] * v[i] (w NULL: weights 1), in row order."""
    cdef double s = 0.0
    cdef Py_ssize_t i
    if w:
        for i in range(n):
            s += w[i] * v[i]
    else:
        for i in range(n):
            s += v[i]
    return s


def elementwise(int kind, const floating[:, ::1] y_true, const floating[:, ::1] y_pred,
                double param, const double[::1] weights, double scale,
                floating[::1] values, floating[:, ::1] grad, int n_threads):
    """Element losses (Elementwise codes) of equally shaped 2-D arrays.

    values[i] (IN/OUT, may be None) := row value; grad (OUT, may be None) := scale *
    weights[i] * d(row value)/d(y_pred); returns sum_i weights[i] * value[i] (weights
    None: 1), unscaled.
    """
    cdef Py_ssize_t n_rows = y_pred.shape[0], n_cols = y_pred.shape[1], i
    cdef double lo, hi, inv_eps, total
    cdef const double* w = NULL
    cdef bint want_grad = grad is not None, want_values = values is not None
    cdef double* vbuf
    if n_rows == 0:
        return 0.0
    if weights is not None:
        w = &weights[0]
    _bounds(<floating>0, &lo, &hi, &inv_eps)
    vbuf = <double*>malloc(n_rows * sizeof(double))
    if vbuf == NULL:
        raise MemoryError()
    with nogil:
        if n_rows * n_cols < _SERIAL_BELOW or n_threads <= 1:
            for i in range(n_rows):
                vbuf[i] = _elementwise_row(
                    kind, &y_true[i, 0] if n_cols else NULL, &y_pred[i, 0] if n_cols else NULL,
                    n_cols, param, lo, hi, scale * (w[i] if w else 1.0),
                    &grad[i, 0] if want_grad and n_cols else NULL)
        else:
            for i in prange(n_rows, schedule='static', num_threads=n_threads):
                vbuf[i] = _elementwise_row(
                    kind, &y_true[i, 0], &y_pred[i, 0], n_cols, param, lo, hi,
                    scale * (w[i] if w else 1.0), &grad[i, 0] if want_grad else NULL)
        total = _ordered_sum(vbuf, w, n_rows)
        if want_values:
            for i in range(n_rows):
                values[i] = <floating>vbuf[i]
    free(vbuf)
    return total


def rowwise(int kind, const floating[:, ::1] y_true, const floating[:, ::1] y_pred,
            double param, const double[::1] weights, double scale,
            floating[::1] values, floating[:, ::1] grad, int n_threads):
    """Row-wise losses (Rowwise codes) over the last axis; arguments as `elementwise`."""
    cdef Py_ssize_t n_rows = y_pred.shape[0], n_cols = y_pred.shape[1], i
    cdef double lo, hi, inv_eps, total
    cdef const double* w = NULL
    cdef bint want_grad = grad is not None, want_values = values is not None
    cdef double* vbuf
    if n_rows == 0:
        return 0.0
    if weights is not None:
        w = &weights[0]
    _bounds(<floating>0, &lo, &hi, &inv_eps)
    vbuf = <double*>malloc(n_rows * sizeof(double))
    if vbuf == NULL:
        raise MemoryError()
    with nogil:
        if n_rows * n_cols < _SERIAL_BELOW or n_threads <= 1:
            for i in range(n_rows):
                vbuf[i] = _rowwise_row(
                    kind, &y_true[i, 0] if n_cols else NULL, &y_pred[i, 0] if n_cols else NULL,
                    n_cols, param, lo, hi, inv_eps, scale * (w[i] if w else 1.0),
                    &grad[i, 0] if want_grad and n_cols else NULL)
        else:
            for i in prange(n_rows, schedule='static', num_threads=n_threads):
                vbuf[i] = _rowwise_row(
                    kind, &y_true[i, 0], &y_pred[i, 0], n_cols, param, lo, hi, inv_eps,
                    scale * (w[i] if w else 1.0), &grad[i, 0] if want_grad else NULL)
        total = _ordered_sum(vbuf, w, n_rows)
        if want_values:
            for i in range(n_rows):
                values[i] = <floating>vbuf[i]
    free(vbuf)
    return total


def sparse(int kind, const long long[::1] labels, const floating[:, ::1] y_pred,
           const double[::1] weights, double scale,
           floating[::1] values, floating[:, ::1] grad, int n_threads):
    """Sparse categorical crossentropy (Sparse codes); labels[i] in [0, n_cols), or < 0
    for a masked row (value 0, gradient 0). Other arguments as `elementwise`."""
    cdef Py_ssize_t n_rows = y_pred.shape[0], n_cols = y_pred.shape[1], i
    cdef double lo, hi, inv_eps, total
    cdef const double* w = NULL
    cdef bint want_grad = grad is not None, want_values = values is not None
    cdef double* vbuf
    if n_rows == 0:
        return 0.0
    if weights is not None:
        w = &weights[0]
    _bounds(<floating>0, &lo, &hi, &inv_eps)
    vbuf = <double*>malloc(n_rows * sizeof(double))
    if vbuf == NULL:
        raise MemoryError()
    with nogil:
        if n_rows * n_cols < _SERIAL_BELOW or n_threads <= 1:
            for i in range(n_rows):
                vbuf[i] = _sparse_row(
                    kind, labels[i], &y_pred[i, 0], n_cols, lo, hi,
                    scale * (w[i] if w else 1.0), &grad[i, 0] if want_grad else NULL)
        else:
            for i in prange(n_rows, schedule='static', num_threads=n_threads):
                vbuf[i] = _sparse_row(
                    kind, labels[i], &y_pred[i, 0], n_cols, lo, hi,
                    scale * (w[i] if w else 1.0), &grad[i, 0] if want_grad else NULL)
        total = _ordered_sum(vbuf, w, n_rows)
        if want_values:
            for i in range(n_rows):
                values[i] = <floating>vbuf[i]
    free(vbuf)
    return total


def first_bad_label(const long long[::1] labels, Py_ssize_t n_classes, bint allow_masked):
    """Index of the first label outside [0, n_classes) (-1 allowed as the mask marker
    if `allow_masked`), or -1 when all are valid."""
    cdef Py_ssize_t i, bad = -1
    cdef long long lo = -1 if allow_masked else 0
    with nogil:
        for i in range(labels.shape[0]):
            if labels[i] < lo or labels[i] >= n_classes:
                bad = i
                break
    return bad


def all_binary(const floating[::1] x):
    """True if every x[i] is 0 or 1 (Keras' hinge label check)."""
    cdef Py_ssize_t i
    cdef bint ok = True
    with nogil:
        for i in range(x.shape[0]):
            if x[i] != 0 and x[i] != 1:
                ok = False
                break
    return ok
