"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

from densekit.optimizers.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras 3's ``AdamW``).

    Exactly :class:`Adam` with a default ``weight_decay=0.004``: before each
    update ``w := w - w * weight_decay * lr`` (folded into the same pass).

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default=0.001
        See :class:`~densekit.optimizers.Optimizer`.
    weight_decay : float, default=0.004
        Must not be None.
    beta_1, beta_2, epsilon, amsgrad
        As in :class:`Adam`.
    **kwargs
        The shared arguments of :class:`~densekit.optimizers.Optimizer`.

    Raises
    ------
    ValueError
        "Argument `weight_decay` must be a float. Received: weight_decay=None"

    Examples
    --------
    >>> import numpy as np
    >>> from densekit.optimizers import AdamW
    >>> w = np.ones(2)
    >>> AdamW(learning_rate=0.1, weight_decay=0.5).apply([np.zeros(2)], [w])
    >>> w
    array([0.95, 0.95])
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, n_threads=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            amsgrad=amsgrad, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, n_threads=n_threads,
            **kwargs,
        )
        if self.weight_decay is None:
            raise ValueError(
                "Argument `weight_decay` must be a float. Received: weight_decay=None"
            )
