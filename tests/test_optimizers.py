"""densekit.optimizers: formulas, frozen Keras 3.15 trajectories, threads, configs, errors."""

import importlib.util
import os
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from densekit import optimizers
from densekit._lib import _optimizers as _k
from densekit.optimizers import schedules

DATA = os.path.join(os.path.dirname(__file__), "data")


def _load_refs_module():
    spec = importlib.util.spec_from_file_location(
        "make_optimizer_refs", os.path.join(DATA, "make_optimizer_refs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFS = _load_refs_module()


# --------------------------------------------------------------- numpy reference
class Reference:
    """Float64 numpy transcription of Keras 3.15's update rules (one variable)."""

    def __init__(self, kind, cfg, w):
        self.kind, self.cfg = kind, dict(cfg)
        self.w = np.array(w, dtype=np.float64)
        z = np.zeros_like(self.w)
        self.m, self.v, self.vh, self.avg = z.copy(), z.copy(), z.copy(), z.copy()
        self.acc = np.full_like(self.w, cfg.get("initial_accumulator_value", 0.1))
        self.u_product = 1.0
        self.t = 0

    def step(self, g, lr):
        c = self.cfg
        g = np.array(g, dtype=np.float64)
        if c.get("clipnorm"):
            g = g * c["clipnorm"] / max(np.sqrt(np.sum(g * g)), c["clipnorm"])
        if c.get("clipvalue"):
            g = np.clip(g, -c["clipvalue"], c["clipvalue"])
        if c.get("weight_decay") is not None:
            self.w = self.w - self.w * c["weight_decay"] * lr
        t = self.t + 1
        k = self.kind
        if k == "SGD":
            mom = c.get("momentum", 0.0)
            if mom:
                self.m = self.m * mom - g * lr
                self.w = self.w + (self.m * mom - g * lr if c.get("nesterov") else self.m)
            else:
                self.w = self.w - g * lr
        elif k in ("Adam", "AdamW"):
            b1, b2, eps = c.get("beta_1", 0.9), c.get("beta_2", 0.999), c.get("epsilon", 1e-7)
            self.m = self.m + (g - self.m) * (1 - b1)
            self.v = self.v + (g * g - self.v) * (1 - b2)
            v = self.v
            if c.get("amsgrad"):
                self.vh = np.maximum(self.vh, self.v)
                v = self.vh
            alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            self.w = self.w - self.m * alpha / (np.sqrt(v) + eps)
        elif k == "RMSprop":
            rho, mom, eps = c.get("rho", 0.9), c.get("momentum", 0.0), c.get("epsilon", 1e-7)
            self.v = rho * self.v + (1 - rho) * g * g
            if c.get("centered"):
                self.avg = rho * self.avg + (1 - rho) * g
                den = self.v - self.avg ** 2 + eps
            else:
                den = self.v + eps
            inc = lr * g / np.sqrt(den)
            if mom > 0:
                self.m = mom * self.m + inc
                inc = self.m
            self.w = self.w - inc
        elif k == "Adagrad":
            self.acc = self.acc + g * g
            self.w = self.w - lr * g / np.sqrt(self.acc + c.get("epsilon", 1e-7))
        elif k == "Adamax":
            b1, b2, eps = c.get("beta_1", 0.9), c.get("beta_2", 0.999), c.get("epsilon", 1e-7)
            self.m = self.m + (g - self.m) * (1 - b1)
            self.v = np.maximum(b2 * self.v, np.abs(g))
            self.w = self.w - lr * self.m / ((1 - b1 ** t) * (self.v + eps))
        elif k == "Nadam":
            b1, b2, eps = c.get("beta_1", 0.9), c.get("beta_2", 0.999), c.get("epsilon", 1e-7)
            u_t = b1 * (1 - 0.5 * 0.96 ** t)
            u_next = b1 * (1 - 0.5 * 0.96 ** (t + 1))
            self.u_product *= u_t
            self.m = self.m + (g - self.m) * (1 - b1)
            self.v = self.v + (g * g - self.v) * (1 - b2)
            m_hat = u_next * self.m / (1 - self.u_product * u_next) + (1 - u_t) * g / (
                1 - self.u_product)
            v_hat = self.v / (1 - b2 ** t)
            self.w = self.w - m_hat * lr / (np.sqrt(v_hat) + eps)
        self.t = t
        return self.w


FORMULA_CASES = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "nesterov": True, "weight_decay": 0.3}),
    ("SGD", {"learning_rate": 0.1, "clipnorm": 2.0}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "clipvalue": 0.5}),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.7, "epsilon": 1e-3,
              "clipnorm": 10.0}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.3}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.3, "centered": True, "rho": 0.8}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 1.0, "weight_decay": 0.2}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Adamax", {"learning_rate": 0.01, "beta_2": 0.5, "clipvalue": 0.4}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01, "beta_1": 0.8, "weight_decay": 0.05}),
]


