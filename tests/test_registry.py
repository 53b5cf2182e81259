"""Registries by name: lazy imports, registration, errors naming the known entries."""

import pytest

from emomon.errors import DataError, ModelError
from emomon.models import architectures, get_architecture
from emomon.registry import LazyRegistry
from emomon.training.recipes import get_recipe, recipe_names


def test_lazy_entry_imported_on_first_use():
    reg = LazyRegistry("thing", {"dumps": "json:dumps"})
    import json

    assert reg.get("dumps") is json.dumps
    assert reg.register("loads", json.loads) is json.loads
    assert reg.names() == ["dumps", "loads"]


def test_unknown_and_missing_module_are_one_line_errors():
    reg = LazyRegistry("thing", {"gone": "no_such_module_xyz:thing"})
    with pytest.raises(ModelError, match=r"unknown thing \(known: gone\)"):
        reg.get("other")
    with pytest.raises(ModelError, match="not installed .*no_such_module_xyz"):
        reg.get("gone")


def test_model_and_recipe_registries():
    assert {"baseline", "transformer", "wav2vec2", "egemaps", "layer-head"} <= set(architectures())
    assert get_architecture("layer-head").architecture == "layer-head"
    assert recipe_names()[0] == "default"
    assert get_recipe("baseline").name == "baseline"
    with pytest.raises(DataError, match="unknown model recipe"):
        get_recipe("nope")
