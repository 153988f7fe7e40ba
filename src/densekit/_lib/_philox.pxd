# Philox4x32-10 from src/philox.h (header-only C, static inline): for Cython kernels.
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "philox.h" nogil:
    ctypedef struct dk_philox4x32_ctr_t:
        uint32_t v[4]
    ctypedef struct dk_philox4x32_key_t:
        uint32_t v[2]
    dk_philox4x32_ctr_t dk_philox4x32_10(dk_philox4x32_ctr_t c, dk_philox4x32_key_t k)
    dk_philox4x32_key_t dk_philox_key_from_seed(uint64_t seed)
