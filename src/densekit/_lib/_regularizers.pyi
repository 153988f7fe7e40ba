"""Stubs for densekit._lib._regularizers (private kernels; inputs are pre-validated)."""

import numpy as np
import numpy.typing as npt

SUM_ABS: int
SUM_SQ: int

def sums(x: npt.NDArray[np.floating], which: int, n_threads: int) -> tuple[float, float]: ...
def l1l2_gradient(
    x: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating],
    l1: float,
    l2: float,
    use_l1: bool,
    use_l2: bool,
    n_threads: int,
) -> None: ...
