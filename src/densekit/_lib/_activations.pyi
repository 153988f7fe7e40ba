"""Type stubs for the compiled activation kernels (private)."""

import numpy as np
import numpy.typing as npt

N_CODES: int

def elementwise(
    code: int,
    x: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating],
    p0: float,
    p1: float,
    p2: float,
    n_threads: int,
) -> None: ...
def softmax(
    log_softmax: bool,
    x: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating],
    outer: int,
    n_axis: int,
    inner: int,
    n_threads: int,
) -> None: ...
def glu(
    x: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating],
    outer: int,
    half: int,
    inner: int,
    n_threads: int,
) -> None: ...
def bias_activate_rows(
    code: int,
    x: npt.NDArray[np.floating],
    bias: npt.NDArray[np.floating] | None,
    p0: float,
    p1: float,
    p2: float,
    n_threads: int,
) -> None: ...
