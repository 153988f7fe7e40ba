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
        # rtol 1e-3; elements near zero are held to 1e-5 of the tensor's largest
        # magnitude (float32 rounding of the many ops in 5 epochs, ~1e-7 in practice).
        np.testing.assert_allclose(w, ref, rtol=rtol_w, atol=1e-5 * np.abs(ref).max(),
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


def test_shuffled_fit_matches_keras_with_the_same_numpy_seed(frozen):
    # Keras shuffles with np.random.permutation (after one draw of its symbolic
    # build); densekit draws the same, so a seeded shuffled run is Keras' run.
    name = "adam_shuffled"
    model = tutorial()
    init_from(model, frozen, name)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    np.random.seed(frozen["meta"]["cases"][name]["np_random_seed"])
    history = model.fit(frozen["x"], frozen["y"], batch_size=32, epochs=5, verbose=0)
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


# ---------------------------------------------------------------------------- API
def small_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 16)).astype(np.float32)
    y = np.tanh(x[:, :8]).astype(np.float32)
    return x, y


def compiled(**kwargs):
    model = tutorial()
    model.compile(**{"optimizer": "sgd", "loss": "mse", **kwargs})
    return model


def test_compile_defaults_and_properties():
    model = tutorial()
    assert not hasattr(model, "optimizer")  # as Keras before compile
    assert model.loss is None and model.metrics == [] and model.metrics_names == []
    assert not model.compiled
    model.compile(loss="mse")
    assert type(model.optimizer).__name__ == "RMSprop"  # Keras' default optimizer
    assert model.loss == "mse"
    assert model.metrics_names == ["loss"]
    model.compile("adam", "mse", metrics=["mae"], run_eagerly=True, steps_per_execution=4,
                  jit_compile=False, auto_scale_loss=False)
    assert model.metrics_names == ["loss", "compile_metrics"]
    assert model.stop_training is False


def test_logs_and_return_forms():
    x, y = small_data()
    model = compiled(metrics=["mae", "mse"])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert sorted(history.history) == ["loss", "mae", "mse"]
    assert len(history.history["loss"]) == 2 and history.epoch == [0, 1]
    assert model.history is history
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 3
    assert all(isinstance(v, float) for v in result)
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(as_dict) == ["loss", "mae", "mse"]
    assert as_dict["loss"] == pytest.approx(result[0])
    # without metrics, the loss alone (Keras flattens a single value)
    plain = compiled()
    assert isinstance(plain.evaluate(x, y, verbose=0), float)
    assert isinstance(plain.train_on_batch(x, y), float)
    logs = plain.train_on_batch(x, y, return_dict=True)
    assert list(logs) == ["loss"]
    assert plain.test_on_batch(x, y) == pytest.approx(plain.evaluate(x, y, batch_size=64,
                                                                     verbose=0))
    np.testing.assert_array_equal(plain.predict_on_batch(x), plain.predict(x, verbose=0))


def test_mse_loss_logged_is_the_sample_mean_over_the_epoch():
    x, y = small_data(50)
    model = compiled(optimizer=optimizers.SGD(learning_rate=0.0))
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # 16, 16, 16, 2 rows
    pred = model.predict(x, verbose=0).astype(np.float64)
    expected = np.mean((pred - y) ** 2)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)


