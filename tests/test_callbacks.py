"""densekit.callbacks against Keras 3.15's callback semantics.

The model is a fake implementing the contract in densekit.callbacks' docstring, and
`fit_loop` calls a CallbackList's hooks in the order Keras' `fit` does. The expected
values below were derived by reading Keras 3.15.1's callbacks; the `keras`-marked
tests at the end run the very same loops through real `keras.callbacks` and compare
(pytest -m keras, with keras on the path and KERAS_BACKEND=numpy).
"""

import doctest
import importlib
import inspect
import math
import os
import re
import sys
import types

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import densekit.callbacks as dcb
from densekit.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from densekit.callbacks import _progbar

SCHEDULE_ERROR = (
    "This optimizer was created with a `LearningRateSchedule` object as its "
    "`learning_rate` constructor argument, hence its learning rate is not settable. "
    "If you need the learning rate to be settable, you should instantiate the "
    "optimizer with a float `learning_rate` argument."
)


# --------------------------------------------------------------------------- fakes
class FakeOptimizer:
    """A learning rate stored as float32, as Keras' optimizer variable is."""

    def __init__(self, learning_rate=0.01, schedule=False, name="adam"):
        self._lr = np.float32(learning_rate)
        self._schedule = schedule
        self.name = name

    @property
    def learning_rate(self):
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        if self._schedule:
            raise TypeError(SCHEDULE_ERROR)
        self._lr = np.float32(value)


class FakeMetric:
    def __init__(self, name, direction=None):
        self.name = name
        if direction is not None:
            self._direction = direction


class FakeMetricsContainer:
    def __init__(self, metrics):
        self.name = "compile_metrics"
        self.metrics = metrics


class FakeModel:
    """The model contract: stop_training, history, weights, save/save_weights, optimizer."""

    def __init__(self, optimizer=None, metrics=()):
        self.stop_training = False
        self.weights = [np.zeros((2, 3), np.float32), np.zeros(3, np.float32)]
        self.optimizer = optimizer if optimizer is not None else FakeOptimizer()
        self.metrics = list(metrics)
        self.saved = []  # (kind, path)

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, copy=True) for w in weights]

    def train_epoch(self, epoch):
        """What an epoch of training does to the weights, recognisably per epoch."""
        self.weights = [np.full_like(w, epoch + 1) for w in self.weights]

    def _write(self, kind, path):
        with open(path, "w") as f:
            f.write(f"{kind} {int(self.weights[0][0, 0])}")
        self.saved.append((kind, os.fspath(path)))

    def save(self, path, overwrite=True):
        self._write("model", path)

    def save_weights(self, path, overwrite=True):
        self._write("weights", path)


class FakeClock:
    """Replaces `time` in a progress-bar module: the loop sets `t` before each hook."""

    def __init__(self, t=1000.0):
        self.t = t

    def time(self):
        return self.t