def _case_id(case):
    kind, cfg = case
    return kind + "-" + "-".join(f"{k}={v}" for k, v in cfg.items() if k != "learning_rate")


@pytest.mark.parametrize("case", FORMULA_CASES, ids=_case_id)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("n", [7, 40_003], ids=["small", "large"])
def test_matches_numpy_reference(case, dtype, rtol, n):
    kind, cfg = case
    rng = np.random.default_rng(3)
    w = rng.normal(size=n).astype(dtype)
    opt = getattr(optimizers, kind)(**cfg)
    lr = float(opt.learning_rate)  # the float32-stored value, as in Keras
    ref = Reference(kind, cfg, w)
    for _ in range(4):
        g = rng.normal(size=n).astype(dtype)
        opt.apply([g], [w])
        expected = ref.step(g, lr)
        assert w.dtype == dtype
        # atol: values that cancel to ~0 keep the absolute error of O(1) operands.
        assert_allclose(w, expected, rtol=rtol, atol=rtol * 0.1)
    # Every slot keeps the weight's dtype (float32 state for float32 weights).
    assert all(v.dtype == dtype for v in opt.variables[2:] if v.ndim)


def test_global_clipnorm_matches_numpy():
    rng = np.random.default_rng(5)
    ws = [rng.normal(size=(30, 20)), rng.normal(size=20)]
    gs = [rng.normal(size=(30, 20)), rng.normal(size=20)]
    expected = [w.copy() for w in ws]
    opt = optimizers.SGD(learning_rate=0.5, global_clipnorm=1.0)
    opt.apply(gs, ws)
    norm = np.sqrt(sum(np.sum(g * g) for g in gs))
    lr = float(np.float32(0.5))
    for e, g, w in zip(expected, gs, ws):
        assert_allclose(w, e - g * (1.0 / norm) * lr, rtol=1e-12)


# ------------------------------------------------------------ frozen Keras runs
_KERAS = np.load(os.path.join(DATA, "keras_optimizers.npz"))


def _densekit_run(class_name, kwargs, n_threads=None):
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = schedules.deserialize(kwargs["learning_rate"])
    opt = getattr(optimizers, class_name)(n_threads=n_threads, **kwargs)
    init, grads = REFS.inputs()
    weights = [w.copy() for w in init]
    opt.build(weights, names=["kernel", "bias"])
    trajectory = []
    for step_grads in grads:
        opt.apply(step_grads, weights)
        trajectory.append([w.copy() for w in weights])
    return trajectory, opt


@pytest.mark.parametrize("case, class_name, kwargs", REFS.OPTIMIZER_CASES,
                         ids=[c[0] for c in REFS.OPTIMIZER_CASES])
def test_matches_frozen_keras_trajectory(case, class_name, kwargs):
    trajectory, opt = _densekit_run(class_name, kwargs)
    for k, weights in enumerate(trajectory):
        for i, w in enumerate(weights):
            assert_allclose(w, _KERAS[f"{case}/step{k}/w{i}"], rtol=1e-5, atol=1e-7,
                            err_msg=f"{case} step {k} weight {i}")
    n_vars = len([key for key in _KERAS.files if key.startswith(f"{case}/vars/")])
    assert len(opt.variables) == n_vars
    for j, v in enumerate(opt.variables):
        ref = _KERAS[f"{case}/vars/{j}"]
        assert v.shape == ref.shape, (case, j, opt.variable_names[j])
        assert_allclose(v, ref, rtol=1e-5, atol=1e-7, err_msg=f"{case} variable {j}")


@pytest.mark.keras
@pytest.mark.parametrize("case, class_name, kwargs", REFS.OPTIMIZER_CASES,
                         ids=[c[0] for c in REFS.OPTIMIZER_CASES])
