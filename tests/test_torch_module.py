"""densekit.torch.init_module_, materialize_ and save_initialized.

Distributions are checked against torch's own reset_parameters by two-sample KS tests
(n >= 1e5 per rule, fixed seeds, p > 1e-3, no retry) and exact bounds; the mapping of
every rule to its torch-named function is checked exactly.
"""

import functools
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from torch import nn  # noqa: E402

import densekit.torch as dt  # noqa: E402
from densekit import initializers  # noqa: E402

KS_FLOOR = 1e-3
SQRT5 = math.sqrt(5)


def _ks(ours, theirs):
    a = ours.detach().double().numpy().ravel()
    b = theirs.detach().double().numpy().ravel()
    assert a.size >= 100_000 and b.size >= 100_000
    p = stats.ks_2samp(a, b).pvalue
    assert p > KS_FLOOR, p


def _torch_ref(build, seed=0):
    torch.manual_seed(seed)
    return build()


def _ours(build, seed=0, **kw):
    torch.manual_seed(123)  # torch's draws at construction are overwritten
    return dt.init_module_(build(), seed=seed, **kw)


def _expected(fn, shape, seed, name, *args, **kwargs):
    """What the torch-named `fn` writes with the parameter's derived seed."""
    t = torch.empty(shape)
    if "seed" in fn.__code__.co_varnames:
        kwargs["seed"] = dt.param_seed(seed, name)
    return fn(t, *args, **kwargs)


# ---------------------------------------------------------------------------- param_seed
def test_param_seed_is_fixed_and_documented():
    import hashlib

    for seed, name in [(0, "0.weight"), (42, "model.layers.3.attn.q_proj.weight"), (2**63, "")]:
        digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
        assert dt.param_seed(seed, name) == int.from_bytes(digest, "little")
    assert dt.param_seed(0, "0.weight") == 11487754345684560478
    # Not Python's hash(): the same under another PYTHONHASHSEED.
    code = "import densekit.torch as dt; print(dt.param_seed(5, 'a.b'))"
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONHASHSEED": h}).stdout.strip()
        for h in ("1", "2")
    }
    assert outs == {str(dt.param_seed(5, "a.b"))}


# ---------------------------------------------------------------------------- scheme="torch"
@pytest.mark.parametrize("build, names, bound_of", [
    (lambda: nn.Linear(16, 100_000), ["weight", "bias"], lambda m: 1 / math.sqrt(16)),
    (lambda: nn.Conv2d(4, 100_000, 1), ["weight", "bias"], lambda m: 1 / 2),
    (lambda: nn.Conv1d(2, 50_000, 3, groups=2), ["weight"], lambda m: 1 / math.sqrt(3)),
    (lambda: nn.ConvTranspose1d(2, 100_000, 1), ["weight", "bias"],
     lambda m: 1 / math.sqrt(100_000)),
    (lambda: nn.Bilinear(4, 4, 100_000), ["weight", "bias"], lambda m: 1 / 2),
    (lambda: nn.LSTM(160, 160), ["weight_ih_l0", "weight_hh_l0"], lambda m: 1 / math.sqrt(160)),
    (lambda: nn.GRUCell(200, 200), ["weight_ih", "weight_hh"], lambda m: 1 / math.sqrt(200)),
    (lambda: nn.MultiheadAttention(192, 4), ["in_proj_weight"],
     lambda m: math.sqrt(6 / (192 + 576))),
])
def test_uniform_rules_match_torch(build, names, bound_of):
    ours, ref = _ours(build), _torch_ref(build)
    for name in names:
        w, r = ours.get_parameter(name), ref.get_parameter(name)
        bound = bound_of(ours)
        assert w.abs().max().item() <= bound * (1 + 1e-6)
        assert w.abs().max().item() > 0.99 * bound
        _ks(w, r)


@pytest.mark.parametrize("padding_idx", [None, 3, -2])
def test_embedding_matches_torch(padding_idx):
    for cls in (nn.Embedding, nn.EmbeddingBag):
        build = functools.partial(cls, 1000, 128, padding_idx=padding_idx)
        ours, ref = _ours(build), _torch_ref(build)
        if padding_idx is not None:
            assert ours.weight[padding_idx].eq(0).all()
            keep = torch.ones(1000, dtype=torch.bool)
            keep[padding_idx] = False
            _ks(ours.weight[keep], ref.weight[keep])
        else:
            _ks(ours.weight, ref.weight)


