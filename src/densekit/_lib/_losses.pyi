"""Stubs for densekit._lib._losses (private kernels; inputs are pre-validated).

Operands are C-contiguous 2-D arrays of one float dtype with the reduced axis
last; `weights` (float64, one per row) and `values`/`grad` may be None. Each
entry returns sum_i weights[i] * value[i] (unscaled) and writes
grad := scale * weights[i] * d(value[i]) / d(y_pred).
"""

import enum

import numpy as np
import numpy.typing as npt

SERIAL_BELOW: int

class Elementwise(enum.IntEnum):
    MSE = 0
    MAE = 1
    MAPE = 2
    MSLE = 3
    HUBER = 4
    LOG_COSH = 5
    BCE = 6
    BCE_LOGITS = 7
    BCE_SIGMOID = 8
    HINGE = 9
    SQUARED_HINGE = 10
    POISSON = 11
    KLD = 12

class Rowwise(enum.IntEnum):
    CCE = 0
    CCE_LOGITS = 1
    CCE_SOFTMAX = 2
    CATEGORICAL_HINGE = 3
    COSINE = 4

class Sparse(enum.IntEnum):
    SCCE = 0
    SCCE_LOGITS = 1
    SCCE_SOFTMAX = 2

def elementwise(
    kind: int,
    y_true: npt.NDArray[np.floating],
    y_pred: npt.NDArray[np.floating],
    param: float,
    weights: npt.NDArray[np.float64] | None,
    scale: float,
    values: npt.NDArray[np.floating] | None,
    grad: npt.NDArray[np.floating] | None,
    n_threads: int,
) -> float: ...
def rowwise(
    kind: int,
    y_true: npt.NDArray[np.floating],
    y_pred: npt.NDArray[np.floating],
    param: float,
    weights: npt.NDArray[np.float64] | None,
    scale: float,
    values: npt.NDArray[np.floating] | None,
    grad: npt.NDArray[np.floating] | None,
    n_threads: int,
) -> float: ...
def sparse(
    kind: int,
    labels: npt.NDArray[np.int64],
    y_pred: npt.NDArray[np.floating],
    weights: npt.NDArray[np.float64] | None,
    scale: float,
    values: npt.NDArray[np.floating] | None,
    grad: npt.NDArray[np.floating] | None,
    n_threads: int,
) -> float: ...
def all_binary(x: npt.NDArray[np.floating]) -> bool: ...
def first_bad_label(labels: npt.NDArray[np.int64], n_classes: int, allow_masked: bool) -> int: ...