def test_accuracy_resolved_from_shapes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 16)).astype(np.float32)
    labels = rng.integers(0, 4, 40)
    model = classifier()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy", "acc"])
    history = model.fit(x, labels, epochs=1, verbose=0)
    assert sorted(history.history) == ["acc", "accuracy", "loss"]
    onehot = np.eye(4, dtype=np.float32)[labels]
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    logs = model.evaluate(x, onehot, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    assert logs["accuracy"] == pytest.approx(np.mean(pred.argmax(1) == labels))
    model.compile("adam", "crossentropy", metrics=["accuracy"])  # picks sparse from shapes
    model.fit(x, labels, epochs=1, verbose=0)
    assert type(model._trainer.loss.fn).__name__ == "function"
    assert model._trainer.loss.fn.__name__ == "sparse_categorical_crossentropy"


def test_fused_softmax_head_equals_unfused_gradient():
    # The same model with a separate Activation('softmax') layer takes the plain
    # value_and_grad path: both give the same trajectory.
    from densekit.layers import Activation

    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 16)).astype(np.float64)
    labels = rng.integers(0, 4, 64)
    fused = Sequential([Input((16,), dtype="float64"), Dense(8, activation="tanh", dtype="float64"),
                        Dense(4, activation="softmax", dtype="float64")])
    split = Sequential([Input((16,), dtype="float64"), Dense(8, activation="tanh", dtype="float64"),
                        Dense(4, dtype="float64"), Activation("softmax", dtype="float64")])
    split.set_weights(fused.get_weights())
    for m in (fused, split):
        m.compile(optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
        m.fit(x, labels, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert fused._trainer._fusable() and not split._trainer._fusable()
    for a, b in zip(fused.get_weights(), split.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------- errors
def test_fit_before_compile():
    x, y = small_data()
    model = tutorial()
    for call in (lambda: model.fit(x, y), lambda: model.evaluate(x, y),
                 lambda: model.train_on_batch(x, y), lambda: model.test_on_batch(x, y)):
        with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the model."):
            call()


def test_unknown_names():
    model = tutorial()
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: foo"):
        model.compile("foo", "mse")
    with pytest.raises(ValueError, match="Could not interpret loss identifier: foo"):
        model.compile("sgd", "foo")
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        model.compile("sgd", "mse", metrics=["foo"])
        model.fit(*small_data(), verbose=0)


def test_bad_targets_and_arguments():
    x, y = small_data()
    model = compiled()
    before = model.get_weights()
    with pytest.raises(ValueError, match="broadcastable shapes"):
        model.fit(x, y[:, :3], verbose=0)
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.fit(x, y[:-1], verbose=0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
            model.fit(x, y, batch_size=bad, verbose=0)
    for bad in (1.0, 1.5, -0.1, "0.2"):
        with pytest.raises(ValueError, match="`validation_split`"):
            model.fit(x, y, validation_split=bad, verbose=0)
    with pytest.raises(ValueError, match="not sufficient to split"):
        model.fit(x[:1], y[:1], validation_split=0.5, verbose=0)
    with pytest.raises(ValueError, match="`verbose`"):
        model.fit(x, y, verbose=3)
    with pytest.raises(ValueError, match="No loss to compute"):
        m = tutorial()
        m.compile("sgd")
        m.fit(x, y, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_failed_fit_keeps_the_weights_before_the_failing_step():
    x, y = small_data(64)
    good = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 48, 16)]

    def batches():
        yield from good
        yield x[48:], y[48:, :3]  # wrong target shape at the fourth step

    model = compiled(optimizer=optimizers.Adam(learning_rate=0.01))
    reference = tutorial()
    reference.set_weights(model.get_weights())
    reference.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    with pytest.raises(ValueError, match="broadcastable shapes"):
        model.fit(batches(), verbose=0)
    reference.fit(good, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations) == 3


# ------------------------------------------------------------------- data inputs
def test_generator_iterable_and_steps_per_epoch():
    x, y = small_data(64)
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    a, b, c = compiled(), compiled(), compiled()
    b.set_weights(a.get_weights())
    c.set_weights(a.get_weights())
    a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    b.fit(batches, epochs=2, verbose=0)  # a list of batches is re-iterated every epoch

    def forever():
        while True:
            yield from batches

    c.fit(forever(), steps_per_epoch=4, epochs=2, verbose=0)
    for wa, wb, wc in zip(a.get_weights(), b.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(wa, wc)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        a.fit(iter(batches), y, verbose=0)
    # a generator that runs out ends training with Keras' warning
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        a.fit(iter(batches), steps_per_epoch=4, epochs=2, verbose=0)


def test_sample_and_class_weights():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 16)).astype(np.float32)
    labels = rng.integers(0, 4, 32)
    a, b = classifier(), classifier()
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    cw = {0: 2.0, 1: 0.5, 2: 1.0, 3: 3.0}
    a.fit(x, labels, class_weight=cw, batch_size=8, shuffle=False, verbose=0)
    b.fit(x, labels, sample_weight=np.array([cw[k] for k in labels], dtype=np.float32),
          batch_size=8, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_validation_split_holds_out_the_last_samples():
    x, y = small_data(80)
    a, b = compiled(), compiled()
    b.set_weights(a.get_weights())
    ha = a.fit(x, y, validation_split=0.25, shuffle=False, epochs=2, verbose=0)
    hb = b.fit(x[:60], y[:60], validation_data=(x[60:], y[60:]), shuffle=False, epochs=2,
               verbose=0)
    assert ha.history == hb.history
    assert sorted(ha.history) == ["loss", "val_loss"]
    hc = b.fit(x, y, validation_data=(x, y), validation_freq=2, epochs=4, verbose=0)
    assert len(hc.history["val_loss"]) == 2


def test_shuffle_uses_numpy_global_generator():
    x, y = small_data(64)
    runs = []
    for _ in range(2):
        np.random.seed(7)
        m = compiled()
        m.set_weights(tutorial_weights())
        m.fit(x, y, batch_size=8, epochs=2, verbose=0)
        runs.append(m.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    m = compiled()
    m.set_weights(tutorial_weights())
    m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], m.get_weights()))


def tutorial_weights():
    rng = np.random.default_rng(11)
    return [rng.uniform(-0.3, 0.3, w.shape).astype(np.float32) for w in tutorial().weights]


def test_initial_epoch_and_stop_training():
    x, y = small_data()
    model = compiled()
    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4]

    class Stop(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[Stop()])
    assert history.epoch == [0]
    assert int(model.optimizer.iterations) == 4 + 2  # 2 earlier epochs x 2 steps, then 2


