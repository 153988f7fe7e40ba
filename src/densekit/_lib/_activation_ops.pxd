# The activation kernels of src/dk_activations.c (compiled once into the kernel library),
# shared by `_activations.pyx` and the Dense layer's fused epilogue (`_dense.pyx`).
# src/dk_activations.h has the contract: the codes (cimport them from `_activations.pxd`),
# the meaning of p0..p2 per code, and the numerics.
#
#   activate_into(code, x, y, n, p0, p1, p2)   y[j] = act(x[j])  (y may equal x)
#   activate_row(code, row, n, p0, p1, p2)     row[j] = act(row[j]), in place
#   bias_activate_row(code, row, bias, n, p0, p1, p2)
#                                              row[j] = act(row[j] + bias[j]) in one
#                                              pass over memory (bias may be NULL)
#   activation_grad(code, s, dy, out, n, p0, p1, p2)
#                                              out[j] = dy[j] * act'(.), s = y or x
#                                              (dk_act_grad_needs_input); any may alias
#
# In Python, `densekit.activations.fused_code(fn)` maps a public activation function (or a
# functools.partial of one with keyword arguments) to its (code, p0, p1, p2) tuple, or None
# when there is no fused kernel.
#
# The inline functions below only pick the float32 or float64 twin for Cython's fused type.

from cython cimport floating

cdef extern from "dk_activations.h" nogil:
    void dk_activate_into_f32(int code, const float* x, float* y, Py_ssize_t n,
                              double p0, double p1, double p2)
    void dk_activate_into_f64(int code, const double* x, double* y, Py_ssize_t n,
                              double p0, double p1, double p2)
    void dk_bias_activate_row_f32(int code, float* row, const float* bias, Py_ssize_t n,
                                  double p0, double p1, double p2)
    void dk_bias_activate_row_f64(int code, double* row, const double* bias, Py_ssize_t n,
                                  double p0, double p1, double p2)
    void dk_softmax_into_f32(const float* x, float* y, Py_ssize_t n)
    void dk_softmax_into_f64(const double* x, double* y, Py_ssize_t n)
    void dk_log_softmax_into_f32(const float* x, float* y, Py_ssize_t n)
    void dk_log_softmax_into_f64(const double* x, double* y, Py_ssize_t n)
    void dk_glu_row_f32(const float* a, const float* b, float* y, Py_ssize_t n)
    void dk_glu_row_f64(const double* a, const double* b, double* y, Py_ssize_t n)
    void dk_f32_max_cols(const float* x, double* mx, Py_ssize_t w)
    void dk_f64_max_cols(const double* x, double* mx, Py_ssize_t w)
    void dk_f32_exp_cols(const float* x, const double* m, float* y, double* sum,
                         Py_ssize_t w, int log_sm)
    void dk_f64_exp_cols(const double* x, const double* m, double* y, double* sum,
                         Py_ssize_t w, int log_sm)
    void dk_f32_finish_cols(const float* x, float* y, const double* m, const double* c,
                            Py_ssize_t w, int log_sm)
    void dk_f64_finish_cols(const double* x, double* y, const double* m, const double* c,
                            Py_ssize_t w, int log_sm)
    # The backward pass (src/dk_activations.h: which tensor `s` is, kinks, aliasing).
    int dk_act_grad_input_always(int code)
    int dk_act_grad_needs_input(int code, double p0, double p1, double p2)
    void dk_activation_grad_f32(int code, const float* s, const float* dy, float* out,
                                Py_ssize_t n, double p0, double p1, double p2)
    void dk_activation_grad_f64(int code, const double* s, const double* dy, double* out,
                                Py_ssize_t n, double p0, double p1, double p2)


cdef inline void activate_into(int code, const floating* x, floating* y, Py_ssize_t n,
                               double p0, double p1, double p2) noexcept nogil:
    if floating is float:
        dk_activate_into_f32(code, x, y, n, p0, p1, p2)
    else:
        dk_activate_into_f64(code, x, y, n, p0, p1, p2)


cdef inline void activate_row(int code, floating* row, Py_ssize_t n,
                              double p0, double p1, double p2) noexcept nogil:
    activate_into(code, row, row, n, p0, p1, p2)


cdef inline void bias_activate_row(int code, floating* row, const floating* bias,
                                   Py_ssize_t n, double p0, double p1,
                                   double p2) noexcept nogil:
    if floating is float:
        dk_bias_activate_row_f32(code, row, bias, n, p0, p1, p2)
    else:
        dk_bias_activate_row_f64(code, row, bias, n, p0, p1, p2)


cdef inline void softmax_into(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    if floating is float:
        dk_softmax_into_f32(x, y, n)
    else:
        dk_softmax_into_f64(x, y, n)


cdef inline void log_softmax_into(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    if floating is float:
        dk_log_softmax_into_f32(x, y, n)
    else:
        dk_log_softmax_into_f64(x, y, n)


cdef inline void glu_row(const floating* a, const floating* b, floating* y,
                         Py_ssize_t n) noexcept nogil:
    if floating is float:
        dk_glu_row_f32(a, b, y, n)
    else:
        dk_glu_row_f64(a, b, y, n)


cdef inline void activation_grad(int code, const floating* s, const floating* dy,
                                 floating* out, Py_ssize_t n, double p0, double p1,
                                 double p2) noexcept nogil:
    if floating is float:
        dk_activation_grad_f32(code, s, dy, out, n, p0, p1, p2)
    else:
        dk_activation_grad_f64(code, s, dy, out, n, p0, p1, p2)
