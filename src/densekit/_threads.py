"""The one place where densekit decides how many threads a kernel runs on."""

import os

from densekit._lib import _openmp
from densekit._validation import check_int

__all__ = [
    "PARALLEL_WORK",
    "effective_n_threads",
    "get_num_threads",
    "max_threads",
    "set_num_threads",
    "threads_for",
]

# True once set_num_threads() was called: an explicit request is not capped by the CPU count.
_explicit = False

# True in a child created by os.fork() (multiprocessing's 'fork' start method, a torch
# DataLoader worker, ...). GNU libgomp is not fork-safe: its thread pool does not
# survive fork(), so the child's first parallel region with more than one thread
# waits forever for threads that do not exist. A region of one thread never touches
# the pool, so a forked child runs every kernel on one thread.
_forked_child = False

# The smallest maximum thread count, whatever the CPU count (see max_threads).
_MIN_MAX_THREADS = 256

# libgomp reads OMP_NUM_THREADS once, when it is loaded; so does densekit (reading
# os.environ on every kernel call cost 1.6 us of a 1x1024 Dense call's ~17 us).
_OMP_NUM_THREADS_SET = bool(os.environ.get("OMP_NUM_THREADS"))
_OPENMP = _openmp.openmp_enabled()


def _after_fork_in_child():
    global _forked_child
    _forked_child = True


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def max_threads():
    """The largest thread count densekit accepts: ``max(256, 4 * CPU count)``.

    More threads than CPUs only adds overhead (results never depend on the
    count), and thousands of threads make the OpenMP runtime abort the whole
    process (libgomp prints "Thread creation failed" and exits), so larger
    requests are refused with a ValueError instead.
    """
    return _max_threads(_cpu_count())


def _max_threads(cpus):
    return max(_MIN_MAX_THREADS, 4 * cpus)


def _check_not_too_many(value, name):
    limit = max_threads()
    if value > limit:
        raise ValueError(
            f"Argument `{name}` must be at most {limit} (the larger of 256 and 4 times "
            f"the {_cpu_count()} CPUs available). Received: {name}={value}"
        )


def get_num_threads():
    """Number of threads densekit kernels use when `n_threads` is None.

    It is OpenMP's ``omp_get_max_threads()``, so it honours ``OMP_NUM_THREADS``,
    :func:`set_num_threads` and ``threadpoolctl.threadpool_limits(user_api="openmp")``.
    Unless one of those asked for a number explicitly, it is capped at the number
    of CPUs this process may run on; it is always capped at :func:`max_threads`.
    A build without OpenMP always gives 1, and so does a process created by
    ``os.fork()`` (see :func:`effective_n_threads`).
    """
    if _forked_child or not _OPENMP:
        return 1
    n = _openmp.get_max_threads()
    cpus = _cpu_count()
    if not (_explicit or _OMP_NUM_THREADS_SET):
        n = min(n, cpus)
    return max(1, min(n, _max_threads(cpus)))  # one affinity syscall per call


def set_num_threads(n):
    """Set the default number of threads for densekit kernels.

    Parameters
    ----------
    n : int
        A positive number of threads, at most :func:`max_threads`.

    Raises
    ------
    TypeError
        If `n` is not an integer.
    ValueError
        If `n` is not positive, or larger than :func:`max_threads` (the
        request is rejected rather than capped, so a typo is not silent).

    Notes
    -----
    This sets OpenMP's default thread count for the calling thread (it is
    ``omp_set_num_threads``), which is what threadpoolctl adjusts too. In a
    process created by ``os.fork()`` kernels still run on one thread.
    """
    global _explicit
    n = check_int(n, "n", error=TypeError)
    if n < 1:
        raise ValueError(f"Argument `n` must be a positive integer. Received: n={n}")
    _check_not_too_many(n, "n")
    _openmp.set_max_threads(n)
    _explicit = True


def effective_n_threads(n_threads=None):
    """Resolve a public `n_threads` argument to the positive int a kernel receives.

    None means :func:`get_num_threads`; a positive int is used as given; a
    negative int counts back from the default (-1 is the default, -2 one fewer,
    never below 1); 0 is a ValueError. A positive count above
    :func:`max_threads` (``max(256, 4 * CPU count)``) is rejected with a
    ValueError, not capped: OpenMP aborts the process when it cannot create
    that many threads. A build without OpenMP always gives 1.

    In a child created by ``os.fork()`` (for example a ``multiprocessing``
    worker under the 'fork' start method, or a torch DataLoader worker) every
    count resolves to 1: GNU libgomp's thread pool does not survive a fork,
    and a parallel region in the child would hang forever. The values are the
    same on one thread (they never depend on the thread count). Use the
    'spawn' or 'forkserver' start method to get threads in worker processes.
    """
    if n_threads is None:
        return get_num_threads()
    n_threads = check_int(n_threads, "n_threads", error=TypeError)
    if n_threads == 0:
        raise ValueError(
            "Argument `n_threads` must be a non-zero integer (None for the default). "
            "Received: n_threads=0"
        )
    _check_not_too_many(n_threads, "n_threads")
    if not _openmp.openmp_enabled() or _forked_child:
        return 1
    if n_threads < 0:
        return max(1, get_num_threads() + 1 + n_threads)
    return n_threads


