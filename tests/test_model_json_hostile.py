"""model_from_json on hostile documents: one ValueError saying what and where (issue 10 item 11)."""

import json

import pytest

from densekit.models import model_from_json


def doc(config, **extra):
    return json.dumps({"class_name": "Sequential", "config": config, **extra})


DENSE = {"class_name": "Dense", "config": {"units": 3}}


CASES = [
    (json.dumps({"class_name": "Sequential"}), "no 'config' key"),
    (doc(5), r"'config' must be an object; found a number"),
    (doc({"layers": []}), "has no 'name' key"),
    (doc({"name": "s"}), "has no 'layers' key"),
    (doc({"name": "s", "layers": 5}), r"'config.layers' must be an array.*found a number"),
    (doc({"name": "s", "layers": {"a": DENSE}}), r"'config.layers' must be an array.*an object"),
    (doc({"name": "s", "layers": "Dense"}), r"'config.layers' must be an array.*a string"),
    (doc({"name": "s", "layers": [DENSE, 7]}), r"'config.layers\[1\]' must be a layer config"),
    (doc({"name": "s", "layers": [{"config": {}}]}), r"'config.layers\[0\]' needs a string 'class_name'"),
    (doc({"name": "s", "layers": [{"class_name": "Dense", "config": [1]}]}),
     r"'config.layers\[0\]'.config must be an object"),
    (doc({"name": "s", "layers": [DENSE, {"class_name": "Dense", "config": {}}]}),
     r"'config.layers\[1\]' \(Dense\) is malformed.*units"),
    (doc({"name": "s", "layers": [{"class_name": "Dense", "config": {"units": -1}}]}),
     r"'config.layers\[0\]' \(Dense\) is invalid: .*units"),
    (doc({"name": "s", "layers": [{"class_name": "Nope", "config": {}}]}),
     r"'config.layers\[0\]' \(Nope\)"),
    (doc({"name": "s", "layers": [DENSE], "build_input_shape": 5}), "malformed"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"class_name": "Sequential", "config": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001,
     "nested too deeply"),
    ("{nope", "not valid JSON"),
    (b"\xff\xfe\x00", "not valid JSON"),
    (5, "must be a JSON string"),
    (None, "must be a JSON string"),
    ("[1, 2]", "only rebuild Sequential"),
]


@pytest.mark.parametrize("text, match", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_malformed_documents_raise_one_value_error(text, match):
    # Before the fix: KeyError, TypeError ("'int' object is not iterable"), RecursionError,
    # or layers iterated key by key / character by character.
    with pytest.raises(ValueError, match=match):
        model_from_json(text)


def test_a_good_document_still_loads():
    model = model_from_json(doc({"name": "s", "layers": [DENSE], "build_input_shape": [None, 4]}))
    assert model.built and model.count_params() == 15
