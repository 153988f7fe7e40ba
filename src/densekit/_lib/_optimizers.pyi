"""Stubs for densekit._lib._optimizers (private kernels; inputs are pre-validated)."""

import numpy as np
import numpy.typing as npt

SERIAL_BELOW: int
SCALARS: int
CLIP_NONE: int
CLIP_SCALE_DIV: int
CLIP_SCALE: int
CLIP_VALUE: int
SGD: int
ADAM: int
RMSPROP: int
ADAGRAD: int
ADAMAX: int
NADAM: int

_F = npt.NDArray[np.floating]

def sumsq(grads: list[_F], out: npt.NDArray[np.float64], n_threads: int) -> None: ...
def step(
    kind: int,
    weights: list[_F],
    grads: list[_F],
    slot0: list[_F | None],
    slot1: list[_F | None],
    slot2: list[_F | None],
    prep: npt.NDArray[np.float64],
    k32: tuple[float, ...],
    k64: tuple[float, ...],
    n_threads: int,
) -> None: ...
