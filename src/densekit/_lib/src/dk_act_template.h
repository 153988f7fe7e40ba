/* The float32/float64 twins of dk_activations.c, written once. Included by dk_activations.c
 * once per type, with (undefined again at the end):
 *   DK_T         float or double              DK_S         f32 or f64 (name infix/suffix)
 *   DK_IS_F32    1 for float                  DK_VF, DK_VI DK_VLANES-lane float/int vectors
 *   DK_SIGMOID   sigmoid in DK_T arithmetic   DK_SIGMOIDD  sigmoid in double
 *   DK_EXPD      exp in double                DK_EXP2      exp(x + dx) for x <= 0, in DK_T
 * No include guard: that is the point. */

#define DK_PASTE3_(a, b, c) a##b##c
#define DK_PASTE3(a, b, c) DK_PASTE3_(a, b, c)
#define DK_F(name) DK_PASTE3(dk_, DK_S, _##name)   /* dk_f32_name: internal loops */
#define DK_PUB(name) DK_PASTE3(dk_##name, _, DK_S) /* dk_name_f32: dk_activations.h */

DK_NO_TRAPPING_BEGIN

/* ---- vectorized loops ------------------------------------------------------------------- */

DK_CLONES static void DK_F(sigmoid)(const DK_T *x, DK_T *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++)
        y[j] = DK_SIGMOID(x[j]);
}

DK_CLONES static void DK_F(silu)(const DK_T *x, DK_T *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        DK_T v = x[j];
        DK_T g = DK_SIGMOID(v);
        DK_T v0 = g == 0 ? 0 : v;   /* -inf * 0 -> the limit 0 */
        y[j] = v0 * g;
    }
}

/* 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). */
DK_CLONES static void DK_F(gelu_tanh)(const DK_T *x, DK_T *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        double v = x[j];
        double u = 0.79788456080286535588 * (v + 0.044715 * (v * v * v));
        y[j] = (DK_T)dk_gated(v, DK_SIGMOIDD(2.0 * u));
    }
}

DK_CLONES static void DK_F(exp)(const DK_T *x, DK_T *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++)
        y[j] = (DK_T)DK_EXPD((double)x[j]);
}

DK_CLONES static void DK_F(softplus)(const DK_T *x, DK_T *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++)
        y[j] = (DK_T)dk_softplus_d((double)x[j]);
}

DK_CLONES static void DK_F(log_sigmoid)(const DK_T *x, DK_T *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++)
        y[j] = (DK_T)dk_log_sigmoid_d((double)x[j]);
}

DK_CLONES static void DK_F(mish)(const DK_T *x, DK_T *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++)
        y[j] = (DK_T)dk_mish_d((double)x[j]);
}

/* ---- softmax pieces --------------------------------------------------------------------- */

DK_CLONES static void DK_F(scale)(DK_T *y, ptrdiff_t n, double inv)
{
    for (ptrdiff_t j = 0; j < n; j++)
        y[j] = (DK_T)((double)y[j] * inv);
}

DK_CLONES static void DK_F(log_softmax_finish)(const DK_T *x, DK_T *y, ptrdiff_t n, double m,
                                               double lse)
{
    for (ptrdiff_t j = 0; j < n; j++)
        y[j] = (DK_T)(((double)x[j] - m) - lse);
}

/* buf[i] = exp(x[i] - m) for x[i] <= m: TwoSum gives the exact rounding error of x - m,
 * which goes into the reduced argument, so the result is that of the exact difference. */
DK_CLONES static void DK_F(exp_shifted)(const DK_T *x, DK_T *buf, ptrdiff_t n, DK_T m)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        DK_T v = x[j];
        DK_T d = v - m;
        DK_T bb = d - v;
        DK_T err = (v - (d - bb)) + (-m - bb);
        buf[j] = DK_EXP2(d, err);
    }
}

/* Sum in double over 8 fixed lanes (fixed order: thread-independent). */
DK_CLONES static double DK_F(sum)(const DK_T *v, ptrdiff_t n)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s = 0.0;
    ptrdiff_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += (double)v[j + l];
    for (; j < n; j++)
        s += (double)v[j];
    return s + (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
}