def test_rules_map_to_torch_named_functions_exactly():
    seed = 9
    m = _ours(lambda: nn.Sequential(nn.Linear(7, 5), nn.Conv2d(3, 4, 2), nn.Embedding(6, 3, 2),
                                    nn.LSTM(3, 4, num_layers=2, bidirectional=True),
                                    nn.MultiheadAttention(8, 2, add_bias_kv=True, kdim=6, vdim=5),
                                    nn.PReLU(3, init=0.1)), seed=seed)
    same = torch.equal
    assert same(m[0].weight, _expected(dt.kaiming_uniform_, (5, 7), seed, "0.weight", a=SQRT5))
    b = 1 / math.sqrt(7)
    assert same(m[0].bias, _expected(dt.uniform_, (5,), seed, "0.bias", -b, b))
    assert same(m[1].weight, _expected(dt.kaiming_uniform_, (4, 3, 2, 2), seed, "1.weight",
                                       a=SQRT5))
    emb = _expected(dt.normal_, (6, 3), seed, "2.weight")
    emb[2] = 0
    assert same(m[2].weight, emb)
    s = 1 / math.sqrt(4)
    for name, p in m[3].named_parameters():
        assert same(p, _expected(dt.uniform_, tuple(p.shape), seed, f"3.{name}", -s, s)), name
    attn = m[4]
    for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
        p = attn.get_parameter(name)
        assert same(p, _expected(dt.xavier_uniform_, tuple(p.shape), seed, f"4.{name}"))
    for name in ("bias_k", "bias_v"):
        p = attn.get_parameter(name)
        assert same(p, _expected(dt.xavier_normal_, tuple(p.shape), seed, f"4.{name}"))
    assert attn.in_proj_bias.eq(0).all() and attn.out_proj.bias.eq(0).all()
    assert same(attn.out_proj.weight, _expected(dt.kaiming_uniform_, (8, 8), seed,
                                                "4.out_proj.weight", a=SQRT5))
    assert m[5].weight.eq(torch.tensor(0.1)).all()


def test_norms_and_running_stats():
    mods = nn.Sequential(nn.LayerNorm(5), nn.GroupNorm(2, 4), nn.BatchNorm2d(3),
                         nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
                         nn.RMSNorm(6), nn.LayerNorm(4, bias=False))
    for p in mods.parameters():
        p.data.normal_()
    for name, b in mods.named_buffers():
        b.fill_(7)
    dt.init_module_(mods, seed=0)
    for name, p in mods.named_parameters():
        assert p.eq(1 if name.endswith("weight") else 0).all(), name
    for name, b in mods.named_buffers():
        assert b.eq(1 if name.endswith("running_var") else 0).all(), name
    assert mods[2].num_batches_tracked.dtype == torch.int64


def test_transformer_layers():
    seed = 3
    layer = _ours(lambda: nn.TransformerEncoderLayer(16, 2, 32), seed=seed)
    assert torch.equal(layer.linear1.weight, _expected(dt.kaiming_uniform_, (32, 16), seed,
                                                       "linear1.weight", a=SQRT5))
    assert torch.equal(layer.self_attn.in_proj_weight,
                       _expected(dt.xavier_uniform_, (48, 16), seed, "self_attn.in_proj_weight"))
    assert layer.self_attn.in_proj_bias.eq(0).all() and layer.norm1.weight.eq(1).all()
    # nn.Transformer: xavier_uniform_ on every matrix, as its _reset_parameters does.
    tr = _ours(lambda: nn.Transformer(16, 2, 1, 1, 32, batch_first=True), seed=seed)
    for name, p in tr.named_parameters():
        if p.dim() > 1:
            assert torch.equal(p, _expected(dt.xavier_uniform_, tuple(p.shape), seed, name)), name
    b = 1 / math.sqrt(16)
    assert torch.equal(tr.encoder.layers[0].linear1.bias,
                       _expected(dt.uniform_, (32,), seed, "encoder.layers.0.linear1.bias", -b, b))


