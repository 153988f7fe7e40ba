"""`History`: the per-epoch record that `fit` returns."""

from densekit.callbacks.callback import Callback

__all__ = ["History"]


class History(Callback):
    """Record every epoch's logs; ``fit`` returns this object.

    :class:`CallbackList` adds one to every ``fit`` (``add_history=True``) and sets
    ``model.history`` to it.

    Attributes
    ----------
    history : dict of str to list
        One list per log name, one entry per epoch, e.g.
        ``{"loss": [0.5, 0.4], "val_loss": [0.6, 0.5]}``. It is kept across ``fit``
        calls that reuse the same History.
    epoch : list of int
        The indices of the epochs recorded in the current ``fit``.
    params : dict
        The run's parameters (``verbose``, ``epochs``, ``steps``).

    Examples
    --------
    >>> from densekit.callbacks import History
    >>> history = History()
    >>> history.on_train_begin()
    >>> history.on_epoch_end(0, {"loss": 0.5})
    >>> history.on_epoch_end(1, {"loss": 0.25})
    >>> history.history
    {'loss': [0.5, 0.25]}
    """

    def __init__(self):
        super().__init__()
        self.history = {}

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
        if self.model is not None:
            # The model always points at the latest state of its record.
            self.model.history = self
