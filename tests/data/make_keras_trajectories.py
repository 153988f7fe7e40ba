"""Write tests/data/keras_trajectories.npz: training runs of real Keras 3.15 (jax, CPU).

Run with a Python that has keras==3.15.1 and jax installed (not densekit):

    KERAS_BACKEND=jax JAX_PLATFORMS=cpu python tests/data/make_keras_trajectories.py

Every case trains a float32 model for 5 epochs with shuffle=False from initial
weights stored in the file, so densekit can start from the very same weights.
Stored per case NAME: ``NAME/init/<i>`` and ``NAME/final/<i>`` (the model's
weights before and after), ``NAME/history/<key>`` (one value per epoch) and, for
the constraint case, ``NAME/max_col_norm`` (the first layer's largest kernel
column norm after every step). ``meta`` holds the Keras version and the case
list as JSON. tests/test_training.py reads the file (no Keras needed there).
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "keras_trajectories.npz")
EPOCHS = 5
BATCH = 32


def data():
    """The shared synthetic regression and classification data (float32)."""
    rng = np.random.default_rng(20261201)
    x = rng.standard_normal((256, 16)).astype(np.float32)
    w = rng.standard_normal((16, 8)).astype(np.float32) / 4
    y = (np.tanh(x @ w) * 2 + 0.1 * rng.standard_normal((256, 8))).astype(np.float32)
    labels = (np.argmax(x[:, :4] + 0.5 * x[:, 4:8], axis=1)).astype(np.int64)
    xv = rng.standard_normal((64, 16)).astype(np.float32)
    yv = (np.tanh(xv @ w) * 2).astype(np.float32)
    return x, y, labels, xv, yv


def tutorial(regularized=False):
    kwargs = {}
    if regularized:
        kwargs = dict(kernel_regularizer=keras.regularizers.L2(0.01),
                      kernel_constraint="MaxNorm")
    return keras.Sequential([
        keras.Input((16,)),
        keras.layers.Dense(32, kernel_initializer=keras.initializers.HeUniform(seed=1),
                           activation="relu", **kwargs),
        keras.layers.Dense(16, activation="relu",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=2)),
        keras.layers.Dense(8, kernel_initializer=keras.initializers.GlorotUniform(seed=3)),
    ])


def classifier():
    return keras.Sequential([
        keras.Input((16,)),
        keras.layers.Dense(32, activation="relu",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=4)),
        keras.layers.Dense(4, activation="softmax",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=5)),
    ])


# name -> (model builder, optimizer config, loss, metrics, kind)
OPTIMIZERS = {
    "sgd_momentum": ("SGD", dict(learning_rate=0.01, momentum=0.9)),
    "sgd_nesterov": ("SGD", dict(learning_rate=0.01, momentum=0.9, nesterov=True)),
    "adam": ("Adam", dict(learning_rate=0.01)),
    "adamw": ("AdamW", dict(learning_rate=0.01)),
    "rmsprop": ("RMSprop", dict(learning_rate=0.001)),
    "adagrad": ("Adagrad", dict(learning_rate=0.05)),
}


class ColumnNorms(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.norms = []

    def on_train_batch_end(self, batch, logs=None):
        kernel = np.asarray(self.model.layers[0].kernel)
        self.norms.append(float(np.sqrt((kernel ** 2).sum(axis=0)).max()))


def record(store, name, model, history, extra=None):
    for i, w in enumerate(model.get_weights()):
        store[f"{name}/final/{i}"] = np.asarray(w)
    for key, values in history.history.items():
        store[f"{name}/history/{key}"] = np.asarray(values, dtype=np.float64)
    for key, value in (extra or {}).items():
        store[f"{name}/{key}"] = np.asarray(value)


def build_store():
    """Run every case in Keras; the dict that main() writes to the .npz."""
    x, y, labels, xv, yv = data()
    store = {"x": x, "y": y, "labels": labels, "xv": xv, "yv": yv}
    cases = {}
    for name, (cls, config) in OPTIMIZERS.items():
        model = tutorial()
        for i, w in enumerate(model.get_weights()):
            store[f"{name}/init/{i}"] = np.asarray(w)
        model.compile(optimizer=getattr(keras.optimizers, cls)(**config), loss="mse")
        history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
        record(store, name, model, history)
        cases[name] = {"model": "tutorial", "optimizer": cls, "config": config, "loss": "mse"}

    # Shuffled: Keras' NumPy iterator draws each epoch's order with np.random.permutation.
    name = "adam_shuffled"
    model = tutorial()
    for i, w in enumerate(model.get_weights()):
        store[f"{name}/init/{i}"] = np.asarray(w)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    np.random.seed(1234)
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=True, verbose=0)
    record(store, name, model, history)
    cases[name] = {"model": "tutorial", "optimizer": "Adam", "config": {"learning_rate": 0.01},
                   "loss": "mse", "shuffle": True, "np_random_seed": 1234}

    name = "softmax_scce"
    model = classifier()
    for i, w in enumerate(model.get_weights()):
        store[f"{name}/init/{i}"] = np.asarray(w)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, labels, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    record(store, name, model, history)
    cases[name] = {"model": "classifier", "optimizer": "Adam",
                   "config": {"learning_rate": 0.01},
                   "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}

    name = "l2_maxnorm"
    model = tutorial(regularized=True)
    for i, w in enumerate(model.get_weights()):
        store[f"{name}/init/{i}"] = np.asarray(w)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="mse")
    norms = ColumnNorms()
    history = model.fit(x, y * 4, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
                        callbacks=[norms])
    record(store, name, model, history, {"max_col_norm": norms.norms})
    cases[name] = {"model": "tutorial_regularized", "optimizer": "SGD",
                   "config": {"learning_rate": 0.1, "momentum": 0.9}, "loss": "mse",
                   "y_scale": 4}

    name = "early_stopping_schedule"
    model = tutorial()
    for i, w in enumerate(model.get_weights()):
        store[f"{name}/init/{i}"] = np.asarray(w)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=0.05, decay_steps=8, decay_rate=0.5)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9),
                  loss="mse")
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.02,
                                            restore_best_weights=True)
    history = model.fit(x, y, batch_size=BATCH, epochs=20, shuffle=False, verbose=0,
                        validation_data=(xv, yv), callbacks=[stopper])
    record(store, name, model, history,
           {"stopped_epoch": stopper.stopped_epoch, "best_epoch": stopper.best_epoch})
    cases[name] = {"model": "tutorial", "optimizer": "SGD", "loss": "mse",
                   "schedule": {"initial_learning_rate": 0.05, "decay_steps": 8,
                                "decay_rate": 0.5},
                   "config": {"momentum": 0.9},
                   "early_stopping": {"monitor": "val_loss", "patience": 1, "min_delta": 0.02},
                   "epochs": 20}

    store["meta"] = np.asarray(json.dumps({
        "keras": keras.__version__, "backend": keras.backend.backend(),
        "python": sys.version.split()[0], "epochs": EPOCHS, "batch_size": BATCH,
        "cases": cases,
    }))
    return store


def main():
    store = build_store()
    cases = json.loads(str(store["meta"]))["cases"]
    np.savez_compressed(OUT, **store)
    print("wrote", OUT)
    for name in cases:
        print(name, {k[len(name) + 9:]: np.round(v, 5).tolist() for k, v in store.items()
                     if k.startswith(name + "/history/")})


if __name__ == "__main__":
    main()