# ---------------------------------------------------------------------------- scheme="normal"
def test_normal_scheme():
    seed = 1
    build = lambda: nn.Sequential(nn.Embedding(2000, 64, padding_idx=0), nn.Linear(64, 2000),  # noqa: E731
                                  nn.LayerNorm(64), nn.MultiheadAttention(16, 2))
    m = _ours(build, seed=seed, scheme="normal")
    assert torch.equal(m[1].weight, _expected(dt.normal_, (2000, 64), seed, "1.weight", 0.0, 0.02))
    assert m[0].weight[0].eq(0).all() and m[1].bias.eq(0).all() and m[2].weight.eq(1).all()
    assert m[3].in_proj_bias.eq(0).all() and m[3].out_proj.bias.eq(0).all()
    w = m[1].weight.detach().double().numpy().ravel()
    assert stats.kstest(w, "norm", args=(0, 0.02)).pvalue > KS_FLOOR
    m2 = _ours(build, seed=seed, scheme="normal", std=0.5)
    assert abs(m2[1].weight.std().item() - 0.5) < 0.01
    with pytest.raises(ValueError, match="Argument `scheme`"):
        dt.init_module_(nn.Linear(2, 2), scheme="xavier")
    with pytest.raises(ValueError, match="Argument `std`"):
        dt.init_module_(nn.Linear(2, 2), scheme="normal", std=0)


# ---------------------------------------------------------------------------- rules
def test_rules_patterns_types_and_values():
    seed = 4
    build = lambda: nn.ModuleDict({  # noqa: E731
        "attn": nn.ModuleDict({"q": nn.Linear(8, 8), "k": nn.Linear(8, 8)}),
        "mlp": nn.Linear(8, 32), "norm": nn.LayerNorm(8), "conv": nn.Conv2d(2, 3, 3)})
    rules = {
        "attn.q.weight": "xavier_uniform_",
        re.compile(r"attn\.k\.(weight|bias)"): functools.partial(dt.normal_, std=0.5),
        nn.Conv2d: {"weight": torch.nn.init.orthogonal_, "bias": None},
        "mlp.weight": initializers.HeUniform(seed=123),
        "norm.*": "zeros",
    }
    ref = build()
    conv_bias = ref.conv.bias.detach().clone()
    m = dt.init_module_(ref, seed=seed, rules=rules)
    assert torch.equal(m.attn.q.weight, _expected(dt.xavier_uniform_, (8, 8), seed, "attn.q.weight"))
    b = 1 / math.sqrt(8)
    assert torch.equal(m.attn.q.bias, _expected(dt.uniform_, (8,), seed, "attn.q.bias", -b, b))
    assert torch.equal(m.attn.k.bias, _expected(dt.normal_, (8,), seed, "attn.k.bias", std=0.5))
    assert torch.equal(m.conv.weight, _expected(dt.orthogonal_, (3, 2, 3, 3), seed, "conv.weight"))
    assert torch.equal(m.conv.bias, conv_bias)  # None: left as it was
    # Keras-named: reseeded per parameter; fans="torch" reads (out, in) as torch does.
    limit = math.sqrt(6 / 8)  # He uniform, fan_in = in_features = 8
    assert 0.9 * limit < m.mlp.weight.abs().max().item() <= limit
    via_fill = dt.fill_(torch.empty(32, 8), initializers.HeUniform(
        seed=dt.param_seed(seed, "mlp.weight")), fans="torch")
    assert torch.equal(m.mlp.weight, via_fill)
    assert m.norm.weight.eq(0).all()
    keras_fans = dt.init_module_(build(), seed=seed, rules={"mlp.weight": "he_uniform"},
                                 fans="keras")
    # Keras' rules read the (32, 8) weight as fan_in = 32.
    assert 0.9 * math.sqrt(6 / 32) < keras_fans.mlp.weight.abs().max().item() <= math.sqrt(6 / 32)


def test_rules_errors():
    with pytest.raises(ValueError, match="Argument `rules` maps"):
        dt.init_module_(nn.Linear(2, 2), rules={"*": "no_such_init"})
    with pytest.raises(ValueError, match="not an initializer"):
        dt.init_module_(nn.Linear(2, 2), rules={"*": lambda t: t})
    with pytest.raises(TypeError, match="keys"):
        dt.init_module_(nn.Linear(2, 2), rules={3: "zeros"})
    with pytest.raises(TypeError, match="Argument `rules` must be a mapping"):
        dt.init_module_(nn.Linear(2, 2), rules=["zeros"])
    with pytest.raises(TypeError, match="Argument `module`"):
        dt.init_module_(torch.empty(3))
    with pytest.raises(ValueError, match="Argument `fans`"):
        dt.init_module_(nn.Linear(2, 2), fans="jax")