def test_matches_live_keras(keras, case, class_name, kwargs):
    expected, expected_vars = REFS.run_keras_optimizer(keras, class_name, kwargs)
    trajectory, opt = _densekit_run(class_name, kwargs)
    for got, ref in zip(trajectory, expected):
        for w, r in zip(got, ref):
            assert_allclose(w, r, rtol=1e-5, atol=1e-7)
    assert [v.shape for v in opt.variables] == [v.shape for v in expected_vars]
    for v, r in zip(opt.variables, expected_vars):
        assert_allclose(v, r, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------- threads
THREAD_CASES = [
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"clipnorm": 1.0}),
    ("Adam", {"amsgrad": True, "global_clipnorm": 1.0}),
    ("AdamW", {"clipvalue": 0.5}),
    ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Adagrad", {}),
    ("Adamax", {}),
    ("Nadam", {"clipnorm": 3.0}),
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=_case_id)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_invariance(case, dtype):
    kind, cfg = case
    rng = np.random.default_rng(7)
    init = [rng.normal(size=(250, 201)).astype(dtype), rng.normal(size=201).astype(dtype)]
    grads = [[rng.normal(size=w.shape).astype(dtype) for w in init] for _ in range(3)]
    results = {}
    for n_threads in (1, 2, 4):
        ws = [w.copy() for w in init]
        opt = getattr(optimizers, kind)(n_threads=n_threads, **cfg)
        for g in grads:
            opt.apply(g, ws)
        results[n_threads] = ws + opt.variables
    for n_threads in (2, 4):
        for a, b in zip(results[1], results[n_threads]):
            assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sumsq_is_identical_for_any_thread_count(dtype):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=n).astype(dtype) for n in (1_000_003, 5, 0, 40_000)]
    grads.append(rng.normal(size=77))  # float64 beside float32 ones
    values = {}
    for n_threads in (1, 2, 3, 4):
        out = np.empty(len(grads))
        _k.sumsq(grads, out, n_threads)
        values[n_threads] = out
    for n_threads in (2, 3, 4):
        assert_array_equal(values[1], values[n_threads])
    expected = [float(np.sum(g.astype(np.float64) ** 2)) for g in grads]
    assert_allclose(values[1], expected, rtol=1e-13)


def test_serial_threshold_is_one_named_constant():
    assert _k.SERIAL_BELOW == 16384
    # Small arrays go through the serial path and give the same values as large ones.
    rng = np.random.default_rng(1)
    big_w, big_g = rng.normal(size=_k.SERIAL_BELOW + 5), rng.normal(size=_k.SERIAL_BELOW + 5)
    small_w, small_g = big_w[:100].copy(), big_g[:100].copy()
    optimizers.Adam(n_threads=2).apply([big_g], [big_w])
    optimizers.Adam(n_threads=2).apply([small_g], [small_w])
    assert_array_equal(big_w[:100], small_w)


# ---------------------------------------------------------------- state, names
def test_variables_order_and_names_follow_keras():
    w = [np.ones((2, 3), np.float32), np.zeros(3, np.float32)]
    opt = optimizers.Adam(amsgrad=True)
    assert opt.variable_names == ["iteration", "learning_rate"]
    opt.build(w, names=["dense/kernel", "dense/bias"])
    assert opt.variable_names == [
        "iteration", "learning_rate",
        "dense_kernel_momentum", "dense_kernel_velocity",
        "dense_bias_momentum", "dense_bias_velocity",
        "dense_kernel_velocity_hat", "dense_bias_velocity_hat",
    ]
    assert [v.shape for v in opt.variables] == [(), (), (2, 3), (2, 3), (3,), (3,), (2, 3), (3,)]
    rms = optimizers.RMSprop(momentum=0.5, centered=True)
    rms.build(w, names=["k", "b"])
    assert rms.variable_names[2:] == ["k_velocity", "b_velocity", "k_momentum", "b_momentum",
                                      "k_average_gradient", "b_average_gradient"]
    ema = optimizers.SGD(momentum=0.5, use_ema=True, gradient_accumulation_steps=2)
    ema.build(w, names=["k", "b"])
    assert ema.variable_names[2:] == ["k_average", "b_average", "k_gradient_accumulator",
                                      "b_gradient_accumulator", "k_momentum", "b_momentum"]
    nadam = optimizers.Nadam()
    nadam.build(w)
    assert nadam.variable_names[-1] == "variable"
    assert nadam.variables[-1].shape == ()
    assert optimizers.SGD().build(w) is None