class Recorder(Callback):
    """Logs every hook call with its arguments."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            calls = object.__getattribute__(self, "calls")

            def hook(*args, **kwargs):
                calls.append((name, args, kwargs))

            return hook
        return object.__getattribute__(self, name)


def fit_loop(callbacks, model, epochs, steps, batch_logs=None, epoch_logs=None,
             val_logs=None, val_steps=2, initial_epoch=0, clock=None, train=True):
    """Drive a CallbackList the way Keras 3.15's `fit` does.

    batch_logs(epoch, step) / epoch_logs(epoch) / val_logs(epoch) give the logs (None:
    no validation); clock, if given, is a FakeClock advanced 0.1 s per batch.
    Returns the epochs that ran.
    """
    batch_logs = batch_logs or (lambda epoch, step: {"loss": 1.0 / (step + 1)})
    epoch_logs = epoch_logs or (lambda epoch: {"loss": 1.0})
    ran = []
    model.stop_training = False
    callbacks.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        for step in range(steps):
            callbacks.on_train_batch_begin(step)
            if clock is not None:
                clock.t += 0.1
            callbacks.on_train_batch_end(step, batch_logs(epoch, step))
            if model.stop_training:
                break
        if train:
            model.train_epoch(epoch)
        logs = dict(epoch_logs(epoch))
        if val_logs is not None:
            callbacks.on_test_begin()
            for step in range(val_steps):
                callbacks.on_test_batch_begin(step)
                callbacks.on_test_batch_end(step, {"loss": 9.0})
            final = val_logs(epoch)
            callbacks.on_test_end(final)
            logs.update({f"val_{k}": v for k, v in final.items()})
        callbacks.on_epoch_end(epoch, logs)
        ran.append(epoch)
        if model.stop_training:
            break
    callbacks.on_train_end(logs)
    return ran


def make_list(module, callbacks, model, epochs, steps, verbose=0, add_history=True):
    return module.CallbackList(callbacks, add_history=add_history,
                               add_progbar=verbose != 0, model=model,
                               verbose=verbose, epochs=epochs, steps=steps)


def monitored(values, key="loss"):
    return lambda epoch: {key: values[epoch]}


# ------------------------------------------------------------ docstring examples
@pytest.mark.parametrize("name", ["callback", "callback_list", "history", "progbar_logger",
                                  "early_stopping", "model_checkpoint", "learning_rate_scheduler",
                                  "reduce_lr_on_plateau", "terminate_on_nan", "csv_logger",
                                  "lambda_callback"])
def test_docstring_examples(name):
    module = importlib.import_module(f"densekit.callbacks.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------------ Callback base
HOOKS = {
    "on_batch_begin": ["batch", "logs"],
    "on_batch_end": ["batch", "logs"],
    "on_epoch_begin": ["epoch", "logs"],
    "on_epoch_end": ["epoch", "logs"],
    "on_train_batch_begin": ["batch", "logs"],
    "on_train_batch_end": ["batch", "logs"],
    "on_test_batch_begin": ["batch", "logs"],
    "on_test_batch_end": ["batch", "logs"],
    "on_predict_batch_begin": ["batch", "logs"],
    "on_predict_batch_end": ["batch", "logs"],
    "on_train_begin": ["logs"],
    "on_train_end": ["logs"],
    "on_test_begin": ["logs"],
    "on_test_end": ["logs"],
    "on_predict_begin": ["logs"],
    "on_predict_end": ["logs"],
}


def test_callback_hooks_names_and_arguments():
    hooks = {name for name in dir(Callback) if name.startswith("on_")}
    assert hooks == set(HOOKS)
    for name, args in HOOKS.items():
        params = inspect.signature(getattr(Callback, name)).parameters
        assert list(params) == ["self", *args]
        assert params["logs"].default is None
    cb = Callback()
    assert cb.params is None and cb.model is None
    cb.set_params({"epochs": 2})
    model = FakeModel()
    cb.set_model(model)
    assert cb.params == {"epochs": 2} and cb.model is model
    with pytest.raises(AttributeError):
        cb.model = None  # read-only, as in Keras
    for name, args in HOOKS.items():
        assert getattr(cb, name)(*([0] * (len(args) - 1))) is None


def test_train_batch_hooks_call_the_old_batch_hooks():
    seen = []

    class Old(Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch, logs))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, logs))

    callbacks = CallbackList([Old()])
    callbacks.on_train_batch_begin(0)
    callbacks.on_train_batch_end(0, {"loss": 1})
    callbacks.on_test_batch_end(0, {"loss": 2})  # not a training batch
    assert seen == [("begin", 0, {}), ("end", 0, {"loss": 1.0})]


# ------------------------------------------------------------------- CallbackList
def test_callback_list_adds_history_and_progbar_once():
    model = FakeModel()
    user = Recorder()
    callbacks = CallbackList([user], add_history=True, add_progbar=True, model=model,
                             verbose=1, epochs=3, steps=5)
    assert [type(c) for c in callbacks.callbacks] == [Recorder, History, ProgbarLogger]
    assert model.history is callbacks.callbacks[1] is callbacks.history
    history, progbar = callbacks.callbacks[1:]
    assert history.model is model and history.params == {"verbose": 1, "epochs": 3, "steps": 5}
    # ProgbarLogger reads the params it needs instead of storing them (as in Keras).
    assert progbar.model is model and progbar.params is None
    assert (progbar.verbose, progbar.epochs, progbar.target) == (1, 3, 5)
    assert user.calls == []  # set_model/set_params are not hooks

    mine_h, mine_p = History(), ProgbarLogger()
    callbacks = CallbackList([[mine_p], (mine_h,)], add_history=True, add_progbar=True,
                             model=model, verbose=2, epochs=1, steps=None)
    assert callbacks.callbacks == [mine_p, mine_h] and model.history is mine_h
    assert CallbackList().callbacks == [] and CallbackList(None, model=None).model is None
    assert CallbackList(mine_h).callbacks == [mine_h]
    assert CallbackList(add_history=False).history is None


def test_callback_list_params_only_when_given():
    cb = Callback()
    cb.set_params({"keep": 1})
    CallbackList([cb])
    assert cb.params == {"keep": 1}


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="must hold densekit.callbacks.Callback instances"):
        CallbackList([EarlyStopping])


def test_callback_list_logs_are_pythonified_and_shared():
    received = []

    class Adds(Callback):
        def on_epoch_end(self, epoch, logs=None):
            received.append(dict(logs))
            logs["added"] = 1.0

    class Sees(Callback):
        def on_epoch_end(self, epoch, logs=None):
            received.append(dict(logs))

    callbacks = CallbackList([Adds(), Sees()])
    original = {"val_loss": np.float32(0.1), "loss": np.float64(0.5), "acc": np.array(0.75),
                "one": np.array([2.0]), "vec": np.array([1.0, 2.0]), "name": "x",
                "nested": {"b": np.int64(3), "a": 1}}
    callbacks.on_epoch_end(0, original)
    first = received[0]
    # Sorted at the top level; a nested dict's items are merged in where it sorts.
    assert list(first) == ["acc", "loss", "name", "a", "b", "one", "val_loss", "vec"]
    assert first["val_loss"] == float(np.float32(0.1)) == 0.10000000149011612
    assert all(type(first[k]) is float for k in ["a", "acc", "b", "loss", "one", "val_loss"])
    assert first["name"] == "x" and isinstance(first["vec"], np.ndarray)
    assert "added" in received[1] and "added" not in original
    callbacks.on_train_begin(None)
    callbacks.on_train_end(None)


def test_callback_list_passes_logs_like_keras():
    rec = Recorder()
    callbacks = CallbackList([rec])
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    callbacks.on_train_batch_begin(0)
    callbacks.on_train_batch_end(0, {"loss": 1})
    callbacks.on_batch_begin(1)
    callbacks.on_batch_end(1)
    callbacks.on_epoch_end(0, {"loss": 1})
    callbacks.on_train_end({"loss": 1})
    callbacks.on_test_begin()
    callbacks.on_test_batch_begin(0)
    callbacks.on_test_batch_end(0, {"loss": 2})
    callbacks.on_test_end({"loss": 2})
    callbacks.on_predict_begin()
    callbacks.on_predict_batch_begin(0)
    callbacks.on_predict_batch_end(0, {"outputs": np.ones((2, 2))})
    callbacks.on_predict_end()
    calls = [(n, a, {k: (v if not isinstance(v, dict) else sorted(v)) for k, v in kw.items()})
             for n, a, kw in rec.calls]
    assert calls == [
        ("on_train_begin", ({},), {}),
        ("on_epoch_begin", (0, {}), {}),
        ("on_train_batch_begin", (0,), {"logs": []}),
        ("on_train_batch_end", (0,), {"logs": ["loss"]}),
        ("on_batch_begin", (1,), {"logs": []}),
        ("on_batch_end", (1,), {"logs": []}),
        ("on_epoch_end", (0, {"loss": 1.0}), {}),
        ("on_train_end", ({"loss": 1.0},), {}),
        ("on_test_begin", ({},), {}),
        ("on_test_batch_begin", (0,), {"logs": []}),
        ("on_test_batch_end", (0,), {"logs": ["loss"]}),
        ("on_test_end", ({"loss": 2.0},), {}),
        ("on_predict_begin", ({},), {}),
        ("on_predict_batch_begin", (0,), {"logs": []}),
        ("on_predict_batch_end", (0,), {"logs": ["outputs"]}),
        ("on_predict_end", ({},), {}),
    ]


def test_callback_list_end_without_begin():
    for which in ["train", "test", "predict"]:
        callbacks = CallbackList()
        with pytest.raises(ValueError, match="`on_xxx_end` called without corresponding"):
            getattr(callbacks, f"on_{which}_end")()
    callbacks = CallbackList()
    callbacks.on_train_begin()
    callbacks.on_test_begin()  # validation nests inside fit
    callbacks.on_test_end()
    callbacks.on_train_end()


def test_fit_hook_order_with_validation():
    rec = Recorder()
    model = FakeModel()
    callbacks = make_list(dcb, [rec], model, epochs=2, steps=2)
    fit_loop(callbacks, model, 2, 2, val_logs=lambda e: {"loss": 0.5}, val_steps=1)
    names = [name for name, _, _ in rec.calls]
    epoch = ["on_epoch_begin",
             "on_train_batch_begin", "on_train_batch_end",
             "on_train_batch_begin", "on_train_batch_end",
             "on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end",
             "on_epoch_end"]
    assert names == ["on_train_begin"] + epoch * 2 + ["on_train_end"]
    assert rec.calls[-2][1] == (1, {"loss": 1.0, "val_loss": 0.5})
    assert model.history.history == {"loss": [1.0, 1.0], "val_loss": [0.5, 0.5]}


# ------------------------------------------------------------------------ History
def test_history_records_epochs():
    model = FakeModel()
    callbacks = make_list(dcb, [], model, epochs=3, steps=1)
    ran = fit_loop(callbacks, model, 3, 1, epoch_logs=lambda e: {"loss": 1.0 / (e + 1),
                                                                   "acc": np.float32(0.5)})
    history = model.history
    assert ran == [0, 1, 2] and history.epoch == [0, 1, 2]
    assert history.history == {"acc": [0.5] * 3, "loss": [1.0, 0.5, 1.0 / 3]}
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 1}
    # A reused History keeps its record and restarts `epoch` (Keras).
    fit_loop(CallbackList([history], model=model), model, 1, 1)
    assert history.epoch == [0] and history.history["loss"] == [1.0, 0.5, 1.0 / 3, 1.0]


def test_history_sees_learning_rate_added_by_earlier_callbacks():
    model = FakeModel(FakeOptimizer(0.5))
    sched = LearningRateScheduler(lambda epoch, lr: lr / 2)
    callbacks = make_list(dcb, [sched], model, epochs=2, steps=1)
    fit_loop(callbacks, model, 2, 1)
    assert model.history.history["learning_rate"] == [0.25, 0.125]


# ------------------------------------------------------------------ EarlyStopping
# (kwargs, monitored values, epochs ran, stopped_epoch, best_epoch restored or None)
EARLY_STOPPING_CASES = [
    ({"monitor": "loss", "patience": 2}, [1.0, 0.9, 0.95, 0.97, 0.5, 0.4], 4, 3, None),
    ({"monitor": "loss", "patience": 0}, [1.0, 0.9, 0.95, 0.5], 3, 2, None),
    ({"monitor": "loss", "patience": 2, "restore_best_weights": True},
     [1.0, 0.9, 0.95, 0.97, 0.5], 4, 3, 1),
    ({"monitor": "loss", "patience": 2, "min_delta": 0.1, "restore_best_weights": True},
     [1.0, 0.95, 0.85, 0.9, 0.89, 0.1], 5, 4, 2),
    ({"monitor": "loss", "patience": 2, "min_delta": -0.1, "mode": "min"},
     [1.0, 0.95, 0.85, 0.9, 0.89, 0.1], 5, 4, None),
    ({"monitor": "acc", "patience": 2, "mode": "max", "restore_best_weights": True},
     [0.5, 0.6, 0.55, 0.58, 0.9], 4, 3, 1),
    ({"monitor": "loss", "patience": 2, "baseline": 0.5, "restore_best_weights": True},
     [1.0, 0.9, 0.95, 0.2, 0.1], 3, 2, 1),
    ({"monitor": "loss", "patience": 2, "baseline": 0.5},
     [1.0, 0.9, 0.8, 0.7, 0.6, 0.55], 6, 0, None),
    ({"monitor": "loss", "patience": 2, "baseline": 0.5},
     [1.0, 0.4, 0.45, 0.46, 0.47], 4, 3, None),
    ({"monitor": "loss", "patience": 1, "start_from_epoch": 2, "restore_best_weights": True},
     [0.1, 0.2, 0.3, 0.4, 0.5], 4, 3, 2),
    ({"monitor": "loss", "patience": 1}, [1.0, math.nan, math.nan], 2, 1, None),
    ({"monitor": "loss", "patience": 1, "restore_best_weights": True},
     [math.nan, 1.0, 2.0], 2, 1, 0),  # NaN is a first best nothing improves on
    ({"monitor": "loss", "patience": 5, "restore_best_weights": True},
     [1.0, 0.5, 0.6, 0.7], 4, 0, 1),
    ({"monitor": "loss", "patience": 1, "restore_best_weights": True},
     [3.0, 2.0, 1.0], 3, 0, 2),
]


def run_early_stopping(module, kwargs, values):
    model = FakeModel()
    stopper = module.EarlyStopping(**kwargs)
    callbacks = make_list(module, [stopper], model, epochs=len(values), steps=1)
    ran = fit_loop(callbacks, model, len(values), 1, epoch_logs=monitored(values, kwargs["monitor"]))
    return len(ran), stopper.stopped_epoch, int(model.weights[0][0, 0]) - 1


@pytest.mark.parametrize("kwargs, values, n_ran, stopped, best", EARLY_STOPPING_CASES)
def test_early_stopping_sequences(kwargs, values, n_ran, stopped, best):
    got_ran, got_stopped, final = run_early_stopping(dcb, kwargs, values)
    assert (got_ran, got_stopped) == (n_ran, stopped)
    # Without restoring, the weights are the last epoch's.
    assert final == (best if best is not None else n_ran - 1)


def test_early_stopping_auto_mode_uses_metric_direction():
    values = [0.5, 0.6, 0.55, 0.58, 0.9]
    for metrics in ([FakeMetricsContainer([FakeMetric("accuracy", "up")])],
                    [FakeMetric("accuracy", "up")]):
        model = FakeModel(metrics=metrics)
        stopper = EarlyStopping(monitor="val_accuracy", patience=2)
        ran = fit_loop(CallbackList([stopper], model=model), model, 5, 1,
                       epoch_logs=lambda e: {"loss": 1.0, "val_accuracy": values[e]})
        assert ran == [0, 1, 2, 3] and stopper.best == 0.6
    model = FakeModel(metrics=[FakeMetric("mse", "down")])
    stopper = EarlyStopping(monitor="mse", patience=1)
    ran = fit_loop(CallbackList([stopper], model=model), model, 5, 1,
                   epoch_logs=monitored([3.0, 2.0, 2.5, 1.0, 0.0], "mse"))
    assert ran == [0, 1, 2]


def test_early_stopping_auto_mode_unknown_metric():
    model = FakeModel(metrics=[FakeMetric("accuracy")])  # no direction
    stopper = EarlyStopping(monitor="val_accuracy")
    callbacks = CallbackList([stopper], model=model)
    callbacks.on_train_begin()
    msg = ("EarlyStopping callback received monitor=val_accuracy, but densekit isn't able "
           "to automatically determine whether that metric should be maximized or "
           "minimized. Pass `mode='max'`")
    with pytest.raises(ValueError, match=re.escape(msg)):
        callbacks.on_epoch_end(0, {"val_accuracy": 0.5})


def test_early_stopping_missing_monitor_warns():
    model = FakeModel()
    stopper = EarlyStopping(patience=0)  # val_loss
    with pytest.warns(UserWarning, match=re.escape(
            "Early stopping conditioned on metric `val_loss` which is not available. "
            "Available metrics are: acc,loss")):
        ran = fit_loop(CallbackList([stopper], model=model), model, 3, 1,
                       epoch_logs=lambda e: {"loss": 1.0 + e, "acc": 0.0})
    assert ran == [0, 1, 2] and stopper.best is None


def test_early_stopping_is_reset_by_each_fit():
    model = FakeModel()
    stopper = EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    fit_loop(CallbackList([stopper], model=model), model, 5, 1,
             epoch_logs=monitored([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert (stopper.stopped_epoch, stopper.best) == (1, 1.0)
    ran = fit_loop(CallbackList([stopper], model=model), model, 3, 1,
                   epoch_logs=monitored([9.0, 8.0, 7.0]))
    assert ran == [0, 1, 2] and (stopper.stopped_epoch, stopper.best, stopper.wait) == (0, 7.0, 0)


def test_early_stopping_verbose(capsys):
    model = FakeModel()
    stopper = EarlyStopping(monitor="loss", patience=1, verbose=1, restore_best_weights=True)
    fit_loop(CallbackList([stopper], model=model), model, 5, 1,
             epoch_logs=monitored([1.0, 0.5, 0.7, 0.8, 0.1]))
    assert capsys.readouterr().out == (
        "Epoch 3: early stopping\n"
        "Restoring model weights from the end of the best epoch: 2.\n"
    )


def test_early_stopping_keeps_weight_copies():
    model = FakeModel()
    stopper = EarlyStopping(monitor="loss", patience=3, restore_best_weights=True)
    callbacks = CallbackList([stopper], model=model)
    callbacks.on_train_begin()
    model.weights[0][...] = 7
    callbacks.on_epoch_end(0, {"loss": 0.1})
    model.weights[0][...] = 8  # training in place must not touch the saved best
    callbacks.on_epoch_end(1, {"loss": 0.2})
    callbacks.on_train_end()
    assert_array_equal(model.weights[0], np.full((2, 3), 7))


def test_early_stopping_mode_and_argument_errors():
    with pytest.warns(UserWarning, match="EarlyStopping mode 'maximum' is unknown, fallback to auto mode."):
        assert EarlyStopping(mode="maximum").mode == "auto"
    for kwargs, msg in [
        ({"patience": -1}, "Argument `patience` must be a non-negative integer. Received: patience=-1"),
        ({"patience": 1.5}, "Argument `patience` must be a non-negative integer. Received: patience=1.5"),
        ({"start_from_epoch": "2"}, "Argument `start_from_epoch` must be a non-negative integer. Received: start_from_epoch='2'"),
        ({"min_delta": "0.1"}, "Argument `min_delta` must be a number. Received: min_delta='0.1'"),
        ({"baseline": math.nan}, "Argument `baseline` must be a number. Received: baseline=nan"),
        ({"verbose": None}, "Argument `verbose` must be a non-negative integer. Received: verbose=None"),
    ]:
        with pytest.raises(ValueError, match=re.escape(msg)):
            EarlyStopping(**kwargs)
    with pytest.raises(TypeError, match=re.escape("Argument `monitor` must be a string. Received: monitor=None")):
        EarlyStopping(monitor=None)
    assert EarlyStopping(verbose=True).verbose is True  # Keras code passes bools too
    assert ModelCheckpoint("m.keras", verbose=True).verbose is True
    stopper = EarlyStopping(min_delta=-0.5, baseline=2)
    assert stopper.min_delta == 0.5 and stopper.baseline == 2 and stopper.best is None


# ---------------------------------------------------------------- ModelCheckpoint
def run_checkpoint(module, tmp_path, filepath, values=None, epochs=4, steps=1, monitor="val_loss",
                   batch_logs=None, **kwargs):
    model = FakeModel()
    checkpoint = module.ModelCheckpoint(str(tmp_path / filepath), monitor=monitor, **kwargs)
    values = values or [0.5] * epochs
    fit_loop(make_list(module, [checkpoint], model, epochs, steps), model, epochs, steps,
             batch_logs=batch_logs,
             epoch_logs=lambda e: {"loss": 1.0 + e, monitor: values[e]})
    return [os.path.relpath(path, tmp_path) for _, path in model.saved], model, checkpoint


def read(path):
    with open(path) as f:
        return f.read()


def test_checkpoint_filepath_templates(tmp_path):
    saved, model, _ = run_checkpoint(dcb, tmp_path, "w.{epoch:02d}.weights.h5",
                                     save_weights_only=True, epochs=3)
    assert saved == ["w.01.weights.h5", "w.02.weights.h5", "w.03.weights.h5"]
    assert [kind for kind, _ in model.saved] == ["weights"] * 3
    assert read(tmp_path / "w.03.weights.h5") == "weights 3"
    saved, model, _ = run_checkpoint(dcb, tmp_path, "sub/dir/{epoch:02d}-{val_loss:.2f}-{loss:.1f}.keras",
                                     values=[0.123, 0.456, 0.789], epochs=3)
    assert saved == ["sub/dir/01-0.12-1.0.keras", "sub/dir/02-0.46-2.0.keras",
                     "sub/dir/03-0.79-3.0.keras"]
    assert [kind for kind, _ in model.saved] == ["model"] * 3
    saved, _, _ = run_checkpoint(dcb, tmp_path, "legacy.h5", epochs=1)  # accepted as in Keras
    assert saved == ["legacy.h5"]


def test_checkpoint_pathlike(tmp_path):
    checkpoint = ModelCheckpoint(tmp_path / "m.keras")
    assert checkpoint.filepath == str(tmp_path / "m.keras")


def test_checkpoint_save_best_only(tmp_path):
    saved, model, checkpoint = run_checkpoint(
        dcb, tmp_path, "best.keras", values=[0.5, 0.6, 0.4, 0.4, 0.39], epochs=5,
        save_best_only=True)
    assert saved == ["best.keras"] * 3 and checkpoint.best == 0.39
    assert read(tmp_path / "best.keras") == "model 5"
    saved, _, _ = run_checkpoint(dcb, tmp_path, "e{epoch}.keras", values=[0.5, 0.6, 0.4, 0.4],
                                 save_best_only=True)
    assert saved == ["e1.keras", "e3.keras"]
    saved, _, _ = run_checkpoint(dcb, tmp_path, "a{epoch}.keras", monitor="val_acc",
                                 values=[0.5, 0.6, 0.4, 0.7], save_best_only=True, mode="max")
    assert saved == ["a1.keras", "a2.keras", "a4.keras"]
    saved, _, _ = run_checkpoint(dcb, tmp_path, "t{epoch}.keras", values=[0.5, 0.3, 0.35, 0.2],
                                 save_best_only=True, initial_value_threshold=0.4)
    assert saved == ["t2.keras", "t4.keras"]


def test_checkpoint_best_is_kept_across_fits(tmp_path):
    model = FakeModel()
    checkpoint = ModelCheckpoint(str(tmp_path / "b{epoch}.keras"), monitor="loss",
                                 save_best_only=True)
    for values in ([0.5, 0.4], [0.45, 0.3]):
        fit_loop(CallbackList([checkpoint], model=model), model, 2, 1,
                 epoch_logs=monitored(values))
    assert [os.path.basename(p) for _, p in model.saved] == ["b1.keras", "b2.keras", "b2.keras"]


def test_checkpoint_save_freq_batches(tmp_path):
    saved, _, _ = run_checkpoint(dcb, tmp_path, "m-e{epoch}-b{batch}.keras", epochs=2, steps=5,
                                 save_freq=3)
    assert saved == ["m-e1-b3.keras", "m-e2-b1.keras", "m-e2-b4.keras"]
    # A "batch" key in the logs fills the field instead of the batch index.
    saved, _, _ = run_checkpoint(dcb, tmp_path, "n-{batch}.keras", epochs=1, steps=4, save_freq=2,
                                 batch_logs=lambda e, s: {"loss": 1.0, "batch": 10 * s})
    assert saved == ["n-10.0.keras", "n-30.0.keras"]


def test_checkpoint_save_freq_counts_skipped_steps(tmp_path):
    model = FakeModel()
    checkpoint = ModelCheckpoint(str(tmp_path / "s{epoch}-{batch}.keras"), save_freq=4)
    callbacks = CallbackList([checkpoint], model=model)
    callbacks.on_train_begin()
    for epoch in range(2):
        callbacks.on_epoch_begin(epoch)
        for step in (1, 3, 5):  # steps_per_execution=2: end steps only
            callbacks.on_train_batch_end(step, {"loss": 1.0})
    assert [os.path.basename(p) for _, p in model.saved] == ["s1-4.keras", "s2-2.keras", "s2-6.keras"]


def test_checkpoint_save_freq_with_save_best_only(tmp_path):
    # Keras 3.15 raises TypeError here (its comparison is set up at the first epoch end).
    losses = [0.9, 0.8, 0.85, 0.7, 0.75, 0.6]
    saved, _, _ = run_checkpoint(dcb, tmp_path, "q-{batch}.keras", monitor="loss", epochs=1,
                                 steps=6, save_freq=1, save_best_only=True,
                                 batch_logs=lambda e, s: {"loss": losses[s]})
    assert saved == ["q-1.keras", "q-2.keras", "q-4.keras", "q-6.keras"]


def test_checkpoint_missing_or_array_monitor_saves_with_warning(tmp_path):
    model = FakeModel()
    checkpoint = ModelCheckpoint(str(tmp_path / "w{epoch}.keras"), save_best_only=True)
    callbacks = CallbackList([checkpoint], model=model)
    callbacks.on_train_begin()
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available."):
        callbacks.on_epoch_end(0, {"loss": 1.0})
    with pytest.warns(UserWarning, match=re.escape(
            "Can save best model only when `monitor` is a scalar value. Received: [1. 2.]. "
            "Falling back to `save_best_only=False`.")):
        callbacks.on_epoch_end(1, {"val_loss": np.array([1.0, 2.0])})
    assert len(model.saved) == 2


def test_checkpoint_verbose(tmp_path, capsys):
    path = str(tmp_path / "v.keras")
    run_checkpoint(dcb, tmp_path, "v.keras", values=[0.5, 0.6, 0.25], epochs=3,
                   save_best_only=True, verbose=1)
    assert capsys.readouterr().out == (
        f"\nEpoch 1: val_loss improved from None to 0.50000, saving model to {path}\n"
        f"\nEpoch 1: finished saving model to {path}\n"
        "\nEpoch 2: val_loss did not improve from 0.50000\n"
        f"\nEpoch 3: val_loss improved from 0.50000 to 0.25000, saving model to {path}\n"
        f"\nEpoch 3: finished saving model to {path}\n"
    )
    run_checkpoint(dcb, tmp_path, "v.keras", epochs=1, verbose=1)
    assert capsys.readouterr().out == (
        f"\nEpoch 1: saving model to {path}\n\nEpoch 1: finished saving model to {path}\n"
    )


def test_checkpoint_errors(tmp_path):
    msg = ("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided "
           "must end in `.weights.h5` (Keras weights format). Received: filepath=w.h5")
    with pytest.raises(ValueError, match=re.escape(msg)):
        ModelCheckpoint("w.h5", save_weights_only=True)
    msg = ("The filepath provided must end in `.keras` (Keras model format). "
           "Received: filepath=m.weights.h5.tmp")
    with pytest.raises(ValueError, match=re.escape(msg)):
        ModelCheckpoint("m.weights.h5.tmp")
    for freq in ["batch", 1.5, None]:
        with pytest.raises(ValueError, match=re.escape(
                f"Unrecognized save_freq: {freq}. Expected save_freq are 'epoch' or integer values")):
            ModelCheckpoint("m.keras", save_freq=freq)
    with pytest.raises(TypeError, match=re.escape(
            "Argument `filepath` must be a string or an os.PathLike. Received: filepath=None")):
        ModelCheckpoint(None)
    with pytest.raises(ValueError, match="Argument `initial_value_threshold` must be a number"):
        ModelCheckpoint("m.keras", initial_value_threshold="low")

    model = FakeModel()
    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}-{val_acc:.2f}.keras"))
    callbacks = CallbackList([checkpoint], model=model)
    callbacks.on_train_begin()
    with pytest.raises(KeyError) as excinfo:
        callbacks.on_epoch_end(0, {"val_loss": 1.0})
    assert excinfo.value.args[0] == (
        f'Failed to format this callback filepath: "{tmp_path}/{{epoch}}-{{val_acc:.2f}}.keras". '
        "Reason: 'val_acc'")

    (tmp_path / "taken.keras").mkdir()

    class DirModel(FakeModel):
        def save(self, path, overwrite=True):
            open(path, "w").close()

    checkpoint = ModelCheckpoint(str(tmp_path / "taken.keras"))
    callbacks = CallbackList([checkpoint], model=DirModel())
    with pytest.raises(OSError, match=re.escape(
            "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an "
            f"existing directory: {tmp_path}/taken.keras")):
        callbacks.on_epoch_end(0, {"val_loss": 1.0})


def test_checkpoint_with_densekit_sequential(tmp_path):
    pytest.importorskip("h5py")
    from densekit.layers import Dense, Input
    from densekit.models import Sequential

    model = Sequential([Input((3,)), Dense(2)])
    start = model.get_weights()
    checkpoint = ModelCheckpoint(str(tmp_path / "d.weights.h5"), monitor="loss",
                                 save_weights_only=True, save_best_only=True)
    stopper = EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    callbacks = CallbackList([checkpoint, stopper], add_history=True, model=model,
                             verbose=0, epochs=5, steps=1)
    losses = [1.0, 0.5, 0.7, 0.8, 0.1]
    model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(5):
        callbacks.on_epoch_begin(epoch)
        model.set_weights([w + epoch + 1 for w in start])
        callbacks.on_epoch_end(epoch, {"loss": losses[epoch]})
        if model.stop_training:
            break
    callbacks.on_train_end()
    assert epoch == 2 and model.history.history["loss"] == [1.0, 0.5, 0.7]
    for got, w in zip(model.get_weights(), start):
        assert_array_equal(got, w + 2)
    reloaded = Sequential([Input((3,)), Dense(2)])
    reloaded.load_weights(tmp_path / "d.weights.h5")
    for got, w in zip(reloaded.get_weights(), start):
        assert_array_equal(got, w + 2)


# ----------------------------------------------------------- LearningRateScheduler
def test_learning_rate_scheduler_sets_and_logs():
    model = FakeModel(FakeOptimizer(0.1))
    seen = []
    sched = LearningRateScheduler(lambda epoch, lr: seen.append((epoch, lr)) or lr * 0.5
                                  if epoch >= 1 else lr)
    callbacks = make_list(dcb, [sched], model, epochs=3, steps=1)
    fit_loop(callbacks, model, 3, 1, initial_epoch=0)
    lr0 = float(np.float32(0.1))
    assert [epoch for epoch, _ in seen] == [1, 2]
    assert seen[0][1] == lr0 and type(seen[0][1]) is float
    assert model.history.history["learning_rate"] == [
        lr0, float(np.float32(lr0 * 0.5)), float(np.float32(np.float32(lr0 * 0.5) * 0.5))]


def test_learning_rate_scheduler_one_argument_schedule_and_types():
    model = FakeModel(FakeOptimizer(0.1))
    sched = LearningRateScheduler(lambda epoch: np.float64(0.01 * (epoch + 1)))
    sched.set_model(model)
    sched.on_epoch_begin(2)
    assert model.optimizer.learning_rate == np.float32(0.03)
    sched = LearningRateScheduler(lambda epoch, lr: 1)
    sched.set_model(model)
    with pytest.raises(ValueError, match=re.escape(
            "The output of the `schedule` function should be a float. Got: 1")):
        sched.on_epoch_begin(0)
    sched = LearningRateScheduler(lambda epoch, lr: np.float32(lr))
    sched.set_model(model)
    sched.on_epoch_begin(0)


def test_learning_rate_scheduler_errors():
    with pytest.raises(TypeError, match=re.escape(
            "Argument `schedule` must be callable. Received: schedule=0.1")):
        LearningRateScheduler(0.1)
    model = FakeModel(FakeOptimizer(0.1, schedule=True))
    sched = LearningRateScheduler(lambda epoch, lr: lr)
    sched.set_model(model)
    with pytest.raises(TypeError, match=re.escape(SCHEDULE_ERROR)):
        sched.on_epoch_begin(0)
    model.optimizer = object()
    with pytest.raises(ValueError, match='Optimizer must have a "learning_rate" attribute.'):
        sched.on_epoch_begin(0)


def test_learning_rate_scheduler_verbose(capsys):
    model = FakeModel(FakeOptimizer(0.5))
    sched = LearningRateScheduler(lambda epoch, lr: lr / 4, verbose=1)
    sched.set_model(model)
    sched.on_epoch_begin(0)
    sched.on_epoch_begin(1)
    assert capsys.readouterr().out == (
        "\nEpoch 1: LearningRateScheduler setting learning rate to 0.125.\n"
        "\nEpoch 2: LearningRateScheduler setting learning rate to 0.03125.\n"
    )


def test_learning_rate_scheduler_several_optimizers(capsys):
    model = FakeModel()
    model.optimizer = types.SimpleNamespace(
        optimizers=[FakeOptimizer(1.0, name="a"), FakeOptimizer(2.0, name="b")])
    sched = LearningRateScheduler(lambda epoch, lr: lr * 0.5, verbose=1)
    callbacks = CallbackList([sched], add_history=True, model=model)
    fit_loop(callbacks, model, 1, 1)
    assert capsys.readouterr().out == (
        "\nEpoch 1: LearningRateScheduler setting a learning rate to 0.5.\n"
        "\nEpoch 1: LearningRateScheduler setting b learning rate to 1.0.\n"
    )
    assert model.history.history == {"learning_rate_a": [0.5], "learning_rate_b": [1.0],
                                     "loss": [1.0]}


# --------------------------------------------------------------- ReduceLROnPlateau
def run_plateau(module, values, lr=1.0, epochs=None, **kwargs):
    model = FakeModel(FakeOptimizer(lr))
    reduce = module.ReduceLROnPlateau(monitor="loss", **kwargs)
    epochs = epochs or len(values)
    fit_loop(make_list(module, [reduce], model, epochs, 1), model, epochs, 1,
             epoch_logs=monitored(values))
    return model.history.history["learning_rate"], float(model.optimizer.learning_rate)


def test_reduce_lr_on_plateau_sequence():
    f32 = lambda x: float(np.float32(x))  # noqa: E731
    lrs, final = run_plateau(dcb, [1.0] * 10, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, f32(0.2), f32(0.2), f32(0.2)]
    assert final == f32(0.2)
    # min_delta: 0.99995 does not improve on 1.0 by 1e-4, 0.9 does.
    lrs, final = run_plateau(dcb, [1.0, 0.99995, 0.9, 0.9], factor=0.1, patience=1)
    assert lrs == [1.0, 1.0, f32(0.1), f32(0.1)] and final == f32(f32(0.1) * 0.1)
    lrs, final = run_plateau(dcb, [1.0, 2.0, 3.0, 2.0, 1.0], factor=0.5, patience=1, mode="max")
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5] and final == 0.25
    # The cooldown count goes down before it is tested, so cooldown=2 skips one epoch.
    lrs, final = run_plateau(dcb, [5.0, 5.0, 5.0, 5.0, 5.0, 5.0], factor=0.5, patience=1, cooldown=2)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25] and final == 0.125


def test_reduce_lr_on_plateau_is_reset_by_each_fit():
    model = FakeModel(FakeOptimizer(1.0))
    reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
    for _ in range(2):
        fit_loop(CallbackList([reduce], model=model), model, 2, 1, epoch_logs=monitored([1.0, 1.0]))
    assert model.optimizer.learning_rate == 0.25


def test_reduce_lr_on_plateau_verbose_and_warnings(capsys):
    model = FakeModel(FakeOptimizer(0.5))
    reduce = ReduceLROnPlateau(factor=0.5, patience=0, verbose=1)
    callbacks = CallbackList([reduce], model=model)
    callbacks.on_train_begin()
    callbacks.on_epoch_end(0, {"val_loss": 1.0})
    callbacks.on_epoch_end(1, {"val_loss": 1.0})
    assert capsys.readouterr().out == "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.25.\n"
    with pytest.warns(UserWarning, match=re.escape(
            "Learning rate reduction is conditioned on metric `val_loss` which is not "
            "available. Available metrics are: loss,learning_rate.")):
        callbacks.on_epoch_end(2, {"loss": 1.0})
    model.optimizer = FakeOptimizer(0.5, schedule=True)
    callbacks.on_epoch_end(3, {"val_loss": 0.5})  # an improvement: nothing is set
    with pytest.raises(TypeError, match=re.escape(SCHEDULE_ERROR)):
        callbacks.on_epoch_end(4, {"val_loss": 2.0})


def test_reduce_lr_on_plateau_errors():
    for factor in [1.0, 2]:
        with pytest.raises(ValueError, match=re.escape(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")):
            ReduceLROnPlateau(factor=factor)
    with pytest.raises(ValueError, match="Argument `factor` must be a number"):
        ReduceLROnPlateau(factor="0.5")
    with pytest.raises(ValueError, match="Argument `cooldown` must be a non-negative integer"):
        ReduceLROnPlateau(cooldown=-1)
    with pytest.raises(ValueError, match="Argument `min_lr` must be a number"):
        ReduceLROnPlateau(min_lr=None)
    with pytest.warns(UserWarning, match="ReduceLROnPlateau mode 'up' is unknown"):
        ReduceLROnPlateau(mode="up")
    reduce = ReduceLROnPlateau(epsilon=1e-3)  # legacy keywords are ignored, as in Keras
    assert (reduce.factor, reduce.patience, reduce.min_delta, reduce.cooldown, reduce.min_lr) == (
        0.1, 10, 1e-4, 0, 0.0)


# ------------------------------------------------------------------ TerminateOnNaN
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_terminate_on_nan(bad, capsys):
    model = FakeModel()
    losses = [1.0, 0.5, bad, 0.2]
    ran = fit_loop(make_list(dcb, [TerminateOnNaN()], model, 3, 4), model, 3, 4,
                   batch_logs=lambda e, s: {"loss": losses[s]})
    assert ran == [0] and model.history.epoch == [0]
    assert capsys.readouterr().out == "Batch 2: Invalid loss, terminating training\n"


def test_terminate_on_nan_raise_error_and_scope():
    model = FakeModel()
    callbacks = CallbackList([TerminateOnNaN(raise_error=True)], model=model)
    callbacks.on_test_batch_end(0, {"loss": math.nan})  # only training batches count
    callbacks.on_train_batch_end(0, {"acc": math.nan})
    with pytest.raises(RuntimeError, match=re.escape(
            "NaN or Inf loss encountered at batch 5. Loss value: inf. Terminating training "
            "immediately.")):
        callbacks.on_train_batch_end(5, {"loss": math.inf})
    assert model.stop_training is False


# ---------------------------------------------------------------------- CSVLogger
def run_csv(module, path, epochs_logs, **kwargs):
    model = FakeModel()
    logger = module.CSVLogger(str(path), **kwargs)
    fit_loop(make_list(module, [logger], model, len(epochs_logs), 1), model,
             len(epochs_logs), 1, epoch_logs=lambda e: epochs_logs[e])
    return path.read_bytes()


CSV_RUN = [
    {"loss": np.float32(0.5), "accuracy": 0.25, "val_loss": 0.75, "val_accuracy": 0.125},
    {"loss": np.float32(0.1), "accuracy": 1 / 3, "val_loss": 0.5, "val_accuracy": 0.0},
]


def test_csv_logger_bytes(tmp_path):
    data = run_csv(dcb, tmp_path / "log.csv", CSV_RUN)
    assert data == (b"epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                    b"0,0.25,0.5,0.125,0.75\r\n"
                    b"1,0.3333333333333333,0.10000000149011612,0.0,0.5\r\n")
    data = run_csv(dcb, tmp_path / "t.tsv", [{"loss": 1.0}, {"loss": 2.0, "extra": 3.0}],
                   separator="\t")
    assert data == b"epoch\tloss\tval_loss\r\n0\t1.0\tNA\r\n1\t2.0\tNA\r\n"
    data = run_csv(dcb, tmp_path / "q.csv", [{"loss": 1.0, "val_loss": 2.0, "name": "a,b",
                                              "vec": np.array([1.5, 2.0])}, {"loss": 3.0}])
    assert data == (b'epoch,loss,name,val_loss,vec\r\n'
                    b'0,1.0,"a,b",2.0,"""[1.5, 2.0]"""\r\n'
                    b'1,3.0,NA,NA,NA\r\n')


def test_csv_logger_append(tmp_path):
    path = tmp_path / "log.csv"
    run_csv(dcb, path, CSV_RUN[:1], append=True)
    data = run_csv(dcb, path, CSV_RUN[1:], append=True)
    assert data == (b"epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                    b"0,0.25,0.5,0.125,0.75\r\n"
                    b"0,0.3333333333333333,0.10000000149011612,0.0,0.5\r\n")
    data = run_csv(dcb, path, CSV_RUN[1:])  # append=False overwrites
    assert data.count(b"\r\n") == 2
    path.write_bytes(b"")
    data = run_csv(dcb, path, CSV_RUN[:1], append=True)  # an empty file gets the header
    assert data.startswith(b"epoch,")


def test_csv_logger_flushes_every_epoch_and_closes(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 1.0})
    assert path.read_bytes() == b"epoch,loss,val_loss\r\n0,1.0,NA\r\n"
    logger.on_train_begin()  # a second fit reopens (and truncates) the file
    logger.on_epoch_end(0, {"loss": 2.0})
    logger.on_train_end()
    assert logger.csv_file.closed and path.read_bytes() == b"epoch,loss,val_loss\r\n0,2.0,NA\r\n"


def test_csv_logger_errors():
    with pytest.raises(ValueError, match=re.escape(
            "Argument `separator` must be a 1-character string. Received: separator=', '")):
        CSVLogger("x.csv", separator=", ")
    with pytest.raises(TypeError, match="Argument `separator` must be a 1-character string"):
        CSVLogger("x.csv", separator=None)
    with pytest.raises(TypeError, match="Argument `filename` must be a string or an os.PathLike"):
        CSVLogger(3)


# ----------------------------------------------------------------- LambdaCallback
def test_lambda_callback():
    calls = []
    cb = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("eb", epoch, logs)),
        on_epoch_end=lambda epoch, logs: calls.append(("ee", epoch, logs)),
        on_train_begin=lambda logs: calls.append(("tb", logs)),
        on_train_end=lambda logs: calls.append(("te", logs)),
        on_train_batch_begin=lambda batch, logs: calls.append(("bb", batch, logs)),
        on_train_batch_end=lambda batch, logs: calls.append(("be", batch, logs)),
        on_test_begin=lambda logs: calls.append(("vb", logs)),
        custom=5,
    )
    assert cb.custom == 5
    model = FakeModel()
    fit_loop(CallbackList([cb], model=model), model, 1, 1, epoch_logs=lambda e: {"loss": 2},
             val_logs=lambda e: {"loss": 3}, val_steps=0)
    assert calls == [("tb", {}), ("eb", 0, {}), ("bb", 0, {}), ("be", 0, {"loss": 1.0}),
                     ("vb", {}), ("ee", 0, {"loss": 2.0, "val_loss": 3.0}),
                     ("te", {"loss": 2.0, "val_loss": 3.0})]
    plain = LambdaCallback()
    assert plain.on_epoch_end(0) is None and plain.on_train_batch_end(0) is None


# ---------------------------------------------------------------- ProgbarLogger
B, R, G, W, H = "\x1b[1m", "\x1b[0m", "\x1b[32m", "\x1b[37m", "\u2501"


def bar(count, filled, width=20):
    green = f"{G}{H * filled}{R}" if filled else ""
    return f"{B}{count}{R} {green}{W}{H * (width - filled)}{R}"


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(_progbar, "time", fake)
    return fake


def progbar_fit(module, clock, verbose, epochs=2, steps=3, step_time=0.1, val=True, logs=None):
    model = FakeModel()
    logs = logs or {"loss": 0.5, "accuracy": 0.25}
    callbacks = module.CallbackList([module.ProgbarLogger()], add_history=True, model=model,
                                    verbose=verbose, epochs=epochs, steps=steps)

    def batch_logs(epoch, step):
        clock.t += step_time - 0.1  # fit_loop adds 0.1 s per batch
        return {k: v / (step + 1) for k, v in logs.items()}

    fit_loop(callbacks, model, epochs, steps, batch_logs=batch_logs,
             epoch_logs=lambda e: {k: v / steps for k, v in logs.items()},
             val_logs=(lambda e: {"loss": 0.0625, "accuracy": 0.5}) if val else None,
             clock=clock)


def vis(text):
    """The visible width of a progress line (ANSI colour codes take no room)."""
    return len(re.sub(r"\x1b\[[0-9;]*m", "", text))


def redraw(previous, text):
    """A dynamic-display update: erase the previous line, draw `text`, pad if shorter."""
    return "\b" * vis(previous) + "\r" + text + " " * max(0, vis(previous) - vis(text))


def test_progbar_verbose_1_format(clock, capsys):
    progbar_fit(dcb, clock, verbose=1)
    out = capsys.readouterr().out
    # Batch 1 took 0.1 s; the ETA for two more steps is 0.2 s, shown as 0s. Later
    # batches: 0.1 s per step since step one; the epoch end redraws with the elapsed
    # time and the epoch logs (training, then validation) and ends the line.
    first = f"{bar('1/3', 6)} {B}0s{R} 100ms/step - accuracy: 0.2500 - loss: 0.5000"
    second = f"{bar('2/3', 13)} {B}0s{R} 100ms/step - accuracy: 0.1250 - loss: 0.2500"
    third = f"{bar('3/3', 20)} {B}0s{R} 100ms/step - accuracy: 0.0833 - loss: 0.1667"
    final = (f"{bar('3/3', 20)} {B}0s{R} 100ms/step - accuracy: 0.0833 - loss: 0.1667 "
             "- val_accuracy: 0.5000 - val_loss: 0.0625")
    assert vis(first) == 4 + 20 + len(" 0s 100ms/step - accuracy: 0.2500 - loss: 0.5000")
    epoch = ("\r" + first + redraw(first, second) + redraw(second, third)
             + redraw(third, final) + "\n")
    assert out == "Epoch 1/2\n" + epoch + "Epoch 2/2\n" + epoch


def padding_scenario(module, clock):
    model = FakeModel()
    callbacks = module.CallbackList([module.ProgbarLogger()], model=model, verbose=1, epochs=1,
                                    steps=200)
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    clock.t += 2.0
    callbacks.on_train_batch_end(0, {"loss": 12.5, "mae": 0.0005})
    clock.t += 0.01  # throttled: within 0.05 s of the last redraw
    callbacks.on_train_batch_end(1, {"loss": 1.0})
    clock.t += 30.0
    callbacks.on_train_batch_end(4, {"loss": 0.5, "mae": 0.25})
    clock.t += 0.08
    callbacks.on_train_batch_end(199, {"loss": 0.0001, "mae": -0.5})
    clock.t += 0.5
    callbacks.on_epoch_end(0, {"loss": 0.25})


def test_progbar_verbose_1_padding_eta_and_units(clock, capsys):
    padding_scenario(dcb, clock)
    out = capsys.readouterr().out
    # Step 1: 2 s/step, ETA 2 * 199 s. Step 5: (30.01 s since step one) / 4 = 7.5 s/step,
    # ETA 7.5025 * 195 = 1463 s = 24:22. Step 200: 30.09 / 199 s = 151 ms/step, ETA 0 s.
    # The end: 32.59 s elapsed (33s), 30.59 / 199 s = 154 ms/step; `mae` keeps its
    # last value although the epoch logs lack it.
    lines = [
        f"{bar('  1/200', 0)} {B}6:38{R} 2s/step - loss: 12.5000 - mae: 5.0000e-04",
        f"{bar('  5/200', 0)} {B}24:22{R} 8s/step - loss: 0.5000 - mae: 0.2500",
        f"{bar('200/200', 20)} {B}0s{R} 151ms/step - loss: 1.0000e-04 - mae: -0.5000",
        f"{bar('200/200', 20)} {B}33s{R} 154ms/step - loss: 0.2500 - mae: -0.5000",
    ]
    assert vis(lines[1]) < vis(lines[0])
    expected = "\r" + lines[0]
    for previous, line in zip(lines, lines[1:]):
        expected += redraw(previous, line)
    assert out == expected + "\n"


def test_progbar_time_units():
    assert _progbar._format_time(0, "step") == " 0s/step"
    assert _progbar._format_time(1.5, "step") == " 2s/step"
    assert _progbar._format_time(0.9996, "step") == " 1000ms/step"
    assert _progbar._format_time(0.001, "step") == " 1ms/step"
    assert _progbar._format_time(0.00099, "sample") == " 990us/sample"
    assert _progbar._format_eta(59.9) == "59s"
    assert _progbar._format_eta(61) == "1:01"
    assert _progbar._format_eta(3601) == "1:00:01"


def test_progbar_verbose_2_format(clock, capsys):
    progbar_fit(dcb, clock, verbose=2, step_time=0.02)
    out = capsys.readouterr().out
    line = ("3/3 - 0s - 20ms/step - accuracy: 0.0833 - loss: 0.1667 - val_accuracy: 0.5000 "
            "- val_loss: 0.0625\n")
    assert out == "Epoch 1/2\n" + line + "Epoch 2/2\n" + line
    progbar_fit(dcb, clock, verbose=2, epochs=1, steps=10, step_time=0.5,
                logs={"loss": -0.5, "tiny": 0.001})
    assert capsys.readouterr().out == (
        "10/10 - 5s - 500ms/step - loss: -5.0000e-02 - tiny: 1.0000e-04 - val_accuracy: 0.5000 "
        "- val_loss: 0.0625\n")


def test_progbar_verbose_auto_is_1_and_0_is_silent(clock, capsys):
    progbar_fit(dcb, clock, verbose="auto", epochs=1, steps=1, val=False)
    line = f"{bar('1/1', 20)} {B}0s{R} 100ms/step - accuracy: 0.2500 - loss: 0.5000"
    assert capsys.readouterr().out == "\r" + line + redraw(line, line) + "\n"
    progbar_fit(dcb, clock, verbose=0, epochs=2, steps=2)
    assert capsys.readouterr().out == ""
    model = FakeModel()
    logger = ProgbarLogger()
    fit_loop(CallbackList([logger], model=model, verbose=0, epochs=2, steps=2), model, 2, 2)
    assert capsys.readouterr().out == ""


def test_progbar_non_dynamic_display(clock, capsys, monkeypatch):
    monkeypatch.setattr(_progbar, "_dynamic_display", lambda: False)
    progbar_fit(dcb, clock, verbose=1, epochs=1, steps=2, val=False)
    assert capsys.readouterr().out == (
        f"\n{bar('1/2', 10)} {B}0s{R} 100ms/step - accuracy: 0.2500 - loss: 0.5000"
        f"\n{bar('2/2', 20)} {B}0s{R} 100ms/step - accuracy: 0.1250 - loss: 0.2500"
        f"\n{bar('2/2', 20)} {B}0s{R} 100ms/step - accuracy: 0.1250 - loss: 0.2500\n")


def test_progbar_dynamic_display_rule(monkeypatch):
    class Pipe:
        def isatty(self):
            return False

    monkeypatch.setattr(sys, "stdout", Pipe())
    monkeypatch.delenv("PYCHARM_HOSTED", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert _progbar._dynamic_display() is ("posix" in sys.modules)
    monkeypatch.delitem(sys.modules, "posix", raising=False)
    assert _progbar._dynamic_display() is False
    monkeypatch.setenv("PYCHARM_HOSTED", "1")
    assert _progbar._dynamic_display() is True


def test_progbar_unknown_steps(clock, capsys):
    model = FakeModel()
    callbacks = CallbackList([ProgbarLogger()], model=model, verbose=1, epochs=2, steps=None)
    fit_loop(callbacks, model, 2, 2, clock=clock, epoch_logs=lambda e: {"loss": 0.5})
    out = capsys.readouterr().out
    # The first epoch counts without a target; its end fixes the target at 2 steps.
    first = [f"      1/Unknown {B}0s{R} 100ms/step - loss: 1.0000",
             f"      2/Unknown {B}0s{R} 100ms/step - loss: 0.5000",
             f"{bar('2/2', 20)} {B}0s{R} 100ms/step - loss: 0.5000"]
    second = [f"{bar('1/2', 10)} {B}0s{R} 100ms/step - loss: 1.0000",
              f"{bar('2/2', 20)} {B}0s{R} 100ms/step - loss: 0.5000",
              f"{bar('2/2', 20)} {B}0s{R} 100ms/step - loss: 0.5000"]
    assert vis(first[0]) == 15 + 3 + 11 + 15
    expected = ""
    for lines in (first, second):
        expected += f"Epoch {2 if lines is second else 1}/2\n\r" + lines[0]
        expected += redraw(lines[0], lines[1]) + redraw(lines[1], lines[2]) + "\n"
    assert out == expected


def test_progbar_evaluate_and_predict(clock, capsys):
    model = FakeModel()
    callbacks = CallbackList([ProgbarLogger()], model=model, verbose=1, epochs=1, steps=2)
    callbacks.on_test_begin()
    for step in range(2):
        callbacks.on_test_batch_begin(step)
        clock.t += 0.1
        callbacks.on_test_batch_end(step, {"loss": 0.5 * (step + 1)})
    callbacks.on_test_end({"loss": 0.75})
    lines = [f"{bar('1/2', 10)} {B}0s{R} 100ms/step - loss: 0.5000",
             f"{bar('2/2', 20)} {B}0s{R} 100ms/step - loss: 1.0000",
             f"{bar('2/2', 20)} {B}0s{R} 100ms/step - loss: 0.7500"]
    assert capsys.readouterr().out == (
        "\r" + lines[0] + redraw(lines[0], lines[1]) + redraw(lines[1], lines[2]) + "\n")
    callbacks = CallbackList([ProgbarLogger()], model=model, verbose=2, epochs=1, steps=2)
    callbacks.on_predict_begin()
    for step in range(2):
        callbacks.on_predict_batch_begin(step)
        clock.t += 0.25
        callbacks.on_predict_batch_end(step, {"outputs": np.zeros((4, 2))})
    callbacks.on_predict_end()
    assert capsys.readouterr().out == "2/2 - 0s - 250ms/step\n"


def averaging_scenario(progbar_class, clock, verbose=2):
    bar_ = progbar_class(4, verbose=verbose, stateful_metrics=["acc"])
    clock.t += 1
    bar_.update(1, [("loss", 1.0), ("acc", 0.1)])
    clock.t += 1
    bar_.update(3, [("loss", 4.0), ("acc", 0.2)])  # covers two steps: weight 2
    return bar_


def test_progbar_class_averages_by_default(clock, capsys):
    bar_ = averaging_scenario(_progbar.Progbar, clock)
    assert bar_._mean("loss") == 3.0 and bar_._mean("acc") == 0.2
    clock.t -= 1
    bar_.add(1, [("loss", 0.0), ("acc", 0.3)])  # reaches the target: shown as given
    # 1 s for step one, no time for the later steps.
    assert capsys.readouterr().out == "4/4 - 1s - 0s/step - loss: 0.0000e+00 - acc: 0.3000\n"
    with pytest.raises(ValueError, match="Only one of `stateful_metrics` or `stateless_metrics`"):
        _progbar.Progbar(3, stateful_metrics=[], stateless_metrics=[])


def test_progbar_unencodable_stdout(clock, monkeypatch):
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(_progbar, "_dynamic_display", lambda: False)
    bar_ = _progbar.Progbar(2, width=4)
    clock.t += 0.5
    bar_.update(2, [("loss", 0.5)])
    stream.flush()
    assert raw.getvalue().decode() == (
        f"\n{B}2/2{R} {G}===={R}{W}{R} {B}0s{R} 250ms/step - loss: 0.5000\n")


# ------------------------------------------------------------ live Keras 3.15
@pytest.fixture
def keras_callbacks(keras):
    return keras.callbacks


@pytest.mark.keras
def test_hooks_match_keras(keras_callbacks):
    keras_hooks = {n for n in dir(keras_callbacks.Callback) if n.startswith("on_")}
    assert keras_hooks == set(HOOKS)
    for name in HOOKS:
        ours = inspect.signature(getattr(Callback, name))
        theirs = inspect.signature(getattr(keras_callbacks.Callback, name))
        assert ours == theirs
    for cls in ["EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "ReduceLROnPlateau",
                "TerminateOnNaN", "CSVLogger", "LambdaCallback", "ProgbarLogger", "History",
                "CallbackList"]:
        ours = inspect.signature(getattr(dcb, cls)).parameters.values()
        theirs = inspect.signature(getattr(keras_callbacks, cls)).parameters.values()
        assert [(p.name, p.kind, p.default) for p in ours] == [
            (p.name, p.kind, p.default) for p in theirs], cls


@pytest.mark.keras
@pytest.mark.parametrize("kwargs, values, n_ran, stopped, best", EARLY_STOPPING_CASES)
def test_early_stopping_matches_keras(keras_callbacks, kwargs, values, n_ran, stopped, best):
    assert run_early_stopping(keras_callbacks, kwargs, values) == run_early_stopping(
        dcb, kwargs, values)


@pytest.mark.keras
def test_reduce_lr_on_plateau_matches_keras(keras_callbacks):
    for values, kwargs in [
        ([1.0] * 10, dict(factor=0.5, patience=2, cooldown=1, min_lr=0.2)),
        ([1.0, 0.99995, 0.9, 0.9], dict(factor=0.1, patience=1)),
        ([1.0, 2.0, 3.0, 2.0, 1.0], dict(factor=0.5, patience=1, mode="max")),
        ([5.0] * 6, dict(factor=0.5, patience=1, cooldown=2)),
        ([3.0, 2.0, 2.5, 2.4, 2.6, 2.7, 1.0, 1.1], dict(factor=0.3, patience=1, min_delta=0.2)),
    ]:
        assert run_plateau(keras_callbacks, values, **kwargs) == run_plateau(dcb, values, **kwargs)


@pytest.mark.keras
def test_checkpoint_matches_keras(keras_callbacks, tmp_path):
    for name, values, kwargs in [
        ("w.{epoch:02d}.weights.h5", None, dict(save_weights_only=True)),
        ("{epoch:02d}-{val_loss:.2f}.keras", [0.123, 0.456, 0.789, 0.1], {}),
        ("best.keras", [0.5, 0.6, 0.4, 0.4], dict(save_best_only=True)),
        ("e{epoch}.keras", [0.5, 0.3, 0.35, 0.2], dict(save_best_only=True,
                                                       initial_value_threshold=0.4)),
        ("a{epoch}.keras", [0.5, 0.6, 0.4, 0.7], dict(save_best_only=True, mode="max")),
    ]:
        theirs, _, _ = run_checkpoint(keras_callbacks, tmp_path / "k", name, values=values, **kwargs)
        ours, _, _ = run_checkpoint(dcb, tmp_path / "d", name, values=values, **kwargs)
        assert ours == theirs
    theirs, _, _ = run_checkpoint(keras_callbacks, tmp_path / "k", "m-e{epoch}-b{batch}.keras",
                                  epochs=2, steps=5, save_freq=3)
    ours, _, _ = run_checkpoint(dcb, tmp_path / "d", "m-e{epoch}-b{batch}.keras",
                                epochs=2, steps=5, save_freq=3)
    assert ours == theirs
    for bad in [dict(filepath="w.h5", save_weights_only=True), dict(filepath="m.weights.h5.tmp"),
                dict(filepath="m.keras", save_freq="batch")]:
        with pytest.raises(ValueError) as theirs:
            keras_callbacks.ModelCheckpoint(**bad)
        with pytest.raises(ValueError) as ours:
            ModelCheckpoint(**bad)
        assert str(ours.value) == str(theirs.value)


@pytest.mark.keras
def test_csv_logger_matches_keras(keras_callbacks, tmp_path):
    for run, kwargs in [(CSV_RUN, {}), ([{"loss": 1.0}, {"loss": 2.0, "extra": 3.0}],
                                        {"separator": "\t"}),
                        ([{"loss": 1.0, "val_loss": 2.0, "name": "a,b",
                           "vec": np.array([1.5, 2.0])}, {"loss": 3.0}], {})]:
        theirs = run_csv(keras_callbacks, tmp_path / "k.csv", run, **kwargs)
        ours = run_csv(dcb, tmp_path / "d.csv", run, **kwargs)
        assert ours == theirs
    theirs = run_csv(keras_callbacks, tmp_path / "k.csv", CSV_RUN, append=True)
    ours = run_csv(dcb, tmp_path / "d.csv", CSV_RUN, append=True)
    assert ours == theirs


@pytest.mark.keras
def test_progbar_matches_keras(keras, clock, capsys, monkeypatch):
    import keras.src.utils.progbar as keras_progbar

    monkeypatch.setattr(keras_progbar, "time", clock)
    for kwargs in [dict(verbose=1), dict(verbose=2, step_time=0.02), dict(verbose="auto"),
                   dict(verbose=1, epochs=1, steps=12, step_time=0.0004),
                   dict(verbose=1, epochs=3, steps=150, step_time=1.7, val=False),
                   dict(verbose=2, epochs=1, steps=10, step_time=0.5,
                        logs={"loss": -0.5, "tiny": 0.001})]:
        start = clock.t
        progbar_fit(keras.callbacks, clock, **kwargs)
        theirs = capsys.readouterr().out
        clock.t = start
        progbar_fit(dcb, clock, **kwargs)
        ours = capsys.readouterr().out
        assert ours == theirs and theirs, kwargs


@pytest.mark.keras
def test_progbar_unknown_steps_and_evaluate_match_keras(keras, clock, capsys, monkeypatch):
    import keras.src.utils.progbar as keras_progbar

    monkeypatch.setattr(keras_progbar, "time", clock)
    outputs = []
    for module in (keras.callbacks, dcb):
        clock.t = 1000.0
        model = FakeModel()
        callbacks = module.CallbackList([module.ProgbarLogger()], model=model, verbose=1,
                                        epochs=2, steps=None)
        fit_loop(callbacks, model, 2, 3, clock=clock, epoch_logs=lambda e: {"loss": 0.5})
        callbacks = module.CallbackList([module.ProgbarLogger()], model=model, verbose=1,
                                        epochs=1, steps=2)
        callbacks.on_test_begin()
        for step in range(2):
            callbacks.on_test_batch_begin(step)
            clock.t += 0.1
            callbacks.on_test_batch_end(step, {"loss": 0.5 * (step + 1)})
        callbacks.on_test_end({"loss": 0.75})
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


@pytest.mark.keras
def test_terminate_on_nan_and_schedulers_match_keras(keras_callbacks, capsys):
    outs = []
    for module in (keras_callbacks, dcb):
        model = FakeModel(FakeOptimizer(0.1))
        sched = module.LearningRateScheduler(lambda epoch, lr: lr * 0.5, verbose=1)
        losses = [1.0, 0.5, math.nan]
        ran = fit_loop(make_list(module, [sched, module.TerminateOnNaN()], model, 3, 3), model,
                       3, 3, batch_logs=lambda e, s: {"loss": losses[s] if e == 1 else 1.0})
        outs.append((ran, model.history.history, capsys.readouterr().out))
    assert outs[0] == outs[1]


@pytest.mark.keras
def test_progbar_details_match_keras(keras, clock, capsys, monkeypatch):
    import keras.src.utils.progbar as keras_progbar

    monkeypatch.setattr(keras_progbar, "time", clock)
    outputs = []
    for module, progbar_class in ((keras.callbacks, keras.utils.Progbar), (dcb, _progbar.Progbar)):
        clock.t = 1000.0
        padding_scenario(module, clock)
        for verbose in (1, 2):
            bar_ = averaging_scenario(progbar_class, clock, verbose)
            bar_.add(1, [("loss", 0.0), ("acc", 0.3)])
        bar_ = progbar_class(None)
        for step in (1, 5, 12):
            clock.t += 0.2
            bar_.update(step, [("loss", 1.0 / step)])
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0]
    # Off a terminal and off POSIX, every update starts a new line.
    monkeypatch.delitem(sys.modules, "posix")
    monkeypatch.delenv("PYCHARM_HOSTED", raising=False)
    outputs = []
    for module in (keras.callbacks, dcb):
        clock.t = 1000.0
        progbar_fit(module, clock, verbose=1, epochs=2, steps=3)
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0].startswith("Epoch 1/2\n\n")
