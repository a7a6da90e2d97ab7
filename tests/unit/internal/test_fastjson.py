"""fastjson agrees with the json module on the data Dockyard writes and reads."""

import json

import pytest

from dockyard._internal import fastjson

SAMPLES = [
    {"a": [1, 2.5, None, True, False, 'é"x\n'], "b": {}, "c": []},
    [],
    "plain",
    {"nested": {"deep": [{"k": -3}]}},
]


@pytest.mark.parametrize("obj", SAMPLES)
def test_round_trip_matches_json(obj: object) -> None:
    assert fastjson.dumps(obj) == json.dumps(obj, separators=(",", ":"))
    assert fastjson.dumps(obj, compact=False) == json.dumps(obj)
    assert fastjson.loads(json.dumps(obj, indent=2)) == obj


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"a": }', "line 1 column 7"),
        ("{} x", "extra data"),
        ("NaN", "invalid JSON"),
        ("", "invalid JSON"),
    ],
)
def test_bad_documents_raise_value_error(doc: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fastjson.loads(doc)
