"""Learning-rate schedules (Keras 3 API), evaluated in float32 as Keras does.

A schedule is called with the optimizer's step count (an int, or an integer
array of steps) and returns the learning rate for that step. As in Keras, the
arithmetic is done in the dtype of ``initial_learning_rate`` as a tensor, which
is float32 for a Python float, so the values match Keras' to float32 rounding.
"""

import math
import numbers

import numpy as np

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
]


def _dtype_of(value):
    """The dtype Keras (jax, x64 off) gives a Python scalar as a tensor."""
    if isinstance(value, np.generic):
        dt = value.dtype
    elif isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    elif isinstance(value, numbers.Integral):
        return np.dtype(np.int32)
    else:
        return np.dtype(np.float32)
    if dt == np.float64:
        return np.dtype(np.float32)
    if dt == np.int64:
        return np.dtype(np.int32)
    return dt


def _cast(value, dtype):
    return np.asarray(value).astype(dtype)


def _result(x):
    """A 0-d result as a numpy scalar; arrays of steps give arrays."""
    x = np.asarray(x)
    return x[()] if x.ndim == 0 else x


def _check_steps(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"Argument `{name}` must be a number. Received: {name}={value!r}")
    if not value > 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


def _check_number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"Argument `{name}` must be a number. Received: {name}={value!r}")


