import numpy as np
import numpy.typing as npt

def dense_forward(
    x: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    bias: npt.NDArray[np.floating] | None,
    out: npt.NDArray[np.floating],
    code: int,
    p0: float,
    p1: float,
    p2: float,
    n_threads: int,
) -> None: ...

SMALL_KERNEL_SIZE: int
FMA_LEVEL: int

def fma_product(
    x: npt.NDArray[np.float32],
    kernel: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32] | None,
    out: npt.NDArray[np.float32],
    code: int,
    p0: float,
    p1: float,
    p2: float,
    level: int,
    n_threads: int,
    reference: bool = False,
    pipeline: bool | None = False,
) -> None: ...

def rows_forward(
    x: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    bias: npt.NDArray[np.floating] | None,
    out: npt.NDArray[np.floating],
    code: int,
    p0: float,
    p1: float,
    p2: float,
    n_threads: int,
) -> None: ...
def bias_activate(
    y: npt.NDArray[np.floating],
    bias: npt.NDArray[np.floating] | None,
    code: int,
    p0: float,
    p1: float,
    p2: float,
    n_threads: int,
) -> None: ...

def mlp_forward(
    x: npt.NDArray[np.floating],
    kernels: list[npt.NDArray[np.floating]],
    biases: list[npt.NDArray[np.floating] | None],
    codes: npt.NDArray[np.intc],
    params: npt.NDArray[np.float64],
    out: npt.NDArray[np.floating],
    block: int,
    n_threads: int,
) -> bool: ...

def dense_backward(
    x: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    dz: npt.NDArray[np.floating],
    dx: npt.NDArray[np.floating] | None,
    dkernel: npt.NDArray[np.floating],
    dbias: npt.NDArray[np.floating] | None,
    need_dx: bool,
    n_threads: int,
) -> None: ...
def dense_backward_act(
    x: npt.NDArray[np.floating],
    kernel: npt.NDArray[np.floating],
    act_src: npt.NDArray[np.floating],
    dz: npt.NDArray[np.floating],
    dx: npt.NDArray[np.floating] | None,
    dkernel: npt.NDArray[np.floating],
    dbias: npt.NDArray[np.floating] | None,
    need_dx: bool,
    code: int,
    p0: float,
    p1: float,
    p2: float,
    n_threads: int,
) -> None: ...

SMALL_BACKWARD_WORK_SIZE: int

def orthonormalize_columns(
    a: npt.NDArray[np.floating], diag: npt.NDArray[np.floating]
) -> int: ...