/* Max of a row in DK_VLANES vector lanes; *bad is set when the row holds NaN or +inf
 * (x - x is NaN exactly for those, and NaN sticks in the lane sums). */
DK_CLONES static DK_T DK_F(max)(const DK_T *x, ptrdiff_t n, int *bad)
{
    DK_VF mx, z = {0};
    ptrdiff_t j = 0;
    int l;
    for (l = 0; l < DK_VLANES; l++) mx[l] = -INFINITY;
    for (; j + DK_VLANES <= n; j += DK_VLANES) {
        DK_VF v;
        memcpy(&v, x + j, sizeof v);
        DK_VI gt = v > mx;
        mx = (DK_VF)(((DK_VI)v & gt) | ((DK_VI)mx & ~gt));
        z += v - v;
    }
    DK_T m = -INFINITY, zz = 0;
    for (l = 0; l < DK_VLANES; l++) { m = mx[l] > m ? mx[l] : m; zz += z[l]; }
    for (; j < n; j++) { m = x[j] > m ? x[j] : m; zz += x[j] - x[j]; }
    *bad = zz != 0;   /* NaN != 0 */
    return m;
}

/* Softmax / log-softmax of one row: the max, then exp(x - max) in L1-sized chunks (written
 * to y, or to a stack buffer for log-softmax so that x may alias y) with the values summed
 * in double, then the scaling pass. Returns 0, writing nothing, when the row holds NaN or
 * +inf or is all -inf: the caller's generic path handles those. */
static int DK_F(softmax_row)(const DK_T *x, DK_T *y, ptrdiff_t n, int log_sm)
{
    int bad;
    DK_T m = DK_F(max)(x, n, &bad);
    if (bad || m == -INFINITY)
        return 0;
    double s = 0.0;
    DK_T buf[512];
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 512) {
        ptrdiff_t w = n - j0 < 512 ? n - j0 : 512;
        DK_T *dst = log_sm ? buf : y + j0;
        DK_F(exp_shifted)(x + j0, dst, w, m);
        s += DK_F(sum)(dst, w);
    }
    if (log_sm)
        DK_F(log_softmax_finish)(x, y, n, (double)m, log(s));
    else
        DK_F(scale)(y, n, 1.0 / s);
    return 1;
}

/* ---- strided softmax columns (dk_activations.h) ----------------------------------------- */

DK_CLONES void DK_F(max_cols)(const DK_T *x, double *mx, ptrdiff_t w)
{
    for (ptrdiff_t j = 0; j < w; j++) {
        double v = x[j], m = mx[j];
        mx[j] = (v > m) | (v != v) ? v : m;   /* a NaN sticks: nothing compares above it */
    }
}

DK_CLONES void DK_F(exp_cols)(const DK_T *x, const double *m, DK_T *y, double *sum, ptrdiff_t w,
                              int log_sm)
{
    for (ptrdiff_t j = 0; j < w; j++) {
        DK_T v = x[j], mm = (DK_T)m[j];   /* m holds a DK_T value */
        DK_T d = v - mm;
        DK_T bb = d - v;
        DK_T err = (v - (d - bb)) + (-mm - bb);
        DK_T e = DK_EXP2(d, err);
        sum[j] += (double)e;
        y[j] = log_sm ? y[j] : e;
    }
}

DK_CLONES void DK_F(finish_cols)(const DK_T *x, DK_T *y, const double *m, const double *c,
                                 ptrdiff_t w, int log_sm)
{
    if (log_sm)
        for (ptrdiff_t j = 0; j < w; j++)
            y[j] = (DK_T)(((double)x[j] - m[j]) - c[j]);
    else
        for (ptrdiff_t j = 0; j < w; j++)
            y[j] = (DK_T)((double)y[j] * c[j]);
}

DK_NO_TRAPPING_END

/* ---- elementwise ops in the native type ------------------------------------------------- */

static inline DK_T DK_F(relu)(DK_T x)
{
    return x <= 0 ? 0 : x;
}

/* Keras' ReLU.static_call: (x if x > threshold else 0), clipped to [0, max_value] when
 * max_value is given (not NaN), minus slope * max(threshold - x, 0). NaN stays NaN. */