class LearningRateSchedule:
    """Base class of learning-rate schedules.

    A subclass implements ``__call__(self, step)`` (the learning rate at an
    integer step) and ``get_config()`` (its constructor arguments); the default
    :meth:`from_config` calls the class with that dict. An instance passed as
    an optimizer's `learning_rate` is called with the optimizer's iteration
    count before each update.

    Examples
    --------
    >>> from densekit.optimizers import schedules
    >>> class Halving(schedules.LearningRateSchedule):
    ...     def __init__(self, initial):
    ...         self.initial = initial
    ...     def __call__(self, step):
    ...         return self.initial / 2 ** step
    ...     def get_config(self):
    ...         return {"initial": self.initial}
    >>> Halving(1.0)(3)
    0.125
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' must override "
            "`__call__(self, step)`."
        )

    def get_config(self):
        """The constructor arguments, as a dict."""
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' must override "
            "`get_config()` in order to be serializable."
        )

    @classmethod
    def from_config(cls, config):
        """Rebuild a schedule from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.__class__.__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Parameters
    ----------
    initial_learning_rate : float
        The learning rate at step 0.
    decay_steps : int or float
        Steps per factor of `decay_rate`; must be > 0.
    decay_rate : float
        The decay factor.
    staircase : bool, default=False
        If True, ``step / decay_steps`` is floored (the rate changes in steps).
    name : str, default="ExponentialDecay"
        Kept in the config (Keras uses it as a name scope).

    Raises
    ------
    ValueError
        "Argument `decay_steps` must be > 0. Received: decay_steps=..."

    Examples
    --------
    >>> from densekit.optimizers.schedules import ExponentialDecay
    >>> float(ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20))
    0.02500000037252903
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_number("decay_rate", decay_rate)
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        lr = _cast(self.initial_learning_rate, _dtype_of(self.initial_learning_rate))
        dt = lr.dtype
        p = _cast(step, dt) / _cast(self.decay_steps, dt)
        if self.staircase:
            p = np.floor(p)
        return _result(lr * np.power(_cast(self.decay_rate, dt), p))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[1]`` up to
    ``boundaries[1]``, ..., and ``values[-1]`` after the last boundary.

    Parameters
    ----------
    boundaries : list of int
        Increasing step boundaries (cast to the step's type, as in Keras).
    values : list of float
        One more value than boundaries.
    name : str, default="PiecewiseConstant"
        Kept in the config.

    Raises
    ------
    ValueError
        If ``len(boundaries) != len(values) - 1``, in Keras' words.

    Examples
    --------
    >>> from densekit.optimizers.schedules import PiecewiseConstantDecay
    >>> s = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.25])
    >>> [float(s(t)) for t in (10, 11, 21)]
    [1.0, 0.5, 0.25]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of "
                f"values. Received: boundaries={boundaries} of length "
                f"{len(boundaries)}, and values={values} "
                f"of length {len(values)}."
            )
        for v in values:
            _check_number("values", v)
        for b in boundaries:
            _check_number("boundaries", b)
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = np.asarray(step)
        if step.dtype == np.int64:
            step = step.astype(np.int32)
        elif step.dtype == np.float64:
            step = step.astype(np.float32)
        bounds = [_cast(b, step.dtype) for b in self.boundaries]
        dt = _dtype_of(self.values[0])
        values = [_cast(v, _dtype_of(v)) for v in self.values]
        out = np.zeros(step.shape, dtype=dt)
        out = out + (step <= bounds[0]).astype(dt) * values[0]
        out = out + (step > bounds[-1]).astype(dt) * values[-1]
        for low, high, value in zip(bounds[:-1], bounds[1:], values[1:-1]):
            out = out + ((step > low) & (step <= high)).astype(dt) * value
        return _result(out.astype(dt, copy=False))

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``.

    Parameters
    ----------
    initial_learning_rate : float
        The learning rate at step 0.
    decay_steps : int or float
        Steps to reach `end_learning_rate`; must be > 0.
    end_learning_rate : float, default=0.0001
        The final learning rate.
    power : float, default=1.0
        The polynomial's power.
    cycle : bool, default=False
        If False the step is capped at `decay_steps`; if True the decay
        restarts, with `decay_steps` multiplied by ``ceil(step / decay_steps)``.
    name : str, default="PolynomialDecay"
        Kept in the config.

    Examples
    --------
    >>> from densekit.optimizers.schedules import PolynomialDecay
    >>> float(PolynomialDecay(0.1, 10, end_learning_rate=0.0)(5))
    0.05000000074505806
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_number("end_learning_rate", end_learning_rate)
        _check_number("power", power)
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        lr = _cast(self.initial_learning_rate, _dtype_of(self.initial_learning_rate))
        dt = lr.dtype
        end = _cast(self.end_learning_rate, dt)
        power = _cast(self.power, dt)
        t = _cast(step, dt)
        steps = _cast(self.decay_steps, dt)
        if self.cycle:
            mult = np.where(t == 0, dt.type(1.0), np.ceil(t / steps)).astype(dt)
            steps = steps * mult
        else:
            t = np.minimum(t, steps)
        p = t / steps
        return _result((lr - end) * np.power(dt.type(1) - p, power) + end)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    Parameters
    ----------
    initial_learning_rate : float
        The learning rate at step 0.
    decay_steps : int or float
        Must be > 0.
    decay_rate : float
        The decay rate.
    staircase : bool, default=False
        If True, ``step / decay_steps`` is floored.
    name : str, default="InverseTimeDecay"
        Kept in the config.

    Examples
    --------
    >>> from densekit.optimizers.schedules import InverseTimeDecay
    >>> float(InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)(2))
    0.05000000074505806
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_number("decay_rate", decay_rate)
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        lr = _cast(self.initial_learning_rate, _dtype_of(self.initial_learning_rate))
        dt = lr.dtype
        p = _cast(step, dt) / _cast(self.decay_steps, dt)
        if self.staircase:
            p = np.floor(p)
        return _result(lr / (dt.type(1) + _cast(self.decay_rate, dt) * p))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then cosine decay to ``alpha * peak``.

    Without `warmup_target`: ``lr(t) = initial * ((1 - alpha) * c + alpha)`` with
    ``c = 0.5 * (1 + cos(pi * min(t, decay_steps) / decay_steps))``. With it: a
    linear ramp from `initial_learning_rate` to `warmup_target` over
    `warmup_steps` steps, then the cosine decay from `warmup_target` over
    `decay_steps` more steps.

    Parameters
    ----------
    initial_learning_rate : float
        The learning rate at step 0.
    decay_steps : int or float
        Length of the cosine decay; must be > 0.
    alpha : float, default=0.0
        The final rate as a fraction of the peak rate.
    name : str, default="CosineDecay"
        Kept in the config.
    warmup_target : float or None, default=None
        The peak rate after warmup; None means no warmup.
    warmup_steps : int, default=0
        Length of the warmup.

    Examples
    --------
    >>> from densekit.optimizers.schedules import CosineDecay
    >>> float(CosineDecay(0.1, decay_steps=10)(5))  # float32 arithmetic, as in Keras
    0.04999999701976776
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_number("alpha", alpha)
        _check_steps("decay_steps", decay_steps)
        if warmup_target is not None:
            _check_number("warmup_target", warmup_target)
        _check_number("warmup_steps", warmup_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, t, steps, peak, dt):
        frac = t / steps
        cos = dt.type(0.5) * (dt.type(1.0) + np.cos(dt.type(math.pi) * frac)).astype(dt)
        decayed = dt.type(1 - self.alpha) * cos + dt.type(self.alpha)
        return peak * decayed

    def __call__(self, step):
        lr = _cast(self.initial_learning_rate, _dtype_of(self.initial_learning_rate))
        dt = lr.dtype
        steps = _cast(self.decay_steps, dt)
        t = _cast(step, dt)
        if self.warmup_target is None:
            return _result(self._decay(np.minimum(t, steps), steps, lr, dt))
        target = _cast(self.warmup_target, dt)
        warm = _cast(self.warmup_steps, dt)
        t = np.minimum(t, steps + warm)
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp = (target - lr) * (t / warm) + lr
        decay = self._decay(t - warm, steps, target, dt)
        return _result(np.where(t < warm, ramp, decay).astype(dt))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Period ``i`` lasts ``first_decay_steps * t_mul**i`` steps and starts at
    ``initial_learning_rate * m_mul**i``; within a period the rate follows
    ``(1 - alpha) * 0.5 * (1 + cos(pi * fraction)) + alpha`` times that start.

    Parameters
    ----------
    initial_learning_rate : float
        The learning rate at step 0.
    first_decay_steps : int or float
        Length of the first period; must be > 0.
    t_mul : float, default=2.0
        Factor of each period's length over the previous one.
    m_mul : float, default=1.0
        Factor of each period's starting rate over the previous one.
    alpha : float, default=0.0
        The minimum as a fraction of `initial_learning_rate`.
    name : str, default="SGDRDecay"
        Kept in the config.

    Examples
    --------
    >>> from densekit.optimizers.schedules import CosineDecayRestarts
    >>> s = CosineDecayRestarts(0.1, first_decay_steps=10)
    >>> float(s(0)), float(s(10))
    (0.10000000149011612, 0.10000000149011612)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        _check_number("initial_learning_rate", initial_learning_rate)
        for arg, value in (("t_mul", t_mul), ("m_mul", m_mul), ("alpha", alpha)):
            _check_number(arg, value)
        _check_steps("first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        lr = _cast(self.initial_learning_rate, _dtype_of(self.initial_learning_rate))
        dt = lr.dtype
        one = dt.type(1.0)
        first = _cast(self.first_decay_steps, dt)
        alpha = _cast(self.alpha, dt)
        t_mul = _cast(self._t_mul, dt)
        m_mul = _cast(self._m_mul, dt)
        frac = _cast(step, dt) / first
        if t_mul == 1.0:
            i_restart = np.floor(frac)
            frac = frac - i_restart
        else:
            i_restart = np.floor(np.log(one - frac * (one - t_mul)) / np.log(t_mul))
            sum_r = (one - np.power(t_mul, i_restart)) / (one - t_mul)
            frac = (frac - sum_r) / np.power(t_mul, i_restart)
        m_fac = np.power(m_mul, i_restart)
        cos = dt.type(0.5) * m_fac * (one + np.cos(dt.type(math.pi) * frac))
        decayed = (one - alpha) * cos + alpha
        return _result((lr * decayed).astype(dt))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }
