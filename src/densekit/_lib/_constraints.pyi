"""Stubs for densekit._lib._constraints (private kernels; inputs are pre-validated)."""

import numpy as np
import numpy.typing as npt

MAX_NORM: int
MIN_MAX_NORM: int
UNIT_NORM: int

def sq_norms(x: npt.NDArray[np.floating], n_threads: int) -> npt.NDArray[np.float64]: ...
def sq_norms_rows(x: npt.NDArray[np.floating], n_threads: int) -> npt.NDArray[np.float64]: ...
def factors(sq: npt.NDArray[np.float64], kind: int, a: float, b: float, rate: float) -> None: ...
def rescale(
    x: npt.NDArray[np.floating],
    f: npt.NDArray[np.float64],
    out: npt.NDArray[np.floating],
    n_threads: int,
) -> None: ...
def rescale_rows(
    x: npt.NDArray[np.floating],
    f: npt.NDArray[np.float64],
    out: npt.NDArray[np.floating],
    n_threads: int,
) -> None: ...
def nonneg(x: npt.NDArray[np.floating], out: npt.NDArray[np.floating], n_threads: int) -> None: ...
