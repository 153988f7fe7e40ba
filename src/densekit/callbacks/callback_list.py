"""`CallbackList`: the one object the training loop calls."""

from densekit.callbacks._utils import pythonify_logs
from densekit.callbacks.callback import Callback
from densekit.callbacks.history import History
from densekit.callbacks.progbar_logger import ProgbarLogger

__all__ = ["CallbackList"]


def _flatten(callbacks):
    if isinstance(callbacks, (list, tuple)):
        out = []
        for item in callbacks:
            out.extend(_flatten(item))
        return out
    return [callbacks]


class CallbackList(Callback):
    """Dispatch each hook to a list of callbacks, in list order.

    Parameters
    ----------
    callbacks : Callback or (nested) list of Callback, optional
        The user's callbacks; nested lists and tuples are flattened.
    add_history : bool, default=False
        Append a :class:`History` unless the list already holds one (``fit`` passes
        True).
    add_progbar : bool, default=False
        Append a :class:`ProgbarLogger` unless the list already holds one (``fit``,
        ``evaluate`` and ``predict`` pass ``verbose != 0``). The progress bar comes
        after the History, so both see what earlier callbacks add to the epoch logs
        (``learning_rate`` from :class:`LearningRateScheduler` and
        :class:`ReduceLROnPlateau`).
    model : object, optional
        Given to every callback with ``set_model``; ``model.history`` is set to the
        list's History.
    **params
        The run's parameters, given to every callback with ``set_params`` when not
        empty: ``verbose``, ``epochs`` and ``steps`` (batches per epoch, or None).

    Notes
    -----
    Every hook hands the callbacks a new dict built from its `logs` (None gives an
    empty dict): keys sorted, nested dicts merged in, and values converted with
    ``float()`` where that works. The callbacks of one hook call share that dict, so
    a key one callback adds is seen by the callbacks after it. Hooks run
    synchronously, in order.

    Raises
    ------
    ValueError
        From ``on_train_end``, ``on_test_end`` or ``on_predict_end`` when more end
        hooks than begin hooks have been called.

    Examples
    --------
    >>> from densekit.callbacks import CallbackList, LambdaCallback
    >>> seen = []
    >>> log = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, logs)))
    >>> callbacks = CallbackList([log], add_history=True, verbose=0, epochs=1, steps=1)
    >>> callbacks.on_train_begin()
    >>> callbacks.on_epoch_end(0, {"val_loss": 2, "loss": 1})
    >>> seen
    [(0, {'loss': 1.0, 'val_loss': 2.0})]
    >>> callbacks.history.history
    {'loss': [1.0], 'val_loss': [2.0]}
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        self.callbacks = _flatten(callbacks) if callbacks else []
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    "Argument `callbacks` must hold densekit.callbacks.Callback "
                    f"instances. Received: {callback!r}"
                )
        self._open_blocks = 0
        self._history = None
        self._progbar = None
        for callback in self.callbacks:
            if isinstance(callback, ProgbarLogger):
                self._progbar = callback
            elif isinstance(callback, History):
                self._history = callback
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    @property
    def history(self):
        """The list's :class:`History` (None unless one was given or added)."""
        return self._history

    def set_params(self, params):
        """Store `params` and, when not empty, give them to every callback."""
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model):
        """Attach `model` to every callback (None is ignored)."""
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _begin(self):
        self._open_blocks += 1

    def _end(self):
        self._open_blocks -= 1
        if self._open_blocks < 0:
            raise ValueError("`on_xxx_end` called without corresponding `on_xxx_begin`")

    def _dispatch(self, hook, *args):
        logs = pythonify_logs(args[-1])
        for callback in self.callbacks:
            getattr(callback, hook)(*args[:-1], logs)

    def _dispatch_batch(self, hook, batch, logs):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            getattr(callback, hook)(batch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        self._dispatch_batch("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._dispatch_batch("on_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._dispatch("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._dispatch("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._dispatch_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._dispatch_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._dispatch_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._dispatch_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._dispatch_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._dispatch_batch("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._begin()
        self._dispatch("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._dispatch("on_train_end", logs)
        self._end()

    def on_test_begin(self, logs=None):
        self._begin()
        self._dispatch("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._dispatch("on_test_end", logs)
        self._end()

    def on_predict_begin(self, logs=None):
        self._begin()
        self._dispatch("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._dispatch("on_predict_end", logs)
        self._end()