# --------------------------------------------------------------------- callbacks
def test_hook_order_matches_keras():
    x, y = small_data(32)
    events = []

    class Recorder(callbacks.Callback):
        def __getattribute__(self, name):
            if name.startswith("on_"):
                def hook(*args, **kwargs):
                    events.append(name)
                return hook
            return super().__getattribute__(name)

    model = compiled()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x[:16], y[:16]),
              callbacks=[Recorder()])
    epoch = ["on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
             "on_train_batch_begin", "on_train_batch_end", "on_test_begin",
             "on_test_batch_begin", "on_test_batch_end", "on_test_end", "on_epoch_end"]
    assert events == ["on_train_begin"] + epoch * 2 + ["on_train_end"]


def test_verbose_output(capsys):
    x, y = small_data(32)
    model = compiled(metrics=["mae"])
    model.fit(x, y, batch_size=16, epochs=2, verbose="auto")  # captured stdout: 2
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2"
    assert out[1].startswith("2/2 - ") and " - loss: " in out[1] and " - mae: " in out[1]
    assert out[2] == "Epoch 2/2"
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, batch_size=16, epochs=1, verbose=1)
    assert "2/2" in capsys.readouterr().out


def test_learning_rate_scheduler_and_reduce_lr():
    x, y = small_data()
    model = compiled(optimizer=optimizers.SGD(learning_rate=0.1))
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    np.testing.assert_allclose(history.history["learning_rate"],
                               np.float32([0.1, 0.05, 0.1 / 3]), rtol=1e-6)


# ------------------------------------------------------------------- determinism
def test_same_seeds_same_weights_any_thread_count():
    import densekit

    x, y = small_data(64)
    results = []
    saved = densekit.get_num_threads()
    try:
        for threads in (1, 2, 1):
            densekit.set_num_threads(threads)
            model = Sequential([Input((16,)),
                                Dense(32, activation="relu", kernel_initializer="he_uniform"),
                                Dropout(0.3, seed=5), Dense(8)])
            model.set_weights(tutorial_small_weights(model))
            model.compile(optimizers.Adam(learning_rate=0.01), "mse")
            np.random.seed(3)
            model.fit(x, y, batch_size=16, epochs=3, verbose=0)
            results.append(model.get_weights())
    finally:
        densekit.set_num_threads(saved)
    for run in results[1:]:
        for a, b in zip(results[0], run):
            np.testing.assert_array_equal(a, b)


def tutorial_small_weights(model):
    rng = np.random.default_rng(4)
    return [rng.uniform(-0.3, 0.3, w.shape).astype(w.dtype) for w in model.weights]