static inline DK_T DK_F(relu_general)(DK_T x, double slope, double max_value, double threshold)
{
    double xd = x;
    double y = xd <= threshold ? 0.0 : xd;
    double neg;
    if (max_value == max_value) {
        y = y < 0.0 ? 0.0 : y;
        y = y > max_value ? max_value : y;
    }
    if (slope != 0.0) {
        neg = threshold - xd;
        if (neg > 0.0)
            y = y - slope * neg;
    }
    return (DK_T)y;
}

static inline DK_T DK_F(relu6)(DK_T x)
{
    if (x <= 0)
        return 0;
    return x >= 6 ? 6 : x;
}

/* max(x, slope * x) as Keras; a zero slope gives exactly relu (no 0 * inf). */
static inline DK_T DK_F(leaky_relu)(DK_T x, DK_T slope)
{
    DK_T sx = slope != 0 ? slope * x : 0;
    return x >= sx ? x : (x == x ? sx : x);
}

static inline DK_T DK_F(hard_sigmoid)(DK_T x)
{
    double y = (double)x / 6.0 + 0.5;
    if (y <= 0.0)
        return 0;
    return y >= 1.0 ? 1 : (DK_T)y;
}

static inline DK_T DK_F(hard_silu)(DK_T x)
{
    double xd = x;
    double y = xd / 6.0 + 0.5;
    if (y <= 0.0)
        return 0;
    return y >= 1.0 ? x : (DK_T)(xd * y);
}

static inline DK_T DK_F(hard_tanh)(DK_T x)
{
    if (x < -1)
        return -1;
    return x > 1 ? 1 : x;
}

static inline DK_T DK_F(softsign)(DK_T x)
{
    double a = fabs((double)x);
    if (a == INFINITY)
        return x > 0 ? 1 : -1;
    return (DK_T)((double)x / (1.0 + a));
}

static inline DK_T DK_F(hard_shrink)(DK_T x, double t)
{
    return fabs((double)x) <= t ? 0 : x;
}

static inline DK_T DK_F(soft_shrink)(DK_T x, double t)
{
    double xd = x;
    if (xd > t)
        return (DK_T)(xd - t);
    if (xd < -t)
        return (DK_T)(xd + t);
    return x != x ? x : 0;
}

static inline DK_T DK_F(sparse_plus)(DK_T x)
{
    double xd = x;
    if (xd <= -1.0)
        return 0;
    if (xd < 1.0)
        return (DK_T)(0.25 * (xd + 1.0) * (xd + 1.0));
    return x;
}

static inline DK_T DK_F(sparse_sigmoid)(DK_T x)
{
    double xd = x;
    if (xd <= -1.0)
        return 0;
    if (xd >= 1.0)
        return 1;
    return (DK_T)(0.5 * (xd + 1.0));
}

static inline DK_T DK_F(threshold)(DK_T x, double t, double value)
{
    return (double)x <= t ? (DK_T)value : x;
}

/* ---- row-wise softmax ------------------------------------------------------------------- */

/* y = exp(x - max x) / sum(exp(x - max x)) over one contiguous row. The shift makes every
 * exponent <= 0 (no overflow) and the sum >= 1; the sum is accumulated in double. Rows
 * holding +inf give 1/k on the k infinite entries and 0 elsewhere (the limit); a NaN makes
 * the row NaN. */
void DK_PUB(softmax_into)(const DK_T *x, DK_T *y, ptrdiff_t n)
{
    ptrdiff_t j, k;
    double m, s, e, inv;
    if (n <= 0)
        return;
    if (DK_F(softmax_row)(x, y, n, 0))
        return;
    m = x[0];
    for (j = 1; j < n; j++) {
        if (x[j] > m || x[j] != x[j]) {
            m = x[j];
            if (m != m)
                break;
        }
    }
    if (m == INFINITY) {
        k = 0;
        for (j = 0; j < n; j++)
            if (x[j] == INFINITY)
                k += 1;
        inv = 1.0 / k;
        for (j = 0; j < n; j++)
            y[j] = x[j] == INFINITY ? (DK_T)inv : 0;
        return;
    }
    s = 0.0;
    for (j = 0; j < n; j++) {
        e = exp((double)x[j] - m);
        s += e;
        y[j] = (DK_T)e;
    }
    inv = 1.0 / s;
    for (j = 0; j < n; j++)
        y[j] = (DK_T)((double)y[j] * inv);
}