def test_schedule_learning_rate_has_no_variable_and_is_evaluated_at_iterations():
    sched = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=sched)
    assert opt.variable_names == ["iteration"]
    w = np.zeros(2, np.float32)
    assert opt.learning_rate == np.float32(0.1)
    opt.apply([np.ones(2)], [w])
    assert opt.iterations == 1
    assert opt.learning_rate == np.float32(0.05)
    opt.apply([np.ones(2)], [w])
    assert_allclose(w, [-0.15, -0.15], rtol=1e-6)
    with pytest.raises(TypeError, match="hence its learning rate is not settable"):
        opt.learning_rate = 0.1


def test_learning_rate_setter_and_callable():
    opt = optimizers.Adam()
    opt.learning_rate = 0.5
    assert opt.learning_rate == np.float32(0.5)
    assert opt.get_config()["learning_rate"] == 0.5
    opt.learning_rate = schedules.CosineDecay(0.1, 10)
    assert "learning_rate" not in opt.variable_names
    calls = optimizers.SGD(learning_rate=lambda: 0.25)
    w = np.zeros(1)
    calls.apply([np.ones(1)], [w])
    assert_array_equal(w, [-0.25])


def test_iterations_with_gradient_accumulation():
    opt = optimizers.SGD(learning_rate=1.0, gradient_accumulation_steps=2)
    w = np.zeros(1)
    opt.apply([np.array([1.0])], [w])
    assert_array_equal(w, [0.0])
    assert opt.iterations == 0
    opt.apply([np.array([3.0])], [w])
    assert_array_equal(w, [-2.0])
    assert opt.iterations == 1
    assert int(opt.variables[0]) == 2


