"""Generate tests/data/keras_optimizers.npz and keras_schedules.json from real Keras.

How they were generated (Keras 3.15.1, jax backend, CPU):

    KERAS_BACKEND=jax python tests/data/make_optimizer_refs.py

The cases below are shared with tests/test_optimizers.py's live cross-check (the
deselected ``keras`` marker), which imports this module and recomputes them with
the Keras it finds (on the numpy backend). Every case runs STEPS optimizer steps
on fixed float32 weights (a 4x3 kernel and a 3-vector bias) with fixed
per-step gradients, and records the weights after each step and the
optimizer's variables at the end (in `optimizer.variables` order).
"""

import json
import os
import sys

import numpy as np

STEPS = 5
HERE = os.path.dirname(os.path.abspath(__file__))

# (case name, class name, constructor kwargs; a "learning_rate" dict is a schedule).
OPTIMIZER_CASES = [
    ("sgd", "SGD", {"learning_rate": 0.1}),
    ("sgd_momentum", "SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd_nesterov", "SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("sgd_weight_decay", "SGD", {"learning_rate": 0.1, "weight_decay": 0.5}),
    ("sgd_clipnorm", "SGD", {"learning_rate": 0.1, "clipnorm": 0.5}),
    ("sgd_ema", "SGD", {"learning_rate": 0.1, "use_ema": True, "ema_momentum": 0.9,
                        "ema_overwrite_frequency": 2}),
    ("sgd_loss_scale", "SGD", {"learning_rate": 0.1, "loss_scale_factor": 4.0}),
    ("adam", "Adam", {"learning_rate": 0.01}),
    ("adam_amsgrad", "Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("adam_clipvalue", "Adam", {"learning_rate": 0.01, "clipvalue": 0.3}),
    ("adam_global_clipnorm", "Adam", {"learning_rate": 0.01, "global_clipnorm": 0.5}),
    ("adam_accumulation", "Adam", {"learning_rate": 0.01, "gradient_accumulation_steps": 2}),
    ("adam_schedule", "Adam", {"learning_rate": {"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.01, "decay_steps": 2, "decay_rate": 0.5}}}),
    ("adamw", "AdamW", {"learning_rate": 0.01}),
    ("adamw_decay", "AdamW", {"learning_rate": 0.01, "weight_decay": 0.2}),
    ("rmsprop", "RMSprop", {"learning_rate": 0.01}),
    ("rmsprop_centered", "RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("rmsprop_momentum_centered", "RMSprop", {"learning_rate": 0.01, "momentum": 0.5,
                                              "centered": True}),
    ("adagrad", "Adagrad", {"learning_rate": 0.1}),
    ("adamax", "Adamax", {"learning_rate": 0.01}),
    ("nadam", "Nadam", {"learning_rate": 0.01}),
]

# (case name, class name, config, steps)
_STEPS = [0, 1, 2, 3, 5, 9, 10, 11, 15, 20, 30, 47, 100, 1000]
SCHEDULE_CASES = [
    ("exponential", "ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10,
                                         "decay_rate": 0.5}),
    ("exponential_staircase", "ExponentialDecay", {"initial_learning_rate": 0.1,
                                                   "decay_steps": 10, "decay_rate": 0.9,
                                                   "staircase": True}),
    ("piecewise", "PiecewiseConstantDecay", {"boundaries": [5, 15], "values": [1.0, 0.5, 0.1]}),
    ("inverse_time", "InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 3,
                                          "decay_rate": 0.5}),
    ("inverse_time_staircase", "InverseTimeDecay", {"initial_learning_rate": 0.1,
                                                    "decay_steps": 3, "decay_rate": 0.5,
                                                    "staircase": True}),
    ("polynomial", "PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 20,
                                       "end_learning_rate": 0.01, "power": 2.0}),
    ("polynomial_cycle", "PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7,
                                             "power": 0.5, "cycle": True}),
    ("cosine", "CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 20,
                               "alpha": 0.1}),
    ("cosine_warmup", "CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 20,
                                      "warmup_target": 0.1, "warmup_steps": 10}),
    ("cosine_restarts", "CosineDecayRestarts", {"initial_learning_rate": 0.1,
                                                "first_decay_steps": 4}),
    ("cosine_restarts_mul", "CosineDecayRestarts", {"initial_learning_rate": 0.1,
                                                    "first_decay_steps": 3, "t_mul": 1.0,
                                                    "m_mul": 0.5, "alpha": 0.2}),
]


def inputs():
    """The fixed initial weights and per-step gradients (float32)."""
    rng = np.random.default_rng(12)
    kernel = rng.normal(size=(4, 3)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    grads = [[rng.normal(size=(4, 3)).astype(np.float32),
              rng.normal(size=3).astype(np.float32)] for _ in range(STEPS)]
    return [kernel, bias], grads


def run_keras_optimizer(keras, class_name, kwargs):
    """(weights after each step, final optimizer variables) from Keras."""
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = keras.optimizers.schedules.deserialize(kwargs["learning_rate"])
    opt = getattr(keras.optimizers, class_name)(**kwargs)
    init, grads = inputs()
    variables = [keras.Variable(init[0], name="kernel"), keras.Variable(init[1], name="bias")]
    trajectory = []
    for step_grads in grads:
        opt.apply(step_grads, variables)
        trajectory.append([np.array(v.numpy()) for v in variables])
    return trajectory, [np.array(v.numpy()) for v in opt.variables]


def run_keras_schedule(keras, class_name, config):
    sched = getattr(keras.optimizers.schedules, class_name)(**config)
    return [float(np.asarray(sched(s))) for s in _STEPS]


def main():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    arrays = {}
    for case, class_name, kwargs in OPTIMIZER_CASES:
        trajectory, opt_vars = run_keras_optimizer(keras, class_name, kwargs)
        for k, weights in enumerate(trajectory):
            for i, w in enumerate(weights):
                arrays[f"{case}/step{k}/w{i}"] = w
        for j, v in enumerate(opt_vars):
            arrays[f"{case}/vars/{j}"] = v
    np.savez_compressed(os.path.join(HERE, "keras_optimizers.npz"), **arrays)
    schedules = {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "steps": _STEPS,
        "values": {case: run_keras_schedule(keras, class_name, config)
                   for case, class_name, config in SCHEDULE_CASES},
    }
    with open(os.path.join(HERE, "keras_schedules.json"), "w") as f:
        json.dump(schedules, f, indent=1)
        f.write("\n")
    print(f"wrote {len(arrays)} arrays and {len(schedules['values'])} schedules "
          f"(keras {keras.__version__}, {keras.backend.backend()})", file=sys.stderr)


if __name__ == "__main__":
    main()