/* y = x - max x - log(sum(exp(x - max x))) over one contiguous row. */
void DK_PUB(log_softmax_into)(const DK_T *x, DK_T *y, ptrdiff_t n)
{
    ptrdiff_t j, k;
    double m, s, lse;
    if (n <= 0)
        return;
    if (DK_F(softmax_row)(x, y, n, 1))
        return;
    m = x[0];
    for (j = 1; j < n; j++) {
        if (x[j] > m || x[j] != x[j]) {
            m = x[j];
            if (m != m)
                break;
        }
    }
    if (m == INFINITY) {
        k = 0;
        for (j = 0; j < n; j++)
            if (x[j] == INFINITY)
                k += 1;
        lse = -log((double)k);
        for (j = 0; j < n; j++)
            y[j] = x[j] == INFINITY ? (DK_T)lse : (DK_T)(-INFINITY);
        return;
    }
    s = 0.0;
    for (j = 0; j < n; j++)
        s += exp((double)x[j] - m);
    lse = log(s);
    for (j = 0; j < n; j++)
        y[j] = (DK_T)(((double)x[j] - m) - lse);
}

/* ---- the dispatcher --------------------------------------------------------------------- */

static void DK_F(transcendental_into)(int code, const DK_T *x, DK_T *y, ptrdiff_t n, double p0)
{
    ptrdiff_t j;
    switch (code) {   /* the vectorized loops */
    case DK_ACT_SIGMOID: DK_F(sigmoid)(x, y, n); return;
    case DK_ACT_SILU: DK_F(silu)(x, y, n); return;
#if DK_IS_F32
    case DK_ACT_GELU: DK_F(gelu)(x, y, n); return;
#endif
    case DK_ACT_GELU_TANH: DK_F(gelu_tanh)(x, y, n); return;
    case DK_ACT_TANH: DK_F(tanh)(x, y, n); return;
    case DK_ACT_ELU: DK_F(elu)(x, y, n, p0, 1.0); return;
    /* SELU constants (Klambauer et al. 2017), as Keras spells them. */
    case DK_ACT_SELU: DK_F(elu)(x, y, n, 1.6732632423543772848, 1.0507009873554804934); return;
    case DK_ACT_EXPONENTIAL: DK_F(exp)(x, y, n); return;
    case DK_ACT_SOFTPLUS: DK_F(softplus)(x, y, n); return;
    case DK_ACT_LOG_SIGMOID: DK_F(log_sigmoid)(x, y, n); return;
    case DK_ACT_MISH: DK_F(mish)(x, y, n); return;
    default: break;
    }
    switch (code) {   /* libm */
    case DK_ACT_GELU:
        for (j = 0; j < n; j++)
            y[j] = (DK_T)dk_gelu_ref(x[j]);
        break;
    case DK_ACT_CELU:
        for (j = 0; j < n; j++)
            y[j] = (DK_T)dk_celu_ref(x[j], p0);
        break;
    case DK_ACT_TANH_SHRINK:
        for (j = 0; j < n; j++)
            y[j] = (DK_T)dk_tanh_shrink_ref(x[j]);
        break;
    case DK_ACT_SQUAREPLUS:
        for (j = 0; j < n; j++)
            y[j] = (DK_T)dk_squareplus_ref(x[j], p0);
        break;
    default:
        break;
    }
}

