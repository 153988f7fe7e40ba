"""densekit: the Keras layer toolkit on a deterministic, parallel Cython + OpenMP core."""

from importlib.metadata import PackageNotFoundError, version as _version

# Importing the compiled OpenMP module loads the OpenMP runtime, so that
# threadpoolctl sees it as soon as densekit is imported.
from densekit._lib import _openmp  # noqa: F401
from densekit._threads import get_num_threads, set_num_threads

try:
    __version__ = _version("densekit")
except PackageNotFoundError:  # pragma: no cover - running from an unbuilt tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "get_num_threads", "set_num_threads"]
