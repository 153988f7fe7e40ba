"""The one place where densekit decides how many threads a kernel runs on."""

import os

from densekit._lib import _openmp
from densekit._validation import check_int

__all__ = ["effective_n_threads", "get_num_threads", "set_num_threads"]

# True once set_num_threads() was called: an explicit request is not capped by the CPU count.
_explicit = False


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def get_num_threads():
    """Number of threads densekit kernels use when `n_threads` is None.

    It is OpenMP's ``omp_get_max_threads()``, so it honours ``OMP_NUM_THREADS``,
    :func:`set_num_threads` and ``threadpoolctl.threadpool_limits(user_api="openmp")``.
    Unless one of those asked for a number explicitly, it is capped at the number
    of CPUs this process may run on. A build without OpenMP always gives 1.
    """
    if not _openmp.openmp_enabled():
        return 1
    n = _openmp.get_max_threads()
    if not (_explicit or os.environ.get("OMP_NUM_THREADS")):
        n = min(n, _cpu_count())
    return max(1, n)


def set_num_threads(n):
    """Set the default number of threads for densekit kernels.

    Parameters
    ----------
    n : int
        A positive number of threads.

    Raises
    ------
    TypeError
        If `n` is not an integer.
    ValueError
        If `n` is not positive.

    Notes
    -----
    This sets OpenMP's default thread count for the calling thread (it is
    ``omp_set_num_threads``), which is what threadpoolctl adjusts too.
    """
    global _explicit
    n = check_int(n, "n", error=TypeError)
    if n < 1:
        raise ValueError(f"Argument `n` must be a positive integer. Received: n={n}")
    _openmp.set_max_threads(n)
    _explicit = True


def effective_n_threads(n_threads=None):
    """Resolve a public `n_threads` argument to the positive int a kernel receives.

    None means :func:`get_num_threads`; a positive int is used as given; a
    negative int counts back from the default (-1 is the default, -2 one fewer,
    never below 1); 0 is a ValueError. A build without OpenMP always gives 1.
    """
    if n_threads is None:
        return get_num_threads()
    n_threads = check_int(n_threads, "n_threads", error=TypeError)
    if n_threads == 0:
        raise ValueError(
            "Argument `n_threads` must be a non-zero integer (None for the default). "
            "Received: n_threads=0"
        )
    if not _openmp.openmp_enabled():
        return 1
    if n_threads < 0:
        return max(1, get_num_threads() + 1 + n_threads)
    return n_threads