void DK_PUB(activate_into)(int code, const DK_T *x, DK_T *y, ptrdiff_t n, double p0, double p1,
                           double p2)
{
    ptrdiff_t j;
    DK_T fp0;
#if DK_IS_F32
    /* Parameters are rounded to the row's dtype first, as Keras casts them:
     * relu(x, threshold=0.3) compares float32 x with float32(0.3). */
    p0 = (float)p0;
    p1 = (float)p1;
    p2 = (float)p2;
#endif
    fp0 = (DK_T)p0;
    switch (code) {
    case DK_ACT_LINEAR:
        if (x != y)
            for (j = 0; j < n; j++)
                y[j] = x[j];
        break;
    case DK_ACT_RELU:
        if (p0 == 0.0 && p1 != p1 && p2 == 0.0) {
            for (j = 0; j < n; j++)
                y[j] = DK_F(relu)(x[j]);
        } else if (p0 != 0.0 && p1 != p1 && p2 == 0.0) {
            for (j = 0; j < n; j++)
                y[j] = DK_F(leaky_relu)(x[j], fp0);
        } else {
            for (j = 0; j < n; j++)
                y[j] = DK_F(relu_general)(x[j], p0, p1, p2);
        }
        break;
    case DK_ACT_RELU6:
        for (j = 0; j < n; j++)
            y[j] = DK_F(relu6)(x[j]);
        break;
    case DK_ACT_LEAKY_RELU:
        for (j = 0; j < n; j++)
            y[j] = DK_F(leaky_relu)(x[j], fp0);
        break;
    case DK_ACT_HARD_SIGMOID:
        for (j = 0; j < n; j++)
            y[j] = DK_F(hard_sigmoid)(x[j]);
        break;
    case DK_ACT_HARD_SILU:
        for (j = 0; j < n; j++)
            y[j] = DK_F(hard_silu)(x[j]);
        break;
    case DK_ACT_HARD_TANH:
        for (j = 0; j < n; j++)
            y[j] = DK_F(hard_tanh)(x[j]);
        break;
    case DK_ACT_SOFTSIGN:
        for (j = 0; j < n; j++)
            y[j] = DK_F(softsign)(x[j]);
        break;
    case DK_ACT_HARD_SHRINK:
        for (j = 0; j < n; j++)
            y[j] = DK_F(hard_shrink)(x[j], p0);
        break;
    case DK_ACT_SOFT_SHRINK:
        for (j = 0; j < n; j++)
            y[j] = DK_F(soft_shrink)(x[j], p0);
        break;
    case DK_ACT_SPARSE_PLUS:
        for (j = 0; j < n; j++)
            y[j] = DK_F(sparse_plus)(x[j]);
        break;
    case DK_ACT_SPARSE_SIGMOID:
        for (j = 0; j < n; j++)
            y[j] = DK_F(sparse_sigmoid)(x[j]);
        break;
    case DK_ACT_THRESHOLD:
        for (j = 0; j < n; j++)
            y[j] = DK_F(threshold)(x[j], p0, p1);
        break;
    case DK_ACT_SOFTMAX:
        DK_PUB(softmax_into)(x, y, n);
        break;
    case DK_ACT_LOG_SOFTMAX:
        DK_PUB(log_softmax_into)(x, y, n);
        break;
    default:
        DK_F(transcendental_into)(code, x, y, n, p0);
        break;
    }
}

/* Elementwise codes work tile by tile (DK_ACT_TILE values stay in L1 between the add and
 * the activation), so the row crosses memory once. */
void DK_PUB(bias_activate_row)(int code, DK_T *row, const DK_T *bias, ptrdiff_t n, double p0,
                               double p1, double p2)
{
    ptrdiff_t j, j0, m;
    if (bias == NULL) {
        DK_PUB(activate_into)(code, row, row, n, p0, p1, p2);
        return;
    }
    if (code >= DK_ACT_SOFTMAX) {
        for (j = 0; j < n; j++)
            row[j] = row[j] + bias[j];
        DK_PUB(activate_into)(code, row, row, n, p0, p1, p2);
        return;
    }
    for (j0 = 0; j0 < n; j0 += m) {
        m = n - j0 < DK_ACT_TILE ? n - j0 : DK_ACT_TILE;
        for (j = j0; j < j0 + m; j++)
            row[j] = row[j] + bias[j];
        DK_PUB(activate_into)(code, row + j0, row + j0, m, p0, p1, p2);
    }
}

void DK_PUB(glu_row)(const DK_T *a, const DK_T *b, DK_T *y, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        double g = dk_sigmoid_ref(b[j]);
        y[j] = (DK_T)(g == 0.0 ? 0.0 : a[j] * g);
    }
}

/* ---- derivatives (the backward pass) ---------------------------------------------------
 * out[j] = dy[j] * act'(.) where `s` holds the forward OUTPUT y or the INPUT x, as
 * dk_act_grad_needs_input says (dk_activations.h). Each loop below is the derivative of the
 * forward op of the same name above, in double and rounded once; kinks take jax's one-sided
 * choice. DK_GRAD(name, EXPR) writes the loop: EXPR sees v = s[j], g = dy[j] and the
 * constants a, b, c (the dispatcher derives them from p0..p2). Any of s, dy, out may alias. */

