"""Recipe options are declared and typed: an unknown or mistyped ``--set`` fails before any work."""

from __future__ import annotations

import pytest

from emomon.errors import DataError
from emomon.training.cli import train
from emomon.training.recipes import get_recipe, recipe_names
from emomon.training.recipes.options import validate_options


def test_every_recipe_declares_its_options():
    for name in recipe_names():
        try:
            recipe = get_recipe(name)
        except ImportError:  # an optional dependency (opensmile) is missing
            continue
        assert recipe.options, name
        assert len({o.name for o in recipe.options}) == len(recipe.options)


def test_values_are_typed_and_defaults_filled():
    r = get_recipe("default")
    got = validate_options(r.name, r.options, {"layers": "[1,2]", "C": "0.5", "adapt": "yes", "calibrate": False})
    assert got["layers"] == [1, 2] and got["C"] == 0.5 and got["adapt"] is True and got["calibrate"] is False
    assert got["vad"] == "silero" and got["backbone_source"] is None  # defaults


@pytest.mark.parametrize("raw, message", [
    ({"layrs": [1]}, "recipe default has no such option (did you mean layers?); its options: C, adapt, augment"),
    ({"C": "lots"}, "expected a number"),
    ({"layers": "two"}, "expected a list of integers"),
    ({"calibrate": "maybe"}, "expected true or false"),
    ({"vad": "webrtc"}, "expected one of silero, energy, off"),
    ({"prior_weight": -1}, "must be >= 0"),
    ({"calib_folds": 2.5}, "expected an integer"),
])
def test_bad_options_fail_with_one_line(raw, message):
    r = get_recipe("default")
    with pytest.raises(DataError) as e:
        validate_options(r.name, r.options, raw)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_train_refuses_a_mistyped_key_before_any_work(tmp_path):
    # the data folder does not exist: the option is checked first
    with pytest.raises(DataError, match="no such option"):
        train("baseline", tmp_path / "missing", tmp_path / "out", options=["sample_rat=8000"], progress=False)
    assert not (tmp_path / "out").exists()
