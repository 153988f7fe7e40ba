"""Type stubs for the compiled activation kernels (private)."""

import numpy as np
import numpy.typing as npt

# Activation codes (enum dk_act_code in src/dk_activations.h).
ACT_LINEAR: int
ACT_RELU: int
ACT_RELU6: int
ACT_LEAKY_RELU: int
ACT_ELU: int
ACT_SELU: int
ACT_CELU: int
ACT_GELU: int
ACT_GELU_TANH: int
ACT_SILU: int
ACT_SIGMOID: int
ACT_TANH: int
ACT_SOFTPLUS: int
ACT_SOFTSIGN: int
ACT_HARD_SIGMOID: int
ACT_HARD_SILU: int
ACT_EXPONENTIAL: int
ACT_MISH: int
ACT_LOG_SIGMOID: int
ACT_HARD_TANH: int
ACT_TANH_SHRINK: int
ACT_HARD_SHRINK: int
ACT_SOFT_SHRINK: int
ACT_SPARSE_PLUS: int
ACT_SPARSE_SIGMOID: int
ACT_SQUAREPLUS: int
ACT_THRESHOLD: int
ACT_SOFTMAX: int
ACT_LOG_SOFTMAX: int

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

# The backward pass (src/dk_activations.h). activation_grad reads the forward output y,
# or the input x for the codes in GRAD_NEEDS_INPUT (gelu both forms, silu, softsign,
# hard_silu, mish, hard_tanh, tanh_shrink, threshold) and, whatever the code's default,
# wherever grad_needs_input(code, p0, p1, p2) says so (relu with a threshold, a max_value
# or a negative slope; leaky_relu with a negative slope; elu with a negative alpha).
GRAD_NEEDS_INPUT: frozenset[int]

def grad_needs_input(code: int, p0: float, p1: float, p2: float) -> bool: ...
def activation_grad(
    code: int,
    y_or_x: npt.NDArray[np.floating],
    dy: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating],
    row_len: int,
    p0: float,
    p1: float,
    p2: float,
    n_threads: int,
) -> None: ...
