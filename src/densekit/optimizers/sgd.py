"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from densekit._lib import _optimizers as _k
from densekit.optimizers.base_optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent with optional momentum (Keras 3's ``SGD``).

    Without momentum ``w := w - lr * g``. With momentum ``m := momentum * m -
    lr * g`` then ``w := w + m``, or with ``nesterov=True``
    ``w := w + momentum * m - lr * g`` (using the updated `m`).

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default=0.01
        See :class:`~densekit.optimizers.Optimizer`.
    momentum : float, default=0.0
        A float in [0, 1]; 0 creates no slots.
    nesterov : bool, default=False
        Nesterov momentum.
    **kwargs
        The shared arguments of :class:`~densekit.optimizers.Optimizer`
        (weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ...,
        name, n_threads).

    Notes
    -----
    Slots (Keras' names): ``<var>_momentum`` per variable when momentum != 0.
    Each parameter's step is one parallel pass; results do not depend on
    `n_threads`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.optimizers import SGD
    >>> w = np.ones(3, dtype=np.float32)
    >>> SGD(learning_rate=0.5).apply([np.ones(3)], [w])
    >>> w
    array([0.5, 0.5, 0.5], dtype=float32)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, n_threads=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, n_threads=n_threads,
            **kwargs,
        )
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov

    def _build_slots(self, variables):
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    _KIND = _k.SGD

    def _slot_arrays(self, index):
        return (self.momentums[index] if self.momentum != 0 else None, None, None)

    def _step_scalars(self, r, lr):
        mode = (2 if self.nesterov else 1) if self.momentum != 0 else 0
        return (mode, r(self.momentum))

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