# ------------------------------------------------------------- finite differences
@pytest.mark.parametrize("case", ["mse_mix", "softmax_cce", "sigmoid_bce", "regularized"])
def test_whole_model_gradient_matches_finite_differences(case):
    import itertools

    from densekit import initializers, regularizers

    f64 = "float64"
    seeds = itertools.count(100)

    def D(units, activation=None, **kwargs):
        return Dense(units, activation=activation, dtype=f64,
                     kernel_initializer=initializers.GlorotUniform(seed=next(seeds)),
                     bias_initializer=initializers.RandomUniform(-0.2, 0.2, seed=next(seeds)),
                     **kwargs)

    rng = np.random.default_rng(5)
    x = rng.standard_normal((12, 6))
    if case == "mse_mix":
        layers = [D(7, "tanh"), D(6, "sigmoid"), D(5, "softplus"), D(5, "elu"), D(4, "gelu"),
                  D(4, "silu"), D(3, "relu"), D(3, "selu")]
        loss, y = "mse", rng.standard_normal((12, 3))
    elif case == "softmax_cce":
        layers = [D(7, "tanh"), D(4, "softmax")]
        loss, y = "categorical_crossentropy", np.eye(4)[rng.integers(0, 4, 12)]
    elif case == "sigmoid_bce":
        layers = [D(7, "relu"), D(1, "sigmoid")]
        loss, y = "binary_crossentropy", rng.integers(0, 2, (12, 1)).astype(f64)
    else:
        layers = [D(7, "tanh", kernel_regularizer=regularizers.L1L2(0.01, 0.02),
                    bias_regularizer="l2", activity_regularizer=regularizers.L2(0.05)),
                  D(3, kernel_regularizer=regularizers.L2(0.1))]
        loss, y = "mse", rng.standard_normal((12, 3))
    model = Sequential([Input((6,), dtype=f64)] + layers)
    model.compile(optimizers.SGD(learning_rate=1.0), loss)
    w0 = model.get_weights()

    def total_loss(weights):
        model.set_weights(weights)
        return model.test_on_batch(x, y)

    model.train_on_batch(x, y)
    grads = [a - b for a, b in zip(w0, model.get_weights())]  # SGD(1): w1 = w0 - g
    pick = np.random.default_rng(6)
    eps = 1e-6
    for j, w in enumerate(w0):
        for _ in range(4):
            idx = tuple(pick.integers(0, d) for d in w.shape)
            plus = [v.copy() for v in w0]
            minus = [v.copy() for v in w0]
            plus[j][idx] += eps
            minus[j][idx] -= eps
            numeric = (total_loss(plus) - total_loss(minus)) / (2 * eps)
            assert grads[j][idx] == pytest.approx(numeric, rel=1e-5, abs=1e-8), (j, idx)


