"""`LambdaCallback`: a callback made of plain functions."""

from densekit.callbacks.callback import Callback

__all__ = ["LambdaCallback"]


class LambdaCallback(Callback):
    """A callback whose hooks are the functions passed in.

    Each function replaces the hook of the same name and is called with that hook's
    arguments, the way :class:`CallbackList` passes them: ``on_epoch_begin`` and
    ``on_epoch_end`` get ``(epoch, logs)``, ``on_train_begin`` and ``on_train_end``
    get ``(logs)``, and the batch hooks get ``(batch, logs=logs)`` (logs as a keyword).

    Parameters
    ----------
    on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin, on_train_batch_end : callable, optional
        The functions for those hooks.
    **kwargs
        Any other hook by name (``on_test_end=f``, ``on_predict_batch_end=g``, ...).
        Every keyword becomes an attribute of the callback, as in Keras, so a
        misspelt hook name is silently never called.

    Examples
    --------
    >>> from densekit.callbacks import CallbackList, LambdaCallback
    >>> losses = []
    >>> record = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]),
    ...                         on_test_end=lambda logs: print("validated"))
    >>> callbacks = CallbackList([record])
    >>> callbacks.on_epoch_end(0, {"loss": 0.5})
    >>> callbacks.on_test_begin()
    >>> callbacks.on_test_end()
    validated
    >>> losses
    [0.5]
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        self.__dict__.update(kwargs)
        named = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for hook, function in named.items():
            if function is not None:
                setattr(self, hook, function)