def test_exclude_from_weight_decay():
    k, b = np.ones((2, 2)), np.ones(2)
    opt = optimizers.SGD(learning_rate=1.0, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.build([k, b], names=["dense/kernel", "dense/bias"])
    opt.apply([np.zeros((2, 2)), np.zeros(2)])
    assert_array_equal(k, 0.5)
    assert_array_equal(b, 1.0)
    opt2 = optimizers.AdamW(learning_rate=1.0, weight_decay=0.5)
    k2, b2 = np.ones(2), np.ones(2)
    opt2.exclude_from_weight_decay(var_list=[k2])
    opt2.apply([np.zeros(2), np.zeros(2)], [k2, b2])
    assert_array_equal(k2, 1.0)
    assert_array_equal(b2, 0.5)


def test_set_weights_and_save_load_round_trip():
    rng = np.random.default_rng(2)
    w = [rng.normal(size=(3, 2)).astype(np.float32)]
    a = optimizers.Adam()
    for _ in range(3):
        a.apply([rng.normal(size=(3, 2))], w)
    store = {}
    a.save_own_variables(store)
    assert sorted(store) == ["0", "1", "2", "3"]
    w2 = [w[0].copy()]
    b = optimizers.Adam()
    b.build(w2)
    b.load_own_variables(store)
    assert b.iterations == 3
    g = rng.normal(size=(3, 2))
    a.apply([g], w)
    b.apply([g], w2)
    assert_array_equal(w[0], w2[0])
    c = optimizers.Adam()
    with pytest.raises(ValueError, match="has not yet been built"):
        c.set_weights(a.variables)
    c.build([np.zeros((3, 2), np.float32)])
    c.set_weights(a.variables)
    for x, y in zip(a.variables, c.variables):
        assert_array_equal(x, y)
    with pytest.raises(ValueError, match="not compatible with provided weight shape"):
        c.set_weights([np.zeros(4)])
    d = optimizers.Adam()
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        d.load_own_variables(store)


def test_ema_finalize():
    w = np.zeros(2)
    opt = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    opt.apply([np.ones(2)], [w])  # average = w after the first step
    opt.apply([np.ones(2)], [w])  # average = 0.5 * -1 + 0.5 * -2
    assert_array_equal(w, [-2.0, -2.0])
    opt.finalize_variable_values([w])
    assert_array_equal(w, [-1.5, -1.5])


# ------------------------------------------------------------------- registry
@pytest.mark.parametrize("name, cls", [
    ("sgd", optimizers.SGD), ("SGD", optimizers.SGD), ("adam", optimizers.Adam),
    ("Adam", optimizers.Adam), ("ADAM", optimizers.Adam), ("adamw", optimizers.AdamW),
    ("AdamW", optimizers.AdamW), ("rmsprop", optimizers.RMSprop),
    ("RMSprop", optimizers.RMSprop), ("adagrad", optimizers.Adagrad),
    ("adamax", optimizers.Adamax), ("nadam", optimizers.Nadam),
])
def test_get_by_name(name, cls):
    opt = optimizers.get(name)
    assert type(opt) is cls
    assert opt.get_config() == {**cls().get_config(), "name": opt.name}


def test_get_other_identifiers():
    assert optimizers.get(None) is None
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    assert type(optimizers.get({"class_name": "sgd", "config": {"momentum": 0.5}})) is optimizers.SGD
    for bad in ["adamx", "rm_sprop", optimizers.Adam, 3]:
        with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
            optimizers.get(bad)


ALL_CLASSES = [optimizers.SGD, optimizers.Adam, optimizers.AdamW, optimizers.RMSprop,
               optimizers.Adagrad, optimizers.Adamax, optimizers.Nadam]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_config_round_trip(cls):
    opt = cls(learning_rate=0.25, clipnorm=1.5, name="opt")
    config = opt.get_config()
    assert list(config)[:11] == [
        "name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue",
        "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
        "gradient_accumulation_steps"]
    assert config["learning_rate"] == 0.25 and config["name"] == "opt"
    assert cls.from_config(config).get_config() == config
    d = optimizers.serialize(opt)
    assert d["module"] == "densekit.optimizers" and d["class_name"] == cls.__name__
    assert d["registered_name"] is None
    assert optimizers.deserialize(d).get_config() == config


def test_config_with_schedule_round_trip():
    opt = optimizers.SGD(learning_rate=schedules.PolynomialDecay(0.1, 10), momentum=0.5)
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "PolynomialDecay"
    again = optimizers.SGD.from_config(config)
    assert isinstance(again._learning_rate, schedules.PolynomialDecay)
    assert again.get_config() == config
    assert config["learning_rate"]["class_name"] == "PolynomialDecay"  # input not mutated


def test_keras_config_values():
    config = optimizers.Adam().get_config()
    assert config["learning_rate"] == 0.0010000000474974513  # float32-stored, as in Keras
    assert {k: config[k] for k in ("beta_1", "beta_2", "epsilon", "amsgrad")} == {
        "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}
    assert optimizers.AdamW().get_config()["weight_decay"] == 0.004
    assert optimizers.RMSprop().get_config()["rho"] == 0.9
    assert optimizers.Adagrad().get_config()["initial_accumulator_value"] == 0.1
    assert optimizers.SGD().get_config()["learning_rate"] == float(np.float32(0.01))


def test_auto_names_are_unique_and_snake_case():
    a, b = optimizers.RMSprop(), optimizers.RMSprop()
    assert a.name.startswith("rm_sprop") and b.name.startswith("rm_sprop") and a.name != b.name
    assert optimizers.AdamW().name.startswith("adam_w")


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize("lr", [1, "a", None, np.float32(0.1)])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="Argument `learning_rate` should be float, or an "
                                         "instance of LearningRateSchedule"):
        optimizers.SGD(learning_rate=lr)


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"Only one of `clipnorm`, `clipvalue` and "
                                         r"`global_clipnorm` can be set. Received: clipnorm=1.0, "
                                         r"clipvalue=1.0, global_clipnorm=None"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match=r"Argument\(s\) not recognized: \{'foo': 1\}"):
        optimizers.Adam(foo=1)
    with pytest.raises(ValueError, match=r"`momentum` must be a float between \[0, 1\]."):
        optimizers.SGD(momentum=1)
    with pytest.raises(ValueError, match=r"`momentum` must be a float between \[0, 1\]."):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="Argument `weight_decay` must be a float. "
                                         "Received: weight_decay=None"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="`gradient_accumulation_steps` must be an integer >= 2"):
        optimizers.Adam(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match=r"`ema_momentum` must be in the range \[0, 1\]"):
        optimizers.Adam(use_ema=True, ema_momentum=2.0)
    with pytest.raises(ValueError, match="`ema_overwrite_frequency` must be an integer >= 1"):
        optimizers.Adam(use_ema=True, ema_overwrite_frequency=1.5)
    with pytest.raises(ValueError, match="Argument `beta_1` must be a float"):
        optimizers.Adam(beta_1="x")
    with pytest.raises(ValueError, match="Argument `clipnorm` must be a float or None"):
        optimizers.Adam(clipnorm="1")
    with pytest.raises(ValueError, match="Argument `n_threads` must be a non-zero integer"):
        optimizers.Adam(n_threads=0)
    with pytest.warns(UserWarning, match="Argument `decay` is no longer supported"):
        optimizers.Adam(decay=0.1)


