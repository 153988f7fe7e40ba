"""RMSprop (Hinton), optionally centered and with momentum."""

from densekit._lib import _optimizers as _k
from densekit.optimizers.base_optimizer import Optimizer, _check_real

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Keras 3's ``RMSprop``).

    ``ms := rho * ms + (1 - rho) * g**2``; centered: ``mg := rho * mg +
    (1 - rho) * g`` and ``den = ms - mg**2 + epsilon``, else ``den = ms +
    epsilon``; ``inc = lr * g / sqrt(den)``; with momentum ``mom := momentum *
    mom + inc`` and ``w := w - mom``, else ``w := w - inc``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default=0.001
        See :class:`~densekit.optimizers.Optimizer`.
    rho : float, default=0.9
        Discount factor of the gradients' history.
    momentum : float, default=0.0
        Momentum; > 0 adds a slot per variable.
    epsilon : float, default=1e-7
        Added under the square root.
    centered : bool, default=False
        Normalise by the estimated variance rather than the second moment.
    **kwargs
        The shared arguments of :class:`~densekit.optimizers.Optimizer`.

    Notes
    -----
    Slots: ``<var>_velocity`` for every variable, then ``<var>_momentum`` for
    every variable (momentum > 0), then ``<var>_average_gradient`` for every
    variable (centered). One parallel pass per parameter; results do not depend
    on `n_threads`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.optimizers import RMSprop
    >>> w = np.zeros(1)
    >>> RMSprop(learning_rate=0.01, rho=0.0, epsilon=0.0).apply([np.array([4.0])], [w])
    >>> w
    array([-0.01])
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, n_threads=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, name=name,
            n_threads=n_threads, **kwargs,
        )
        for arg, value in (("rho", rho), ("momentum", momentum), ("epsilon", epsilon)):
            _check_real(arg, value)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _build_slots(self, variables):
        self._velocities = self.add_optimizer_variables(variables, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(variables, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(
                variables, "average_gradient")

    def _step_scalars(self, r, lr):
        return (r(self.rho), r(1 - self.rho), r(self.epsilon), r(self.momentum))

    _KIND = _k.RMSPROP

    def _slot_arrays(self, index):
        return (self._velocities[index],
                self._momentums[index] if self.momentum > 0 else None,
                self._average_gradients[index] if self.centered else None)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum,
                       "epsilon": self.epsilon, "centered": self.centered})
        return config
