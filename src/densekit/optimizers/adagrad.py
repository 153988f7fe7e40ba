"""Adagrad (Duchi, Hazan & Singer, 2011)."""

from densekit._lib import _optimizers as _k
from densekit.optimizers.base_optimizer import Optimizer, _check_real

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Keras 3's ``Adagrad``).

    ``acc := acc + g**2`` and ``w := w - lr * g / sqrt(acc + epsilon)``, with
    `acc` starting at `initial_accumulator_value`.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default=0.001
        See :class:`~densekit.optimizers.Optimizer`.
    initial_accumulator_value : float, default=0.1
        Starting value of the accumulators.
    epsilon : float, default=1e-7
        Added under the square root.
    **kwargs
        The shared arguments of :class:`~densekit.optimizers.Optimizer`.

    Notes
    -----
    Slots: ``<var>_accumulator`` per variable. One parallel pass per parameter;
    results do not depend on `n_threads`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.optimizers import Adagrad
    >>> w = np.zeros(1)
    >>> Adagrad(learning_rate=1.0, initial_accumulator_value=0.0, epsilon=0.0).apply(
    ...     [np.array([2.0])], [w])
    >>> w
    array([-1.])
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 n_threads=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, name=name,
            n_threads=n_threads, **kwargs,
        )
        _check_real("initial_accumulator_value", initial_accumulator_value)
        _check_real("epsilon", epsilon)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _build_slots(self, variables):
        self._accumulators = self.add_optimizer_variables(
            variables, "accumulator", initializer=self.initial_accumulator_value)

    _KIND = _k.ADAGRAD

    def _slot_arrays(self, index):
        return (self._accumulators[index], None, None)

    def _step_scalars(self, r, lr):
        return (r(self.epsilon),)

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value,
                       "epsilon": self.epsilon})
        return config
