"""OpenMP runtime queries and the thread-count kernel used to check them."""

from cython.parallel cimport parallel

cdef extern from "dk_openmp.h" nogil:
    int DK_OPENMP_VERSION
    int omp_get_max_threads()
    void omp_set_num_threads(int n)
    int omp_get_num_threads()
    int omp_get_thread_num()

cdef extern from "dk_simd.h" nogil:
    int dk_simd_level()
    const char *dk_simd_name(int level)


def openmp_enabled():
    """True when the extension was compiled with OpenMP."""
    return DK_OPENMP_VERSION != 0


def openmp_version():
    """The _OPENMP macro (yyyymm of the spec), or 0 without OpenMP."""
    return DK_OPENMP_VERSION


def get_max_threads():
    """omp_get_max_threads(): honours OMP_NUM_THREADS and threadpoolctl limits."""
    return omp_get_max_threads()


def set_max_threads(int n):
    """omp_set_num_threads(n) for the calling thread's OpenMP environment."""
    omp_set_num_threads(n)


def simd_level():
    """Name of the widest SIMD level the kernels dispatch to on this CPU."""
    return dk_simd_name(dk_simd_level()).decode()


def threads_used(int n_threads):
    """Run one parallel region with n_threads and return how many threads it had."""
    cdef int used[1]
    used[0] = 1
    with nogil, parallel(num_threads=n_threads):
        if omp_get_thread_num() == 0:
            used[0] = omp_get_num_threads()  # an array element is shared, a local is private
    return used[0]