# ---------------------------------------------------------------------------- seeds, ties, dtypes
def test_values_depend_only_on_seed_name_shape_rule():
    a = dt.init_module_(nn.ModuleDict({"x": nn.Linear(4, 5), "y": nn.Linear(5, 6)}), seed=2)
    b = dt.init_module_(nn.ModuleDict({"y": nn.Linear(5, 6), "z": nn.Conv1d(1, 2, 3),
                                       "x": nn.Linear(4, 5)}), seed=2)
    for name in ("x.weight", "x.bias", "y.weight", "y.bias"):
        assert torch.equal(a.get_parameter(name), b.get_parameter(name))
    c = dt.init_module_(nn.ModuleDict({"x": nn.Linear(4, 5)}), seed=3)
    assert not torch.equal(a.x.weight, c.x.weight)
    assert not torch.equal(a.x.weight[:4, :4], a.y.weight[:4, :4])
    # seed=None follows torch.manual_seed.
    torch.manual_seed(0)
    d1 = dt.init_module_(nn.Linear(4, 5))
    torch.manual_seed(0)
    d2 = dt.init_module_(nn.Linear(4, 5))
    assert torch.equal(d1.weight, d2.weight)


def test_thread_count_does_not_change_values():
    m1 = dt.init_module_(nn.Linear(300, 200), seed=0, n_threads=1)
    m4 = dt.init_module_(nn.Linear(300, 200), seed=0, n_threads=4)
    assert torch.equal(m1.weight, m4.weight) and torch.equal(m1.bias, m4.bias)


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8, padding_idx=0)
        self.body = nn.Linear(8, 8)
        self.head = nn.Linear(8, 20, bias=False)
        self.head.weight = self.embed.weight


def test_tied_parameters_initialized_once_and_stay_tied():
    m = dt.init_module_(Tied(), seed=5)
    assert m.head.weight is m.embed.weight
    expected = _expected(dt.normal_, (20, 8), 5, "embed.weight")
    expected[0] = 0
    assert torch.equal(m.embed.weight, expected)


@pytest.mark.parametrize("tdtype", [torch.float16, torch.bfloat16])
def test_half_precision_written_directly(tdtype):
    f32 = dt.init_module_(Tied(), seed=1)
    low = Tied().to(tdtype)
    ptrs = [p.data_ptr() for p in low.parameters()]
    dt.init_module_(low, seed=1)
    assert ptrs == [p.data_ptr() for p in low.parameters()]
    for (name, p), q in zip(low.named_parameters(), f32.parameters()):
        assert p.dtype == tdtype
        # 16-bit outputs are the float32 values rounded to nearest even.
        assert torch.equal(p, q.to(tdtype)), name


# ---------------------------------------------------------------------------- fallbacks
class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(5))
        self.inner = nn.Linear(3, 3)

    def reset_parameters(self):
        nn.init.uniform_(self.scale, 2, 3)


class NoReset(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.full((2,), 7.0))


def test_unknown_modules_fall_back_and_are_reported():
    model = nn.Sequential(Custom(), NoReset())
    report = []
    with pytest.warns(dt.FallbackWarning, match=r"0 \(Custom\): reset_parameters.*"
                      r"1 \(NoReset\): left unchanged"):
        dt.init_module_(model, seed=0, report=report)
    assert report == [dt.Fallback("0", "Custom", "reset_parameters"),
                      dt.Fallback("1", "NoReset", "left unchanged (no reset_parameters)")]
    assert ((model[0].scale >= 2) & (model[0].scale < 3)).all()
    assert model[1].w.eq(7).all()
    assert torch.equal(model[0].inner.weight, _expected(dt.kaiming_uniform_, (3, 3), 0,
                                                        "0.inner.weight", a=SQRT5))
    # The fallback is seeded from (seed, module name): reproducible.
    again = nn.Sequential(Custom(), NoReset())
    with pytest.warns(dt.FallbackWarning):
        dt.init_module_(again, seed=0)
    assert torch.equal(again[0].scale, model[0].scale)
    # A rule covering the parameter: no fallback, no warning.
    covered = dt.init_module_(nn.Sequential(Custom()), seed=0, rules={"*.scale": "ones"},
                              report=(rep := []))
    assert rep == [] and covered[0].scale.eq(1).all()


