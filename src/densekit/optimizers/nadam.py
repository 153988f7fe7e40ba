"""Nadam: Adam with Nesterov momentum (Dozat, 2015)."""

import numpy as np

from densekit._lib import _optimizers as _k
from densekit.optimizers import _scalars as _sc
from densekit.optimizers.base_optimizer import Optimizer, _check_real

__all__ = ["Nadam"]


class Nadam(Optimizer):
    """Nadam (Keras 3's ``Nadam``).

    With ``u_t = beta_1 * (1 - 0.5 * 0.96**t)`` and the running product
    ``P_t = u_1 * ... * u_t``: ``m := m + (g - m) * (1 - beta_1)``, ``v := v +
    (g**2 - v) * (1 - beta_2)``, ``m_hat = u_{t+1} * m / (1 - P_t * u_{t+1}) +
    (1 - u_t) * g / (1 - P_t)``, ``v_hat = v / (1 - beta_2**t)`` and
    ``w := w - m_hat * lr / (sqrt(v_hat) + epsilon)``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default=0.001
        See :class:`~densekit.optimizers.Optimizer`.
    beta_1 : float, default=0.9
        Decay rate of the first moment.
    beta_2 : float, default=0.999
        Decay rate of the second moment.
    epsilon : float, default=1e-7
        Added to ``sqrt(v_hat)``.
    **kwargs
        The shared arguments of :class:`~densekit.optimizers.Optimizer`.

    Notes
    -----
    Slots, per variable in turn: ``<var>_momentum``, ``<var>_velocity``; then
    the product `P_t` as one more 0-d variable (Keras names it ``"variable"``),
    of the first variable's dtype. One parallel pass per parameter; results do
    not depend on `n_threads`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.optimizers import Nadam
    >>> opt = Nadam()
    >>> opt.build([np.zeros(2, dtype=np.float32)])
    >>> opt.variable_names
    ['iteration', 'learning_rate', 'variable_0_momentum', 'variable_0_velocity', 'variable']
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
        dtype = variables[0].dtype if variables else np.dtype(np.float32)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"])
        self._u_product = self._track(np.ones((), dtype=dtype), "variable")

    def _before_update(self):
        r = _sc.rounder(self._u_product.dtype)
        decay = r(_sc.pow_(r(0.96), self.iterations + 1))
        u = r(r(float(self._u_product) * r(self.beta_1)) * r(1.0 - r(0.5 * decay)))
        self._u_product[...] = u

    def _step_scalars(self, r, lr):
        t = self.iterations + 1
        decay = r(0.96)
        beta_1 = r(self.beta_1)
        beta_2 = r(self.beta_2)
        u_t = r(beta_1 * r(1.0 - r(0.5 * r(_sc.pow_(decay, t)))))
        u_t_1 = r(beta_1 * r(1.0 - r(0.5 * r(_sc.pow_(decay, t + 1)))))
        u_product_t = r(float(self._u_product))
        u_product_t_1 = r(u_product_t * u_t_1)
        beta_2_power = r(_sc.pow_(beta_2, t))
        return (r(1 - beta_1), r(1 - beta_2), u_t_1, r(1 - u_product_t_1), r(1 - u_t),
                r(1 - u_product_t), r(1 - beta_2_power), r(self.epsilon))

    _KIND = _k.NADAM

    def _slot_arrays(self, index):
        return (self._momentums[index], self._velocities[index], None)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
