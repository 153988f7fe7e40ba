"""Sequential.compile / fit / evaluate against frozen runs of real Keras 3.15, plus the
Keras behaviours of the training API (logs, errors, callbacks, determinism)."""

import json
import os

import numpy as np
import pytest

from densekit import callbacks, optimizers
from densekit.layers import Dense, Dropout, Input
from densekit.models import Sequential

DATA = os.path.join(os.path.dirname(__file__), "data", "keras_trajectories.npz")


@pytest.fixture(scope="module")
def frozen():
    with np.load(DATA) as f:
        store = {k: f[k] for k in f.files}
    store["meta"] = json.loads(str(store["meta"]))
    return store


def tutorial(regularized=False):
    kwargs = {}
    if regularized:
        kwargs = dict(kernel_regularizer="l2", kernel_constraint="MaxNorm")
    return Sequential([
        Input((16,)),
        Dense(32, activation="relu", **kwargs),
        Dense(16, activation="relu"),
        Dense(8),
    ])


def classifier():
    return Sequential([Input((16,)), Dense(32, activation="relu"), Dense(4, activation="softmax")])


def init_from(model, store, name):
    n = len(model.weights)
    model.set_weights([store[f"{name}/init/{i}"] for i in range(n)])


def check_run(store, name, model, history, rtol_logs=1e-4, rtol_w=1e-3):
    keys = sorted(k[len(name) + 9:] for k in store if k.startswith(name + "/history/"))
    assert sorted(history.history) == keys
    for key in keys:
        np.testing.assert_allclose(history.history[key], store[f"{name}/history/{key}"],
                                   rtol=rtol_logs, err_msg=f"{name}: {key}")
    for i, w in enumerate(model.get_weights()):
        ref = store[f"{name}/final/{i}"]
        np.testing.assert_allclose(w, ref, rtol=rtol_w, atol=1e-3 * np.abs(ref).max(),
                                   err_msg=f"{name}: weight {i}")


OPTIMIZER_CASES = ["sgd_momentum", "sgd_nesterov", "adam", "adamw", "rmsprop", "adagrad"]


@pytest.mark.parametrize("name", OPTIMIZER_CASES)
def test_tutorial_model_matches_keras(frozen, name):
    case = frozen["meta"]["cases"][name]
    model = tutorial()
    init_from(model, frozen, name)
    opt = getattr(optimizers, case["optimizer"])(**case["config"])
    model.compile(optimizer=opt, loss="mse")
    history = model.fit(frozen["x"], frozen["y"], batch_size=32, epochs=5, shuffle=False,
                        verbose=0)
    check_run(frozen, name, model, history)


def test_softmax_classifier_matches_keras(frozen):
    name = "softmax_scce"
    model = classifier()
    init_from(model, frozen, name)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(frozen["x"], frozen["labels"], batch_size=32, epochs=5, shuffle=False,
                        verbose=0)
    check_run(frozen, name, model, history)
    assert model.metrics_names == ["loss", "compile_metrics"]


def test_l2_and_maxnorm_act_as_in_keras(frozen):
    name = "l2_maxnorm"
    model = tutorial(regularized=True)
    init_from(model, frozen, name)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="mse")
    norms = []
    recorder = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: norms.append(
        float(np.sqrt((model.layers[0].kernel.astype(np.float64) ** 2).sum(axis=0)).max())))
    history = model.fit(frozen["x"], frozen["y"] * 4, batch_size=32, epochs=5, shuffle=False,
                        verbose=0, callbacks=[recorder])
    check_run(frozen, name, model, history)
    ref = frozen[f"{name}/max_col_norm"]
    # The constraint binds (Keras' run reaches the bound) and holds after every step.
    assert ref.max() == pytest.approx(2.0, rel=1e-6)
    assert max(norms) <= 2.0 * (1 + 1e-6)
    np.testing.assert_allclose(norms, ref, rtol=1e-3)
    # The reported loss includes the L2 penalty, as Keras reports it.
    penalty = 0.01 * float((model.layers[0].kernel.astype(np.float64) ** 2).sum())
    mse = model.evaluate(frozen["x"], frozen["y"] * 4, verbose=0)
    assert mse > penalty > 0


def test_early_stopping_and_schedule_match_keras(frozen):
    name = "early_stopping_schedule"
    model = tutorial()
    init_from(model, frozen, name)
    schedule = optimizers.schedules.ExponentialDecay(
        initial_learning_rate=0.05, decay_steps=8, decay_rate=0.5)
    model.compile(optimizer=optimizers.SGD(learning_rate=schedule, momentum=0.9), loss="mse")
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.02,
                                      restore_best_weights=True)
    history = model.fit(frozen["x"], frozen["y"], batch_size=32, epochs=20, shuffle=False,
                        verbose=0, validation_data=(frozen["xv"], frozen["yv"]),
                        callbacks=[stopper])
    assert stopper.stopped_epoch == int(frozen[f"{name}/stopped_epoch"])
    assert stopper.best_epoch == int(frozen[f"{name}/best_epoch"])
    check_run(frozen, name, model, history)
