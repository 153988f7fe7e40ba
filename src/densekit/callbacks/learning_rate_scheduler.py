"""`LearningRateScheduler`: set the optimizer's learning rate at every epoch start."""

import numpy as np

from densekit.callbacks._utils import check_verbose, print_msg
from densekit.callbacks.callback import Callback

__all__ = ["LearningRateScheduler"]


def _optimizers(model):
    # A wrapper holding several optimizers exposes them as `optimizers`.
    optimizer = model.optimizer
    if hasattr(optimizer, "optimizers"):
        return list(optimizer.optimizers), True
    return [optimizer], False


class LearningRateScheduler(Callback):
    """Set ``model.optimizer.learning_rate`` from a function of the epoch.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr) -> new_lr``, called at the start of every epoch with the
        0-based epoch index and the current learning rate as a Python float. It must
        return a float (a Python, NumPy float32 or float64 float; an int is an error).
        A one-argument ``schedule(epoch)`` is accepted too: it is used whenever the
        two-argument call raises TypeError.
    verbose : int, default=0
        1 prints the new learning rate at every epoch start.

    Notes
    -----
    At every epoch end the current rate is added to the epoch logs as
    ``learning_rate``, so History, CSVLogger and the progress bar show it.

    An optimizer built with a learning-rate schedule object refuses the assignment:
    its setter raises TypeError ("This optimizer was created with a
    `LearningRateSchedule` object ... hence its learning rate is not settable ..."),
    which propagates out of ``fit``.

    Raises
    ------
    ValueError
        At an epoch start, if the optimizer has no ``learning_rate`` or `schedule`
        returns something other than a float.

    Examples
    --------
    >>> from densekit.callbacks import LearningRateScheduler
    >>> def halve_after_two(epoch, lr):
    ...     return lr if epoch < 2 else lr * 0.5
    >>> class Optimizer:
    ...     learning_rate = 0.01
    >>> class Model:
    ...     optimizer = Optimizer()
    >>> scheduler = LearningRateScheduler(halve_after_two)
    >>> scheduler.set_model(Model())
    >>> for epoch in range(4):
    ...     scheduler.on_epoch_begin(epoch)
    >>> Model.optimizer.learning_rate
    0.0025
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"Argument `schedule` must be callable. Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.verbose = check_verbose(verbose)

    def _update_optimizer_lr(self, optimizer, epoch):
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, float(np.asarray(optimizer.learning_rate)))
        except TypeError:  # a one-argument schedule(epoch)
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {learning_rate}"
            )
        optimizer.learning_rate = learning_rate
        return learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        optimizers, several = _optimizers(self.model)
        for optimizer in optimizers:
            learning_rate = self._update_optimizer_lr(optimizer, epoch)
            if self.verbose > 0:
                which = f"{optimizer.name} " if several else ""
                print_msg(
                    f"\nEpoch {epoch + 1}: LearningRateScheduler setting "
                    f"{which}learning rate to {learning_rate}."
                )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        optimizers, several = _optimizers(self.model)
        for optimizer in optimizers:
            key = f"learning_rate_{optimizer.name}" if several else "learning_rate"
            logs[key] = float(np.asarray(optimizer.learning_rate))
