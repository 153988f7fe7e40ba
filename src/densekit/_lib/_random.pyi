from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

UNIFORM: int
NORMAL: int
TRUNCATED_NORMAL: int

def fill(
    kind: int,
    out: npt.NDArray[np.float32] | npt.NDArray[np.float64] | npt.NDArray[np.uint16],
    seed: int,
    start: int,
    row_stride: int,
    a: float,
    b: float,
    n_threads: int,
    half: int = 0,
) -> None: ...
def fill_constant(
    out: npt.NDArray[np.float32] | npt.NDArray[np.float64] | npt.NDArray[np.uint16],
    value: float,
    n_threads: int,
    half: int = 0,
) -> None: ...
def philox4x32_10(counter: Sequence[int], key: Sequence[int]) -> tuple[int, int, int, int]: ...
def simd_level() -> str: ...
def _force_simd_level(level: int | None) -> int: ...
