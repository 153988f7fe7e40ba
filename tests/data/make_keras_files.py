"""Generate the Keras-written `.keras` reference files in tests/data (for tests/test_saving.py).

How they were generated (Keras 3.15.1, jax backend, CPU):

    KERAS_BACKEND=jax python tests/data/make_keras_files.py

Each case builds a small Sequential model in Keras, optionally compiles and fits
it for a few steps (so its optimizer has state worth resuming), saves it as
``keras_<case>.keras`` and records in ``keras_files_ref.npz``, per case: the
input ``<case>/x``, Keras' ``<case>/predict`` for it, the weights
``<case>/w<i>`` and the optimizer's variables ``<case>/opt<i>`` (in
``optimizer.variables`` order). tests/test_saving.py's live cross-check
(the deselected ``keras`` marker) imports `build` to make the same models.
"""

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = ("uncompiled", "adam", "sgd_schedule", "reshape_dropout")


def build(keras, case):
    """The Keras model of `case`, compiled as the case says (not fitted)."""
    layers = keras.layers
    if case == "uncompiled":
        return keras.Sequential([
            keras.Input(shape=(4,)),
            layers.Dense(8, activation="relu", kernel_regularizer="l2",
                         kernel_constraint="max_norm"),
            layers.Dense(3),
            layers.Activation("softmax"),
        ], name="ref_uncompiled")
    if case == "reshape_dropout":  # the weightless layers densekit reads when it has them
        return keras.Sequential([
            keras.Input(shape=(2, 3)),
            layers.Flatten(),
            layers.Dense(4, activation="relu"),
            layers.Dropout(0.5, seed=1),
            layers.Reshape((2, 2)),
            layers.Flatten(),
            layers.Dense(2),
        ], name="ref_reshape_dropout")
    model = keras.Sequential([
        keras.Input(shape=(5,)),
        layers.Dense(6, activation="tanh",
                     kernel_initializer=keras.initializers.HeNormal(seed=3)),
        layers.Dense(2, use_bias=False),
    ], name=f"ref_{case}")
    if case == "adam":
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse",
                      metrics=["mae"])
    else:
        schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2,
                                                               decay_rate=0.5)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9),
                      loss=keras.losses.MeanSquaredError())
    return model


def main():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ref = {}
    for case in CASES:
        model = build(keras, case)
        n_in = model.input_shape[-1]
        x = rng.standard_normal((7,) + model.input_shape[1:]).astype(np.float32)
        if model.compiled:
            y = rng.standard_normal((16,) + model.output_shape[1:]).astype(np.float32)
            xt = rng.standard_normal((16, n_in)).astype(np.float32)
            model.fit(xt, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
            for i, v in enumerate(model.optimizer.variables):
                ref[f"{case}/opt{i}"] = np.asarray(v)
        for i, w in enumerate(model.get_weights()):
            ref[f"{case}/w{i}"] = w
        ref[f"{case}/x"] = x
        ref[f"{case}/predict"] = model.predict(x, verbose=0)
        model.save(os.path.join(HERE, f"keras_{case}.keras"))
    np.savez(os.path.join(HERE, "keras_files_ref.npz"), **ref)


if __name__ == "__main__":
    main()
