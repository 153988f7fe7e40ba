"""Stubs for densekit._lib._optimizers (private kernels; inputs are pre-validated)."""

import numpy as np
import numpy.typing as npt

SERIAL_BELOW: int
CLIP_NONE: int
CLIP_SCALE_DIV: int
CLIP_SCALE: int
CLIP_VALUE: int

_F = npt.NDArray[np.floating]

def n_chunks(n: int) -> int: ...
def sumsq(g: _F, part: npt.NDArray[np.float64], n_threads: int) -> float: ...
def sgd(
    w: _F, g: _F, m: _F, mode: int, momentum: float,
    clip: int, a: float, b: float, decay: bool, wd: float, lr: float, n_threads: int,
) -> None: ...
def adam(
    w: _F, g: _F, m: _F, v: _F, vhat: _F, amsgrad: bool,
    c1: float, c2: float, alpha: float, eps: float,
    clip: int, a: float, b: float, decay: bool, wd: float, lr: float, n_threads: int,
) -> None: ...
def rmsprop(
    w: _F, g: _F, vel: _F, mom: _F, avg: _F, use_momentum: bool, centered: bool,
    rho: float, one_minus_rho: float, eps: float, momentum: float,
    clip: int, a: float, b: float, decay: bool, wd: float, lr: float, n_threads: int,
) -> None: ...
def adagrad(
    w: _F, g: _F, acc: _F, eps: float,
    clip: int, a: float, b: float, decay: bool, wd: float, lr: float, n_threads: int,
) -> None: ...
def adamax(
    w: _F, g: _F, m: _F, u: _F, c1: float, beta_2: float, bias: float, eps: float,
    clip: int, a: float, b: float, decay: bool, wd: float, lr: float, n_threads: int,
) -> None: ...
def nadam(
    w: _F, g: _F, m: _F, v: _F, c1: float, c2: float, u_next: float, d_next: float,
    one_minus_u: float, d_now: float, d_v: float, eps: float,
    clip: int, a: float, b: float, decay: bool, wd: float, lr: float, n_threads: int,
) -> None: ...