#define DK_GRAD(name, EXPR)                                                                  \
    DK_CLONES static void DK_F(name##_grad)(const DK_T *s, const DK_T *dy, DK_T *out,        \
                                            ptrdiff_t n, double a, double b, double c)        \
    {                                                                                        \
        (void)a; (void)b; (void)c;                                                           \
        for (ptrdiff_t j = 0; j < n; j++) {                                                  \
            double v = s[j], g = dy[j];                                                      \
            out[j] = (DK_T)(EXPR);                                                           \
        }                                                                                    \
    }

DK_NO_TRAPPING_BEGIN

/* From y. relu'(0) = 0 (jax). */
DK_GRAD(relu, v > 0.0 ? g : 0.0)
/* From y or x (same sign, slope > 0): a = max(1, slope), b = min(1, slope); x = 0 takes a,
 * as jax's where(x >= 0, ...). */
DK_GRAD(leaky, v >= 0.0 ? a * g : b * g)
/* From x, Keras' ReLU with threshold c, cap b (NaN: none) and slope a; 0 at every kink. */
DK_GRAD(relu_general, (v > c && (b != b || (v > 0.0 && v < b)) ? g : 0.0)
                      + (v < c ? a * g : 0.0))
/* From y: 0 at both kinks (jax's relu6). */
DK_GRAD(relu6, v > 0.0 && v < 6.0 ? g : 0.0)
/* elu / selu from y (alpha >= 0): scale a for y > 0, else y + b with b = scale * alpha,
 * which is scale * alpha * exp(x); x = 0 gives b (jax: where(x > 0, ...)). */
DK_GRAD(elu_y, v > 0.0 ? a * g : (v + b) * g)
/* elu from x (alpha = a < 0, where y does not tell the sign of x). */
DK_GRAD(elu_x, dk_elu_x_grad_d(v, a) * g)
/* celu from y: y has the sign of x for either sign of alpha = a; exp(x / a) = y / a + 1. */
DK_GRAD(celu, v > 0.0 ? g : (v / a + 1.0) * g)
/* silu from x: s + x s (1 - s), with 1 - s = sigmoid(-x) exact and x * 0 -> 0 at +-inf. */
DK_GRAD(silu, dk_silu_grad_d(v) * g)
/* gelu (tanh form) from x: x sigmoid(2u) differentiated, u' = sqrt(2/pi) (1 + 3 0.044715 x^2). */
DK_GRAD(gelu_tanh, dk_gelu_tanh_grad_d(v) * g)
DK_GRAD(sigmoid, (v * (1.0 - v)) * g)
DK_GRAD(tanh, ((1.0 - v) * (1.0 + v)) * g)
/* softplus from y: sigmoid(x) = 1 - exp(-y). */
DK_GRAD(softplus, -dk_expm1_nonpos_d(-v) * g)
/* log_sigmoid from y: sigmoid(-x) = 1 - exp(y). */
DK_GRAD(log_sigmoid, -dk_expm1_nonpos_d(v) * g)
/* softsign from x: 1 / (1 + |x|)^2 (from y, 1 - |y| would cancel for large |x|). */
DK_GRAD(softsign, (1.0 / ((1.0 + fabs(v)) * (1.0 + fabs(v)))) * g)
/* hard_sigmoid from y: 1/6 strictly inside, 0 at the kinks (jax: relu6(x + 3) / 6). */
DK_GRAD(hard_sigmoid, v > 0.0 && v < 1.0 ? g / 6.0 : 0.0)
/* hard_silu from x, h = x / 6 + 0.5 as in the forward: 0 at h <= 0, 1 at h >= 1 (jax). */
DK_GRAD(hard_silu, (v / 6.0 + 0.5) <= 0.0 ? 0.0
                   : ((v / 6.0 + 0.5) >= 1.0 ? g : ((v / 6.0 + 0.5) + v / 6.0) * g))
