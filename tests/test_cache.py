"""The on-disk feature cache: keyed by audio content and extractor, atomic, no pickle."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from emomon.training.cache import ExtractorKey, FeatureCache, default_cache_dir


@pytest.fixture()
def audio(tmp_path):
    p = tmp_path / "a.wav"
    p.write_bytes(b"RIFF-not-really-audio-but-bytes-are-what-is-hashed")
    return p


def test_compute_once_then_hit(tmp_path, audio):
    cache = FeatureCache(tmp_path / "c")
    key = ExtractorKey("feat", {"sr": 16000})
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(2, 3)

    a = cache.get_or_compute(audio, key, compute)
    b = FeatureCache(tmp_path / "c").get_or_compute(audio, key, compute)  # a new process would do the same
    assert len(calls) == 1
    np.testing.assert_array_equal(a, b)
    assert b.dtype == np.float32 and b.shape == (2, 3)
    assert not list((tmp_path / "c").rglob(".tmp-*"))
    assert (tmp_path / "c" / key.dirname / "extractor.json").is_file()


def test_keyed_by_content_not_path(tmp_path, audio):
    cache = FeatureCache(tmp_path / "c")
    key = ExtractorKey("feat")
    cache.put(audio, key, np.ones(3))
    copy = tmp_path / "elsewhere.wav"
    shutil.copy(audio, copy)
    np.testing.assert_array_equal(cache.get(copy, key), np.ones(3))
    copy.write_bytes(b"different bytes")
    assert FeatureCache(tmp_path / "c").get(copy, key) is None


def test_extractor_config_and_version_change_the_key(tmp_path, audio):
    cache = FeatureCache(tmp_path / "c")
    cache.put(audio, ExtractorKey("feat", {"n": 1}), np.zeros(2))
    assert cache.get(audio, ExtractorKey("feat", {"n": 2})) is None
    assert cache.get(audio, ExtractorKey("feat", {"n": 1}, version="2")) is None
    assert cache.get(audio, ExtractorKey("feat", {"n": 1})) is not None


def test_object_arrays_refused(tmp_path, audio):
    cache = FeatureCache(tmp_path / "c")
    with pytest.raises(ValueError):
        cache.put(audio, ExtractorKey("feat"), np.array([{"a": 1}], dtype=object))


def test_disabled_cache_stores_nothing(tmp_path, audio):
    cache = FeatureCache(tmp_path / "c", enabled=False)
    calls = []
    cache.get_or_compute(audio, ExtractorKey("f"), lambda: calls.append(1) or np.ones(1))
    cache.get_or_compute(audio, ExtractorKey("f"), lambda: calls.append(1) or np.ones(1))
    assert len(calls) == 2 and not (tmp_path / "c").exists()


def test_corrupt_entry_is_recomputed(tmp_path, audio):
    cache = FeatureCache(tmp_path / "c")
    key = ExtractorKey("f")
    cache.put(audio, key, np.ones(2))
    cache.path_for(audio, key).write_bytes(b"garbage")
    out = cache.get_or_compute(audio, key, lambda: np.full(2, 7.0))
    np.testing.assert_array_equal(out, [7.0, 7.0])


def test_default_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOMON_CACHE", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    assert FeatureCache().root == tmp_path / "x"
    monkeypatch.delenv("EMOMON_CACHE")
    assert default_cache_dir().parts[-3:] == (".cache", "emomon", "features")
