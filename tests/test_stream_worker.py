import queue

import numpy as np
import pytest

from emomon.stream.windows import Window
from emomon.stream.worker import InferenceWorker, Scored, WorkerFailure


def _win(i: int, n: int = 16000, amp: float = 0.1) -> Window:
    rng = np.random.default_rng(i)
    x = (amp * rng.standard_normal(n)).astype(np.float32)
    return Window("s", i, x, n, (i + 1) * 0.25, 0.0, 16000)


def _collect(worker: InferenceWorker, n: int) -> list:
    return [worker.results.get(timeout=10) for _ in range(n)]


def test_batches_ready_windows_and_keeps_order(test_model):
    worker = InferenceWorker(test_model, max_batch=4)
    wins = [_win(i) for i in range(10)]
    for w in wins:
        worker.submit(w)  # all queued before the thread starts: batches of 4, 4, 2
    worker.start()
    out = _collect(worker, 10)
    worker.stop()
    assert all(isinstance(o, Scored) for o in out)
    assert [o.window.index for o in out] == list(range(10))
    assert [o.batch_size for o in out] == [4] * 8 + [2] * 2
    assert worker.batches == 3 and worker.pending == 0
    direct = test_model.predict_proba(np.stack([w.samples for w in wins]))
    got = np.stack([o.probs for o in out])
    assert np.allclose(got, direct, atol=1e-5)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert all(o.latency_ms >= 0 for o in out)


def test_mixed_lengths_are_grouped(test_model):
    worker = InferenceWorker(test_model, max_batch=8)
    worker.submit(_win(0, 8000))
    worker.submit(_win(1, 16000))
    worker.start()
    out = _collect(worker, 2)
    worker.stop()
    assert [o.window.index for o in out] == [0, 1]
    solo = test_model.predict_proba(_win(0, 8000).samples[None])[0]
    assert np.allclose(out[0].probs, solo, atol=1e-5)


def test_model_failure_is_reported_not_raised(test_model):
    class Broken:
        def predict_proba(self, x):
            raise RuntimeError("boom")

    worker = InferenceWorker(Broken())  # type: ignore[arg-type]
    worker.submit(_win(0))
    worker.start()
    item = worker.results.get(timeout=10)
    assert isinstance(item, WorkerFailure) and "boom" in item.error.why
    worker.stop()
    with pytest.raises(queue.Empty):
        worker.results.get(timeout=0.05)