DK_GRAD(exponential, v * g)
/* mish from x: tanh(sp) + x sigmoid(x) sech^2(sp), sp = softplus(x). */
DK_GRAD(mish, dk_mish_grad_d(v) * g)
/* hard_tanh from x: 1 on [-1, 1] including the ends (jax's nested where). */
DK_GRAD(hard_tanh, v < -1.0 || v > 1.0 ? 0.0 : g)
/* hard_shrink from y: y != 0 exactly where |x| > threshold >= 0; a != 0 flags a negative
 * threshold (every x passes). */
DK_GRAD(hard_shrink, a != 0.0 || v != 0.0 ? g : 0.0)
/* soft_shrink from y: y != 0 exactly where the slope is 1 (for any threshold). */
DK_GRAD(soft_shrink, v != 0.0 ? g : 0.0)
/* sparse_plus from y: (x + 1) / 2 = sqrt(y) on (-1, 1), 0 at -1, 1 from 1 on (jax). */
DK_GRAD(sparse_plus, v <= 0.0 ? 0.0 : (v >= 1.0 ? g : sqrt(v) * g))
DK_GRAD(sparse_sigmoid, v > 0.0 && v < 1.0 ? 0.5 * g : 0.0)
/* squareplus from y: 1 / (1 + (sqrt(b) / 2y)^2) (= y^2 / (y^2 + b/4), without overflowing
 * y^2); a = sqrt(b) / 2; b = 0 is relu (0 at 0). */
DK_GRAD(squareplus, a == 0.0 ? (v > 0.0 ? g : 0.0) : g / (1.0 + (a / v) * (a / v)))
/* threshold from x: 1 above the threshold a, 0 at and below it (jax's where(x > t, ...)). */
DK_GRAD(threshold, v > a ? g : 0.0)

/* sum(dy * y) in double over 8 fixed lanes (fixed order). */
DK_CLONES static double DK_F(dot)(const DK_T *u, const DK_T *w, ptrdiff_t n)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s = 0.0;
    ptrdiff_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += (double)u[j + l] * (double)w[j + l];
    for (; j < n; j++)
        s += (double)u[j] * (double)w[j];
    return s + (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
}

DK_CLONES static void DK_F(softmax_grad_finish)(const DK_T *y, const DK_T *dy, DK_T *out,
                                                ptrdiff_t n, double s)
{
    for (ptrdiff_t j = 0; j < n; j++)
        out[j] = (DK_T)((double)y[j] * ((double)dy[j] - s));
}

DK_CLONES static void DK_F(log_softmax_grad_finish)(const DK_T *y, const DK_T *dy, DK_T *out,
                                                    ptrdiff_t n, double s)
{
    for (ptrdiff_t j = 0; j < n; j++)
        out[j] = (DK_T)((double)dy[j] - dk_exp_f64((double)y[j]) * s);
}

DK_NO_TRAPPING_END

/* The Jacobian-vector products of one row: softmax dz = y (dy - sum(dy y)), log_softmax
 * dz = dy - exp(y) sum(dy); the sums come first, so out may alias y or dy. */
void DK_PUB(softmax_grad_row)(const DK_T *y, const DK_T *dy, DK_T *out, ptrdiff_t n)
{
    DK_F(softmax_grad_finish)(y, dy, out, n, DK_F(dot)(dy, y, n));
}

void DK_PUB(log_softmax_grad_row)(const DK_T *y, const DK_T *dy, DK_T *out, ptrdiff_t n)
{
    DK_F(log_softmax_grad_finish)(y, dy, out, n, DK_F(sum)(dy, n));
}

