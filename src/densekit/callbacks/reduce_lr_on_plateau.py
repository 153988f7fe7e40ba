"""`ReduceLROnPlateau`: lower the learning rate when a quantity stops improving."""

import warnings

import numpy as np

from densekit.callbacks._monitor import MonitorCallback
from densekit.callbacks._utils import check_count, check_real, check_verbose, print_msg
from densekit.callbacks.learning_rate_scheduler import _optimizers

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by `factor` after `patience` epochs without improvement.

    Parameters
    ----------
    monitor : str, default="val_loss"
        The epoch-log name to watch. A missing value warns and skips the epoch.
    factor : float, default=0.1
        ``new_lr = max(lr * factor, min_lr)``. Must be below 1.0.
    patience : int, default=10
        Epochs without improvement (outside cooldown) before a reduction.
    verbose : int, default=0
        1 prints every reduction.
    mode : {"auto", "min", "max"}, default="auto"
        Direction of improvement (as in :class:`EarlyStopping`).
    min_delta : float, default=1e-4
        The amount by which a value must beat the best to count as an improvement.
    cooldown : int, default=0
        Epochs after a reduction during which no epoch counts as a non-improvement.
    min_lr : float, default=0.0
        Lower bound of the learning rate; once the rate is at it (compared in
        float32) no further reduction happens.
    **kwargs
        Accepted and ignored, as Keras does.

    Notes
    -----
    Per epoch end: the current rate is first added to the logs as ``learning_rate``.
    Then, when the monitored value is present: during cooldown the cooldown count goes
    down by one and the wait count is reset; an improvement becomes the best and resets
    the wait count; otherwise, outside cooldown, the wait count goes up, and on reaching
    `patience` the rate is reduced, the cooldown count set to `cooldown` and the wait
    count reset. The best value, wait and cooldown counts restart with every ``fit``.

    Setting the rate of an optimizer built with a schedule raises the optimizer's
    TypeError (see :class:`LearningRateScheduler`).

    Examples
    --------
    >>> from densekit.callbacks import ReduceLROnPlateau
    >>> class Optimizer:
    ...     learning_rate = 0.1
    >>> class Model:
    ...     optimizer = Optimizer()
    >>> reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
    >>> reduce.set_model(Model())
    >>> reduce.on_train_begin()
    >>> for epoch, loss in enumerate([1.0, 1.0, 0.5, 0.5]):
    ...     reduce.on_epoch_end(epoch, {"loss": loss})
    >>> Model.optimizer.learning_rate
    0.025
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        check_real(factor, "factor")
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        self.factor = factor
        self.min_lr = check_real(min_lr, "min_lr")
        self.patience = check_count(patience, "patience")
        self.verbose = check_verbose(verbose)
        self.cooldown = check_count(cooldown, "cooldown")
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def _reduce_optimizer_lr(self, optimizer, epoch, name=""):
        old_lr = float(np.asarray(optimizer.learning_rate))
        # float32 comparison: a float32 rate that has reached min_lr stays there.
        if not old_lr > np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            which = f" {name}" if name else ""
            print_msg(
                f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing{which} learning rate "
                f"to {new_lr}."
            )
        return True

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs or {}
        optimizers, several = _optimizers(self.model)
        for optimizer in optimizers:
            key = f"learning_rate_{optimizer.name}" if several else "learning_rate"
            logs[key] = float(np.asarray(optimizer.learning_rate))

        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                "Learning rate reduction is conditioned on metric "
                f"`{self.monitor}` which is not available. Available metrics "
                f"are: {','.join(list(logs.keys()))}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                reduced = False
                for optimizer in optimizers:
                    name = optimizer.name if several else ""
                    if self._reduce_optimizer_lr(optimizer, epoch, name):
                        reduced = True
                if reduced:
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def in_cooldown(self):
        """Whether the cooldown after a reduction is still running."""
        return self.cooldown_counter > 0
