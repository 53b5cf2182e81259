import numpy as np
import pytest

from emomon.stream.smoothing import Ema


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
