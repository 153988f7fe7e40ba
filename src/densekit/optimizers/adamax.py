"""Adamax: Adam with the infinity norm (Kingma & Ba, 2014, section 7)."""

from densekit._lib import _optimizers as _k
from densekit.optimizers import _scalars as _sc
from densekit.optimizers.base_optimizer import Optimizer, _check_real

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (Keras 3's ``Adamax``).

    ``m := m + (g - m) * (1 - beta_1)``, ``u := max(beta_2 * u, |g|)`` and
    ``w := w - lr * m / ((1 - beta_1**t) * (u + epsilon))``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default=0.001
        See :class:`~densekit.optimizers.Optimizer`.
    beta_1 : float, default=0.9
        Decay rate of the first moment.
    beta_2 : float, default=0.999
        Decay rate of the infinity norm.
    epsilon : float, default=1e-7
        Added to `u`.
    **kwargs
        The shared arguments of :class:`~densekit.optimizers.Optimizer`.

    Notes
    -----
    Slots, per variable in turn: ``<var>_momentum``, ``<var>_norm``. One parallel
    pass per parameter; results do not depend on `n_threads`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.optimizers import Adamax
    >>> w = np.zeros(1)
    >>> Adamax(learning_rate=0.1, epsilon=0.0).apply([np.array([3.0])], [w])
    >>> np.round(w, 6)
    array([-0.1])
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 n_threads=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, n_threads=n_threads,
            **kwargs,
        )
        for arg, value in (("beta_1", beta_1), ("beta_2", beta_2), ("epsilon", epsilon)):
            _check_real(arg, value)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _build_slots(self, variables):
        self._m, self._u = self.add_optimizer_variables(variables, ["momentum", "norm"])

    def _step_scalars(self, r, lr):
        b1p = r(_sc.pow_(r(self.beta_1), self.iterations + 1))
        return (r(1 - self.beta_1), r(self.beta_2), r(1 - b1p), r(self.epsilon))

    _KIND = _k.ADAMAX

    def _slot_arrays(self, index):
        return (self._m[index], self._u[index], None)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