# ---------------------------------------------------------------------- real data
def test_digits_mlp_reaches_95_percent():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train, test = order[:1400], order[1400:]
    model = Sequential([Input((64,)),
                        Dense(64, activation="relu", kernel_initializer="he_uniform"),
                        Dropout(0.1, seed=0),
                        Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    np.random.seed(0)
    model.fit(x[train], y[train], batch_size=32, epochs=30, verbose=0)
    loss, accuracy = model.evaluate(x[test], y[test], verbose=0)
    assert accuracy >= 0.95


# --------------------------------------------------------------- live Keras check
@pytest.mark.keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_frozen_trajectories_are_what_keras_computes_now():
    """Regenerate the runs with the installed Keras (jax) and compare with the file,
    then densekit with the fresh runs (run with -m keras)."""
    import importlib.util

    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("needs KERAS_BACKEND=jax")
    path = os.path.join(os.path.dirname(__file__), "data", "make_keras_trajectories.py")
    spec = importlib.util.spec_from_file_location("make_keras_trajectories", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.build_store()
    fresh["meta"] = json.loads(str(fresh["meta"]))
    with np.load(DATA) as f:
        for key in f.files:
            if key != "meta":
                np.testing.assert_allclose(fresh[key], f[key], rtol=1e-5, err_msg=key)
    for name in OPTIMIZER_CASES:
        test_tutorial_model_matches_keras(fresh, name)
    test_shuffled_fit_matches_keras_with_the_same_numpy_seed(fresh)
    test_softmax_classifier_matches_keras(fresh)
    test_l2_and_maxnorm_act_as_in_keras(fresh)
    test_early_stopping_and_schedule_match_keras(fresh)


def test_callbacks_auto_mode_reads_the_compiled_metrics_direction():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((64, 16)).astype(np.float32)
    labels = rng.integers(0, 4, 64)
    model = classifier()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy", "sparse_categorical_crossentropy"])
    up = callbacks.EarlyStopping(monitor="accuracy", patience=5)
    down = callbacks.EarlyStopping(monitor="val_sparse_categorical_crossentropy", patience=5)
    model.fit(x, labels, epochs=2, verbose=0, validation_data=(x, labels), callbacks=[up, down])
    import operator

    assert up.monitor_op is operator.gt
    assert down.monitor_op is operator.lt


def test_metric_log_names_follow_keras_compile_metrics():
    # Keras 3.15.1 on this model logs ['loss', 'mae', 'mae_1', 'mse', 'weighted_mae'] and
    # its evaluate() returns 7 values (loss, mae x3, mse, mae_1, weighted_mae).
    x = np.ones((10, 4), dtype=np.float32)
    y = np.ones((10, 2), dtype=np.float32)
    model = Sequential([Input((4,)), Dense(2)])
    model.compile("sgd", "mse", metrics=["mae", "mae"], weighted_metrics=["mae", "mse"])
    history = model.fit(x, y, verbose=0, sample_weight=np.arange(10.0))
    assert sorted(history.history) == ["loss", "mae", "mae_1", "mse", "weighted_mae"]
    assert len(model.evaluate(x, y, verbose=0)) == 7
    with pytest.raises(ValueError, match="You cannot `class_weight` and `sample_weight`"):
        model.fit(x, y, verbose=0, sample_weight=np.ones(10), class_weight={0: 1.0})


def test_validation_and_evaluate_on_batches():
    x, y = small_data(64)
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    model = compiled(metrics=["mae"])
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=batches)
    as_arrays = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    as_batches = model.evaluate(batches, verbose=0, return_dict=True)
    from_generator = model.evaluate((b for b in batches), verbose=0, return_dict=True)
    assert as_arrays == as_batches == from_generator
    assert sorted(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    weighted = [(bx, by, np.ones(len(bx))) for bx, by in batches]
    assert model.evaluate(weighted, verbose=0, return_dict=True) == as_arrays


def test_compile_config_round_trip():
    from densekit import losses, metrics

    model = tutorial()
    assert model.get_compile_config() == {}
    model.compile(optimizers.Adam(learning_rate=0.01), losses.Huber(),
                  metrics=["mae", metrics.MeanSquaredError()])
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "Adam"
    assert config["loss"]["class_name"] == "Huber"
    assert config["metrics"][0] == "mae" and config["metrics"][1]["class_name"] == "MeanSquaredError"
    assert config["jit_compile"] is True and config["steps_per_execution"] == 1
    other = tutorial()
    other.compile_from_config(config)
    assert other.optimizer.built and type(other.loss).__name__ == "Huber"
    assert other.get_compile_config() == config
    x, y = small_data()
    other.fit(x, y, verbose=0)
    # the optimizer can be replaced, as Keras' attribute
    other.optimizer = optimizers.SGD()
    other.fit(x, y, verbose=0)
    assert int(other.optimizer.iterations) == 2


def test_small_steps_keep_the_elementwise_kernels_on_the_calling_thread():
    # issue 12: a two-thread team woken beside the step's BLAS threads cost 7x
    # (35.6 vs 5.3 ms per step of the 784-512-256-10 MLP at batch 128).
    from densekit.layers import Dense, Input
    from densekit.models import Sequential

    model = Sequential([Input((784,)), Dense(512, activation="relu"),
                        Dense(256, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.zeros((128, 784), np.float32)
    model.train_on_batch(x, np.zeros(128, np.int64))
    trainer = model._trainer
    assert trainer._step_threads(128, 2) == 1
    assert trainer._step_threads(65536, 2) == 2