void DK_PUB(activation_grad)(int code, const DK_T *s, const DK_T *dy, DK_T *out, ptrdiff_t n,
                             double p0, double p1, double p2)
{
    ptrdiff_t j;
    /* Which tensor `s` is follows the caller's parameters, before rounding. */
    int from_input = dk_act_grad_needs_input(code, p0, p1, p2);
#if DK_IS_F32
    /* Then the parameters are rounded as the forward rounds them, so the kinks match. */
    p0 = (float)p0;
    p1 = (float)p1;
    p2 = (float)p2;
#endif
    switch (code) {
    case DK_ACT_LINEAR:
        if (out != dy)
            for (j = 0; j < n; j++)
                out[j] = dy[j];
        break;
    case DK_ACT_RELU:   /* the forward's three paths */
        if (p0 == 0.0 && p1 != p1 && p2 == 0.0)
            DK_F(relu_grad)(s, dy, out, n, 0, 0, 0);
        else if (p0 != 0.0 && p1 != p1 && p2 == 0.0)
            DK_F(leaky_grad)(s, dy, out, n, p0 > 1.0 ? p0 : 1.0, p0 < 1.0 ? p0 : 1.0, 0);
        else
            DK_F(relu_general_grad)(s, dy, out, n, p0, p1, p2);
        break;
    case DK_ACT_LEAKY_RELU:
        if (p0 == 0.0)
            DK_F(relu_grad)(s, dy, out, n, 0, 0, 0);
        else
            DK_F(leaky_grad)(s, dy, out, n, p0 > 1.0 ? p0 : 1.0, p0 < 1.0 ? p0 : 1.0, 0);
        break;
    case DK_ACT_RELU6: DK_F(relu6_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_ELU:
        if (from_input)
            DK_F(elu_x_grad)(s, dy, out, n, p0, 0, 0);
        else
            DK_F(elu_y_grad)(s, dy, out, n, 1.0, p0, 0);
        break;
    case DK_ACT_SELU:   /* the forward's constants, scale * alpha as the forward's limit */
        DK_F(elu_y_grad)(s, dy, out, n, 1.0507009873554804934,
                         1.0507009873554804934 * 1.6732632423543772848, 0);
        break;
    case DK_ACT_CELU: DK_F(celu_grad)(s, dy, out, n, p0, 0, 0); break;
    case DK_ACT_GELU:
#if DK_IS_F32
        dk_f32_gelu_grad(s, dy, out, n);
#else
        for (j = 0; j < n; j++)   /* libm erfc: no vectorized loop */
            out[j] = (DK_T)(dk_gelu_grad_ref(s[j]) * (double)dy[j]);
#endif
        break;
    case DK_ACT_GELU_TANH: DK_F(gelu_tanh_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_SILU: DK_F(silu_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_SIGMOID: DK_F(sigmoid_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_TANH: DK_F(tanh_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_SOFTPLUS: DK_F(softplus_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_SOFTSIGN: DK_F(softsign_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_HARD_SIGMOID: DK_F(hard_sigmoid_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_HARD_SILU: DK_F(hard_silu_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_EXPONENTIAL: DK_F(exponential_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_MISH: DK_F(mish_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_LOG_SIGMOID: DK_F(log_sigmoid_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_HARD_TANH: DK_F(hard_tanh_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_TANH_SHRINK:   /* libm tanh */
        for (j = 0; j < n; j++) {
            double t = tanh((double)s[j]);
            out[j] = (DK_T)((t * t) * (double)dy[j]);
        }
        break;
    case DK_ACT_HARD_SHRINK:
        DK_F(hard_shrink_grad)(s, dy, out, n, p0 < 0.0 ? 1.0 : 0.0, 0, 0);
        break;
    case DK_ACT_SOFT_SHRINK: DK_F(soft_shrink_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_SPARSE_PLUS: DK_F(sparse_plus_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_SPARSE_SIGMOID: DK_F(sparse_sigmoid_grad)(s, dy, out, n, 0, 0, 0); break;
    case DK_ACT_SQUAREPLUS:
        DK_F(squareplus_grad)(s, dy, out, n, 0.5 * sqrt(p0 > 0.0 ? p0 : 0.0), 0, 0);
        break;
    case DK_ACT_THRESHOLD: DK_F(threshold_grad)(s, dy, out, n, p0, 0, 0); break;
    case DK_ACT_SOFTMAX: DK_PUB(softmax_grad_row)(s, dy, out, n); break;
    case DK_ACT_LOG_SOFTMAX: DK_PUB(log_softmax_grad_row)(s, dy, out, n); break;
    default:
        break;
    }
}

#undef DK_GRAD

#undef DK_PASTE3_
#undef DK_PASTE3
#undef DK_F
#undef DK_PUB
#undef DK_T
#undef DK_S
#undef DK_IS_F32
#undef DK_VF
#undef DK_VI
#undef DK_VLANES
#undef DK_SIGMOID
#undef DK_SIGMOIDD
#undef DK_EXPD
#undef DK_EXP2
