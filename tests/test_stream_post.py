import numpy as np
import pytest

from emomon.stream.smoothing import Ema
from emomon.stream.vad import EnergyGate, rms_dbfs


def test_rms_dbfs():
    assert rms_dbfs(np.zeros(100, dtype=np.float32)) == -120.0
    assert rms_dbfs(np.ones(100, dtype=np.float32)) == pytest.approx(0.0)
    assert rms_dbfs(np.full(100, 0.1, dtype=np.float32)) == pytest.approx(-20.0)
    assert rms_dbfs(np.zeros(0, dtype=np.float32)) == -120.0


def test_energy_gate_threshold_is_settable():
    assert EnergyGate(-45).is_silent(-50) and not EnergyGate(-45).is_silent(-40)
    assert EnergyGate(-30).is_silent(-40)


def test_ema():
    ema = Ema(2, factor=0.5)
    assert np.allclose(ema.value, [0.5, 0.5]) and not ema.started
    assert np.allclose(ema.update(np.array([1.0, 0.0])), [1.0, 0.0])
    assert np.allclose(ema.update(np.array([0.0, 1.0])), [0.5, 0.5])
    assert np.allclose(ema.update(np.array([0.0, 1.0])), [0.25, 0.75])
    none = Ema(2, factor=0.0)
    none.update(np.array([1.0, 0.0]))
    assert np.allclose(none.update(np.array([0.2, 0.8])), [0.2, 0.8])
    with pytest.raises(ValueError):
        Ema(2, factor=1.0)
