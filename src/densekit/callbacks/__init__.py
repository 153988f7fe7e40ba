"""Callbacks with Keras 3.15 semantics: hooks into `fit`, `evaluate` and `predict`.

The classes, arguments, defaults, messages and console output follow
``keras.callbacks``: :class:`Callback`, :class:`CallbackList`, :class:`History`,
:class:`ProgbarLogger`, :class:`EarlyStopping`, :class:`ModelCheckpoint`,
:class:`LearningRateScheduler`, :class:`ReduceLROnPlateau`,
:class:`TerminateOnNaN`, :class:`CSVLogger` and :class:`LambdaCallback`.

What a model must provide
-------------------------
Only what the callbacks in use touch is needed:

``model.stop_training`` (bool attribute)
    Set to True by EarlyStopping and TerminateOnNaN. The training loop resets it to
    False before ``on_train_begin`` and checks it after every ``on_train_batch_end``
    and every ``on_epoch_end``.
``model.history`` (settable attribute)
    Set to the History by ``CallbackList(model=...)`` and after every epoch.
``model.get_weights()`` / ``model.set_weights(weights)``
    EarlyStopping with ``restore_best_weights``: ``get_weights`` returns a list of
    independent copies (later training must not change them); ``set_weights`` takes
    that list back.
``model.save(path)`` / ``model.save_weights(path)``
    ModelCheckpoint: called with one positional argument, a path ending in ``.keras``
    (``save``; ``.h5`` passes ModelCheckpoint's check too) or ``.weights.h5``
    (``save_weights``). An existing file is overwritten (Keras passes
    ``overwrite=True``, its default). Parent directories exist by the time of the call.
``model.optimizer.learning_rate``
    LearningRateScheduler and ReduceLROnPlateau read it with ``float()`` and assign a
    Python or NumPy float to it. An optimizer whose learning rate is a schedule object
    must raise, from the setter, ``TypeError("This optimizer was created with a
    `LearningRateSchedule` object as its `learning_rate` constructor argument, hence
    its learning rate is not settable. If you need the learning rate to be settable,
    you should instantiate the optimizer with a float `learning_rate` argument.")``.
    Keras stores the rate as a float32 variable, so the value read back (and logged as
    ``learning_rate``) is float32-rounded; the optimizer decides that. An optimizer
    with an ``optimizers`` list attribute (a wrapper) is handled per inner optimizer,
    each with a ``name``.
``model.metrics`` (optional)
    Consulted once by ``mode="auto"`` of EarlyStopping, ModelCheckpoint and
    ReduceLROnPlateau for a monitor other than ``loss``/``val_loss``: a list of metric
    objects (or containers with a ``metrics`` list), each with ``name`` and
    ``_direction`` ("up" for metrics to maximise such as accuracy, "down" otherwise).

How ``fit`` drives the callbacks (Keras 3.15's order)
-----------------------------------------------------
::

    callbacks = CallbackList(user_callbacks, add_history=True,
                             add_progbar=verbose != 0, model=model,
                             verbose=verbose, epochs=epochs, steps=steps_per_epoch)
    model.stop_training = False
    callbacks.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        reset the metrics
        callbacks.on_epoch_begin(epoch)
        for step, batch in enumerate(batches):          # step is 0-based per epoch
            callbacks.on_train_batch_begin(step)
            batch_logs = train_step(batch)  # running loss/metrics since epoch start
            callbacks.on_train_batch_end(step, batch_logs)
            if model.stop_training:
                break
        epoch_logs = dict(the epoch's metric results)   # {"loss": ..., "accuracy": ...}
        if validation is due this epoch (validation_freq):
            val = model.evaluate(val_x, val_y, callbacks=callbacks, return_dict=True)
            epoch_logs.update({"val_" + k: v for k, v in val.items()})
        callbacks.on_epoch_end(epoch, epoch_logs)
        logs = epoch_logs
        if model.stop_training:
            break
    callbacks.on_train_end(logs)           # only when no exception was raised
    return model.history

``evaluate`` (also when ``fit`` validates, then with fit's CallbackList; otherwise
``CallbackList(user_callbacks, add_progbar=verbose != 0, model=model,
verbose=verbose, epochs=1, steps=n_batches)``)::

    callbacks.on_test_begin()
    for step, batch in enumerate(batches):
        callbacks.on_test_batch_begin(step)
        batch_logs = test_step(batch)
        callbacks.on_test_batch_end(step, batch_logs)
    callbacks.on_test_end(final_logs)      # {"loss": ..., "accuracy": ...}

``predict`` (``CallbackList(..., add_progbar=verbose != 0, ..., epochs=1,
steps=n_batches)``): ``on_predict_begin()``, per batch
``on_predict_batch_begin(step)`` and ``on_predict_batch_end(step, {"outputs":
batch_outputs})``, then ``on_predict_end()``.

``steps`` is the number of batches per epoch, or None when unknown (a generator);
the progress bar then learns it from the first epoch. ``verbose`` may be "auto",
which ProgbarLogger treats as 1 (as Keras 3.15 does; a trainer that wants 2 off a
terminal resolves "auto" before building the CallbackList). Log values may be NumPy
scalars: every CallbackList hook converts them to Python floats and sorts the keys.
Hooks are dispatched synchronously (Keras may run batch-end hooks in a thread pool;
the order and values seen are the same).
"""

from densekit.callbacks.callback import Callback
from densekit.callbacks.callback_list import CallbackList
from densekit.callbacks.csv_logger import CSVLogger
from densekit.callbacks.early_stopping import EarlyStopping
from densekit.callbacks.history import History
from densekit.callbacks.lambda_callback import LambdaCallback
from densekit.callbacks.learning_rate_scheduler import LearningRateScheduler
from densekit.callbacks.model_checkpoint import ModelCheckpoint
from densekit.callbacks.progbar_logger import ProgbarLogger
from densekit.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from densekit.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