# ---------------------------------------------------------------------------- materialize_
def _meta(build):
    with torch.device("meta"):
        return build()


def _equal_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16, padding_idx=1)
        self.conv = nn.Conv1d(16, 16, 3)
        self.bn = nn.BatchNorm1d(16)
        self.attn = nn.MultiheadAttention(16, 2)
        self.rnn = nn.GRU(16, 8)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(16, 50, bias=False)
        self.head.weight = self.embed.weight


@pytest.mark.parametrize("scheme", ["torch", "normal"])
def test_materialize_equals_init_module(scheme):
    real = dt.init_module_(Net(), seed=8, scheme=scheme)
    meta = _meta(Net)
    out = dt.materialize_(meta, seed=8, scheme=scheme)
    assert out is meta
    assert not any(t.is_meta for t in list(meta.parameters()) + list(meta.buffers()))
    assert meta.head.weight is meta.embed.weight and meta.head.weight.requires_grad
    _equal_state(real, meta)


def test_materialize_reports_undefined_buffers_and_checks_args():
    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.register_buffer("inv_freq", torch.arange(4.0), persistent=False)

    report = []
    with pytest.warns(dt.FallbackWarning, match="inv_freq"):
        m = dt.materialize_(_meta(WithBuffer), seed=0, report=report)
    assert report == [dt.Fallback("", "WithBuffer", "buffer inv_freq left uninitialized")]
    assert not m.inv_freq.is_meta
    with pytest.raises(ValueError, match="materialize_"):
        dt.init_module_(_meta(lambda: nn.Linear(2, 2)), seed=0)
    with pytest.raises(ValueError, match="Argument `device`"):
        dt.materialize_(_meta(lambda: nn.Linear(2, 2)), device="meta")


# ---------------------------------------------------------------------------- save_initialized
def _load_all(paths):
    out = {}
    for p in paths:
        if p.endswith(".safetensors"):
            out.update(safetensors_torch.load_file(p))
    return out


def test_save_initialized_equals_init_module(tmp_path):
    real = dt.init_module_(Net(), seed=6)
    path = tmp_path / "model.safetensors"
    written = dt.save_initialized(_meta(Net), path, seed=6, progress=False)
    assert written == [os.path.realpath(path)]
    loaded = safetensors_torch.load_file(path)
    state = real.state_dict()
    assert set(loaded) == set(state) - {"head.weight"}  # tied: stored once
    for k, v in loaded.items():
        assert torch.equal(v, state[k]), k
    # A real module gives the same file; a small chunk (many blocks) too.
    again = tmp_path / "again.safetensors"
    dt.save_initialized(Net(), again, seed=6, progress=False, chunk_bytes=64)
    assert again.read_bytes() == path.read_bytes()
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert f.metadata() == {"format": "pt"}
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert n % 8 == 0 and raw[8:8 + n].rstrip(b" ").endswith(b"}")
    nn_model = Net()
    safetensors_torch.load_model(nn_model, str(path))
    _equal_state(real, nn_model)


def test_save_initialized_shards_and_index(tmp_path):
    real = dt.init_module_(Net(), seed=6)
    path = tmp_path / "model.safetensors"
    written = dt.save_initialized(_meta(Net), path, seed=6, progress=False,
                                  max_shard_size="2KB", dtype="bfloat16")
    index_path = written[-1]
    assert index_path.endswith("model.safetensors.index.json") and len(written) >= 4
    assert os.path.basename(written[0]) == f"model-00001-of-{len(written) - 1:05d}.safetensors"
    with open(index_path) as f:
        index = json.load(f)
    assert set(index) == {"metadata", "weight_map"}
    loaded = _load_all(written[:-1])
    assert index["metadata"]["total_size"] == sum(v.numel() * v.element_size()
                                                  for v in loaded.values())
    assert set(index["weight_map"]) == set(loaded)
    for name, fname in index["weight_map"].items():
        assert name in safetensors_torch.load_file(tmp_path / fname)
    state = real.state_dict()
    for k, v in loaded.items():
        if v.dtype == torch.bfloat16:
            assert torch.equal(v, state[k].to(torch.bfloat16)), k
        else:
            assert torch.equal(v, state[k]), k  # num_batches_tracked stays int64
    assert not list(tmp_path.glob(".*partial"))
    with pytest.raises(FileExistsError):
        dt.save_initialized(_meta(Net), path, seed=6, progress=False, max_shard_size="4KB")
    dt.save_initialized(_meta(Net), path, seed=6, progress=False, max_shard_size=4000,
                        overwrite=True)


