"""Adam (Kingma & Ba, 2014), with optional AMSGrad."""

from densekit._lib import _optimizers as _k
from densekit.optimizers import _scalars as _sc
from densekit.optimizers.base_optimizer import Optimizer, _check_real

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam (Keras 3's ``Adam``).

    With ``t`` the step number (from 1): ``m := m + (g - m) * (1 - beta_1)``,
    ``v := v + (g**2 - v) * (1 - beta_2)``, ``alpha = lr * sqrt(1 - beta_2**t) /
    (1 - beta_1**t)`` and ``w := w - m * alpha / (sqrt(v) + epsilon)``; with
    `amsgrad`, ``v_hat := max(v_hat, v)`` replaces `v` in the last formula.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default=0.001
        See :class:`~densekit.optimizers.Optimizer`.
    beta_1 : float, default=0.9
        Decay rate of the first moment.
    beta_2 : float, default=0.999
        Decay rate of the second moment.
    epsilon : float, default=1e-7
        Added to ``sqrt(v)`` (Keras' "epsilon hat").
    amsgrad : bool, default=False
        Use the AMSGrad variant (one more slot per variable).
    **kwargs
        The shared arguments of :class:`~densekit.optimizers.Optimizer`.

    Notes
    -----
    Slots, per variable in turn: ``<var>_momentum``, ``<var>_velocity``; then, with
    `amsgrad`, ``<var>_velocity_hat`` for every variable. m, v and w are updated
    in one parallel pass (with clipping and weight decay folded in); results do
    not depend on `n_threads`.

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.optimizers import Adam
    >>> w = np.zeros(2)
    >>> Adam(learning_rate=0.1).apply([np.array([1.0, -1.0])], [w])
    >>> np.round(w, 6)
    array([-0.1,  0.1])
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
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
        for arg, value in (("beta_1", beta_1), ("beta_2", beta_2), ("epsilon", epsilon)):
            _check_real(arg, value)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _build_slots(self, variables):
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"])
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(variables, "velocity_hat")

    def _step_scalars(self, r, lr):
        t = self.iterations + 1
        b1p = r(_sc.pow_(r(self.beta_1), t))
        b2p = r(_sc.pow_(r(self.beta_2), t))
        alpha = r(_sc.div(r(lr * r(_sc.sqrt(r(1 - b2p)))), r(1 - b1p)))
        return (r(1 - self.beta_1), r(1 - self.beta_2), alpha, r(self.epsilon))

    _KIND = _k.ADAM

    def _slot_arrays(self, index):
        return (self._momentums[index], self._velocities[index],
                self._velocity_hats[index] if self.amsgrad else None)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2,
                       "epsilon": self.epsilon, "amsgrad": self.amsgrad})
        return config
