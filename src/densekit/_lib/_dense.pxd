# The backward pass of _dense.pyx on raw buffers, for compiled callers (a training step
# that runs every layer in one call): `from densekit._lib._dense cimport dense_backward_ptr`.
# The Python entries dense_backward / dense_backward_act document the semantics.

from cython cimport floating

cdef bint dense_backward_ptr(const floating* x,        # IN (n, k)
                             const floating* w,        # IN (k, u)
                             const floating* act_src,  # IN (n, u) y or z, or NULL
                             floating* dz,             # IN/OUT (n, u)
                             floating* dx,             # OUT (n, k) if need_dx
                             floating* dw,             # OUT (k, u)
                             floating* db,             # OUT (u,) or NULL
                             Py_ssize_t n, Py_ssize_t k, Py_ssize_t u, bint need_dx,
                             int code, double p0, double p1, double p2,
                             int n_threads) noexcept nogil