def test_save_initialized_from_shapes(tmp_path):
    shapes = {"wte": (100, 16), "h.0.ln.weight": (16,), "h.0.ln.bias": (16,),
              "h.0.mlp.weight": ((64, 16), torch.float16)}
    path = tmp_path / "s.safetensors"
    dt.save_initialized(shapes, path, seed=0, scheme="normal", progress=False,
                        rules={"wte": "xavier_uniform_"})
    out = safetensors_torch.load_file(path)
    assert torch.equal(out["wte"], _expected(dt.xavier_uniform_, (100, 16), 0, "wte"))
    assert out["h.0.ln.weight"].eq(1).all() and out["h.0.ln.bias"].eq(0).all()
    assert out["h.0.mlp.weight"].dtype == torch.float16
    assert torch.equal(out["h.0.mlp.weight"],
                       _expected(dt.normal_, (64, 16), 0, "h.0.mlp.weight", 0.0, 0.02).half())
    with pytest.raises(ValueError, match="scheme='torch' needs"):
        dt.save_initialized(shapes, tmp_path / "t.safetensors", seed=0, progress=False)
    with pytest.raises(ValueError, match="no rule for these modules"):
        dt.save_initialized(_meta(lambda: nn.Sequential(NoReset())), tmp_path / "u.safetensors",
                            seed=0, progress=False)
    with pytest.raises(ValueError, match="must end in .safetensors"):
        dt.save_initialized(shapes, tmp_path / "t.npy", seed=0, scheme="normal", progress=False)
    with pytest.raises(ValueError, match="Argument `seed`"):
        dt.save_initialized(shapes, path, seed=None, scheme="normal")
    with pytest.raises(ValueError, match="Argument `max_shard_size`"):
        dt.save_initialized(shapes, tmp_path / "v.safetensors", seed=0, scheme="normal",
                            max_shard_size="5 parsecs", progress=False)


def test_initialize_file_safetensors(tmp_path):
    from densekit.io import initialize_file

    init = initializers.GlorotNormal(seed=2)
    for dtype in ("float32", "bfloat16", "float16", "float64"):
        path = tmp_path / f"w_{dtype}.safetensors"
        assert initialize_file(path, (300, 70), init, dtype, chunk_bytes=4096,
                               progress=False) == str(path)
        got = safetensors_torch.load_file(path)["data"]
        want = dt.fill_(torch.empty(300, 70, dtype=got.dtype), init)
        assert torch.equal(got, want) and str(got.dtype) == f"torch.{dtype}"
    named = initialize_file(f"{tmp_path}/n.safetensors:kernel", (5, 4), init, progress=False)
    assert list(safetensors_torch.load_file(named)) == ["kernel"]
    with pytest.raises(ValueError, match="empty safetensors tensor"):
        initialize_file(f"{tmp_path}/e.safetensors:", (5, 4), init)


def test_materialize_large_tensors_with_huge_page_advice():
    # Tensors over 4 MiB get madvise(MADV_HUGEPAGE) before the fill: values unchanged.
    real = dt.init_module_(nn.Linear(2048, 1024), seed=2)
    meta = dt.materialize_(_meta(lambda: nn.Linear(2048, 1024)), seed=2)
    _equal_state(real, meta)


def test_fill_fans_option():
    w = dt.fill_(torch.empty(16, 4, 3, 3), initializers.HeUniform(seed=0), fans="torch")
    # torch's fan_in of a (out, in, kh, kw) weight: in * kh * kw = 36.
    assert 0.9 * math.sqrt(6 / 36) < w.abs().max().item() <= math.sqrt(6 / 36)
    keras = dt.fill_(torch.empty(16, 4, 3, 3), initializers.HeUniform(seed=0))
    # Keras reads (16, 4, 3, 3) as a (kh, kw, in, out) kernel: fan_in = 16 * 4 * 3 = 192.
    assert keras.abs().max().item() <= math.sqrt(6 / 192)
    # Non-variance-scaling initializers ignore it.
    assert torch.equal(dt.fill_(torch.empty(3, 3), "ones", fans="torch"), torch.ones(3, 3))
    with pytest.raises(ValueError, match="Argument `fans`"):
        dt.fill_(torch.empty(3, 3), "ones", fans="jax")