def test_apply_errors_leave_weights_unchanged():
    w = [np.ones((2, 2), np.float32), np.ones(2, np.float32)]
    opt = optimizers.Adam()
    with pytest.raises(ValueError, match="the optimizer must already be built"):
        opt.apply([np.ones((2, 2))])
    opt.build(w)
    with pytest.raises(ValueError, match="gradients must match `optimizer.variables`"):
        opt.apply([np.ones((2, 2))])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply([np.ones(3)], [np.ones(3, np.float32)])
    with pytest.raises(ValueError, match="No gradients provided for any variable."):
        opt.apply([None, None])
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) for a variable of shape \(2,\)"):
        opt.apply([np.ones((2, 2)), np.ones(3)])
    with pytest.raises(TypeError, match="real numeric arrays"):
        opt.apply([np.ones((2, 2)), np.array(["a", "b"])])
    assert_array_equal(w[0], 1.0)
    assert_array_equal(w[1], 1.0)
    assert opt.iterations == 0
    assert opt.apply([]) is None
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['variable_1'\]"):
        opt.apply([np.ones((2, 2)), None])
    assert_array_equal(w[1], 1.0)
    assert not np.array_equal(w[0], 1.0)


def test_build_errors():
    with pytest.raises(TypeError, match="must hold float32 or float64 arrays"):
        optimizers.SGD().build([np.ones(2, dtype=np.int64)])
    with pytest.raises(TypeError, match="must hold numpy arrays"):
        optimizers.SGD().build([[1.0, 2.0]])
    with pytest.raises(ValueError, match="C-contiguous, writeable"):
        optimizers.SGD().build([np.ones((3, 3))[:, ::2]])
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="C-contiguous, writeable"):
        optimizers.SGD().build([ro])
    with pytest.raises(ValueError, match="one per variable"):
        optimizers.SGD().build([np.ones(3)], names=["a", "b"])


def test_gradients_are_cast_to_the_weight_dtype():
    w32 = np.ones(3, np.float32)
    opt = optimizers.SGD(learning_rate=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.apply([np.array([1, 2, 3])], [w32])
    assert w32.dtype == np.float32
    assert_array_equal(w32, np.float32([0.5, 0.0, -0.5]))


def test_threadpool_limits_gives_the_same_result():
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(11)
    init = rng.normal(size=100_000).astype(np.float32)
    grads = [rng.normal(size=init.size).astype(np.float32) for _ in range(2)]
    a, b = init.copy(), init.copy()
    opt_a = optimizers.Adam(clipnorm=1.0, n_threads=2)
    for g in grads:
        opt_a.apply([g], [a])
    opt_b = optimizers.Adam(clipnorm=1.0)
    with threadpool_limits(1, user_api="openmp"):
        for g in grads:
            opt_b.apply([g], [b])
    assert_array_equal(a, b)


@pytest.mark.parametrize("layout", ["F", "readonly", "list"])
def test_gradient_layouts(layout):
    rng = np.random.default_rng(4)
    w0 = rng.normal(size=(5, 4))
    g = rng.normal(size=(5, 4))
    expected = w0.copy()
    optimizers.RMSprop().apply([g.copy()], [expected])
    if layout == "F":
        g = np.asfortranarray(g)
    elif layout == "readonly":
        g.flags.writeable = False
    else:
        g = g.tolist()
    w = w0.copy()
    optimizers.RMSprop().apply([g], [w])
    assert_array_equal(w, expected)


def test_apply_gradients_pairs():
    w = np.ones(2)
    opt = optimizers.SGD(learning_rate=0.5)
    it = opt.apply_gradients([(np.ones(2), w)])
    assert int(it) == 1
    assert_array_equal(w, [0.5, 0.5])


def test_learning_rate_setter_rejects_non_numbers():
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match="Argument `learning_rate` must be a float"):
        opt.learning_rate = "fast"


def test_variables_must_not_overlap_or_repeat():
    buf = np.zeros(10)
    with pytest.raises(ValueError, match="do not share memory"):
        optimizers.SGD().build([buf[:6], buf[4:]])
    opt = optimizers.SGD()
    first, second = buf[:5], buf[5:]
    opt.build([first, second])  # disjoint views of one buffer are fine
    with pytest.raises(ValueError, match="must not repeat a variable"):
        opt.apply([np.ones(5), np.ones(5)], [first, first])
    opt.apply([np.ones(5), np.ones(5)], [first, second])
    assert_allclose(buf, -0.01, rtol=1e-6)


