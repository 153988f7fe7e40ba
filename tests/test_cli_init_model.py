"""`densekit init-model`: a torch model's seed checkpoint from the command line."""

import json

import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

import densekit.torch as dt  # noqa: E402
from densekit._cli import main  # noqa: E402


def small_model(width=8):
    return torch.nn.Sequential(torch.nn.Embedding(30, width), torch.nn.Linear(width, 30))


def test_module_factory_equals_init_module(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["init-model", f"{__name__}:small_model", "-o", str(out), "--seed", "3",
                 "--kwargs", '{"width": 16}', "--no-progress"]) == 0
    assert "wrote" in capsys.readouterr().out
    real = dt.init_module_(small_model(16), seed=3)
    loaded = safetensors_torch.load_file(out)
    for k, v in real.state_dict().items():
        assert torch.equal(loaded[k], v), k


def test_shapes_json_rules_shards_dtype(tmp_path, capsys):
    shapes = tmp_path / "shapes.json"
    shapes.write_text(json.dumps({"a.weight": [64, 32], "a.bias": [64], "n.weight": [32]}))
    out = tmp_path / "s.safetensors"
    argv = ["init-model", str(shapes), "-o", str(out), "--seed", "1", "--scheme", "normal",
            "--rules", '{"a.weight": "xavier_uniform_"}', "--max-shard-size", "2KB",
            "--dtype", "bfloat16", "--no-progress"]
    assert main(argv) == 0
    assert "files" in capsys.readouterr().out
    index = json.loads((tmp_path / "s.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == {"a.weight", "a.bias", "n.weight"}
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["nomodule", "--seed", "0"], "MODEL must be"),
    (["no_such_pkg_xyz:f", "--seed", "0"], "cannot import"),
    (["json:dumps", "--seed", "0", "--kwargs", "[1]"], "--kwargs must be a JSON object"),
    (["builtins:dict", "--seed", "0"], "not a torch.nn.Module"),
    (["json:dumps", "--seed", "0"], "json:dumps(**{}) failed"),
    ([f"{__name__}:small_model", "--seed", "0", "--rules", '{"*": "nope"}'], "Argument `rules`"),
])
def test_errors_are_one_line_exit_2(tmp_path, capsys, argv, message):
    status = main(["init-model", *argv, "-o", str(tmp_path / "x.safetensors"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