# Work (floating-point operations: a multiply-add counts 2, an activated output
# element about 4) each thread must get before a kernel leaves the calling
# thread. 2**22 flops take roughly 0.1-1 ms on one core; handing work to a team
# costs microseconds on an idle machine but up to a 4 ms scheduler tick when the
# cores are busy (other pools spin for ~100 ms after each call; see threads_for).
PARALLEL_WORK = 1 << 22


def threads_for(work, n_threads=None):
    """Threads a kernel of `work` flops should run on: 1 below PARALLEL_WORK.

    The one place that decides thread use by work size (as scikit-learn's
    OpenMP loops do): below :data:`PARALLEL_WORK` flops the kernel runs on
    the calling thread and never enters a parallel region, because waking a
    thread team costs more than the arithmetic; above it, at most
    ``work // PARALLEL_WORK`` threads, capped by
    ``effective_n_threads(n_threads)``. Results never depend on the count.

    Parameters
    ----------
    work : int
        Estimated floating-point operations of the call.
    n_threads : int or None, default=None
        A public `n_threads` argument (validated even when the call is small).

    Returns
    -------
    int
        A positive thread count.

    Notes
    -----
    Why small calls must stay on the calling thread: an idle OpenBLAS worker
    spins (with sched_yield) for about 0.1 s after each BLAS call, and an idle
    libgomp worker for a few ms (GOMP_SPINCOUNT). On two cores a spinning
    worker from one pool holds a core, so a thread of another pool waits for
    the next scheduler tick (4 ms at 250 Hz) before it runs: that was the
    8 ms floor of small Dense calls.
    """
    if work < PARALLEL_WORK:
        if n_threads is not None:
            effective_n_threads(n_threads)
        return 1
    return max(1, min(effective_n_threads(n_threads), int(work) // PARALLEL_WORK))


_BLAS_LIBS = {}  # "numpy" / "scipy" -> threadpoolctl controller of its OpenBLAS, or None


def _openblas_of(which):
    """threadpoolctl's controller of numpy's or scipy's own OpenBLAS (None if
    not found: another BLAS, or threadpoolctl unavailable). Found once."""
    if which not in _BLAS_LIBS:
        try:
            import threadpoolctl

            libs = [
                lib for lib in threadpoolctl.ThreadpoolController().lib_controllers
                if lib.internal_api == "openblas" and f"{which}.libs" in lib.filepath
            ]
        except Exception:  # pragma: no cover - threadpoolctl missing or broken
            libs = []
        _BLAS_LIBS[which] = libs[0] if len(libs) == 1 else None
    return _BLAS_LIBS[which]


class _OpenBlasOneThread:
    """Context: numpy's or scipy's OpenBLAS on one thread while it lasts.

    OpenBLAS has one process-wide setting, so concurrent users share one
    limit: the first to enter saves the count and the last to leave restores
    it. Costs about a microsecond once the library is found (a few ms, once).
    """

    def __init__(self, which):
        import threading

        self._which = which
        self._lock = threading.Lock()
        self._depth = 0
        self._before = None

    @property
    def found(self):
        """True when the library was found (so entering holds it to one thread)."""
        return _openblas_of(self._which) is not None

    def __enter__(self):
        lib = _openblas_of(self._which)
        if lib is not None:
            with self._lock:
                if self._depth == 0:
                    self._before = lib.get_num_threads()
                    if self._before != 1:
                        lib.set_num_threads(1)
                self._depth += 1
        return self

    def __exit__(self, *exc):
        lib = _BLAS_LIBS.get(self._which)
        if lib is not None:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._before not in (None, 1):
                    lib.set_num_threads(self._before)
        return False


# Orthogonal's QR runs in this: OpenBLAS rounds differently on one thread and on
# several (measured: 1e6 of 1.1e6 values of a 1100x1030 Q differed in the last bit),
# and Orthogonal's bits must not depend on the core count.
scipy_blas_one_thread = _OpenBlasOneThread("scipy")
# A small product (below PARALLEL_WORK) through numpy's matmul runs in this, so
# that it stays on the calling thread instead of waking numpy's OpenBLAS pool.
numpy_blas_one_thread = _OpenBlasOneThread("numpy")