def test_variables_in_any_order_and_subsets():
    rng = np.random.default_rng(9)
    init = [rng.normal(size=(3, 2)), rng.normal(size=4), rng.normal(size=5)]
    grads = [rng.normal(size=w.shape) for w in init]
    ws = [w.copy() for w in init]
    opt = optimizers.Adam(learning_rate=0.1)
    opt.build(ws)
    opt.apply([grads[2], grads[0]], [ws[2], ws[0]])  # reversed subset
    ref = [w.copy() for w in init]
    ref_opt = optimizers.Adam(learning_rate=0.1)
    ref_opt.build(ref)
    ref_opt.apply([grads[0], grads[2]], [ref[0], ref[2]])
    for x, y in zip(ws, ref):
        assert_array_equal(x, y)
    assert_array_equal(ws[1], init[1])


def test_gradient_sharing_memory_with_its_variable_is_read_before_the_update():
    w = np.ones(3)
    optimizers.SGD(learning_rate=0.5, weight_decay=1.0).apply([w], [w])
    # decay then step, both from the gradient's value before the update: 1 - 0.5 - 0.5
    assert_array_equal(w, [0.0, 0.0, 0.0])


def test_degenerate_hyperparameters_give_ieee_values_not_exceptions():
    w = np.ones(2, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.Adam(beta_1=1.0).apply([np.ones(2)], [w])  # 1 - beta_1**t == 0
    assert not np.isfinite(w).any()


def test_scalar_helpers():
    from densekit.optimizers import _scalars as sc

    assert sc.round32(0.1) == float(np.float32(0.1))
    assert sc.round32(1e300) == np.inf and sc.round32(-1e300) == -np.inf
    assert np.isnan(sc.round32(np.nan))
    assert sc.div(1.0, 0.0) == np.inf and sc.div(-1.0, 0.0) == -np.inf
    assert sc.div(1.0, -0.0) == -np.inf and np.isnan(sc.div(0.0, 0.0))
    assert np.isnan(sc.sqrt(-1.0)) and sc.sqrt(4.0) == 2.0
    assert sc.pow_(10.0, 400) == np.inf and sc.pow_(-10.0, 401) == -np.inf
    assert sc.pow_(0.5, 3) == 0.125
    assert sc.rounder(np.dtype(np.float64)) is sc.identity


@pytest.mark.parametrize("kind", ["SGD", "Adam", "RMSprop", "Adagrad", "Adamax"])
def test_mixed_dtypes_in_one_step_equal_separate_steps(kind):
    rng = np.random.default_rng(21)
    init = [rng.normal(size=30_000).astype(np.float32), rng.normal(size=(7, 3))]
    grads = [[rng.normal(size=w.shape).astype(w.dtype) for w in init] for _ in range(3)]
    together = [w.copy() for w in init]
    opt = getattr(optimizers, kind)(clipnorm=2.0, n_threads=2)
    for g in grads:
        opt.apply(g, together)
    for i, w0 in enumerate(init):
        alone = w0.copy()
        single = getattr(optimizers, kind)(clipnorm=2.0, n_threads=2)
        for g in grads:
            single.apply([g[i]], [alone])
        assert_array_equal(together[i], alone)


def test_update_threads_follow_threads_for_and_keep_the_bits():
    # issue 12: an update's thread count comes from threads_for (one helper); a
    # step too small for a team runs on the calling thread, a large one may not,
    # and the bits are the same either way.
    from densekit._threads import PARALLEL_WORK, threads_for
    from densekit.optimizers.base_optimizer import _UPDATE_FLOPS

    assert threads_for(_UPDATE_FLOPS * 535_000, 2) == 1  # the 784-512-256-10 MLP
    n = 2 * PARALLEL_WORK // _UPDATE_FLOPS + 7
    assert threads_for(_UPDATE_FLOPS * n, 2) == 2
    rng = np.random.default_rng(5)
    w0, g = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
    results = []
    for n_threads in (1, 2):
        w = w0.copy()
        opt = optimizers.Adam(n_threads=n_threads)
        for _ in range(3):
            opt.apply([g], [w])
        results.append(w)
    assert_array_equal(results[0], results[1])
