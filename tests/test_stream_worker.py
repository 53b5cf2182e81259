import queue

import numpy as np
import pytest

from emomon.features.windows import Window
from emomon.stream.worker import InferenceWorker, Job, Scored, WorkerFailure


def _win(i: int, n: int = 16000, amp: float = 0.1, classify: bool = True) -> Job:
    rng = np.random.default_rng(i)
    x = (amp * rng.standard_normal(n)).astype(np.float32)
    return Job(Window("s", i, x, n, (i + 1) * 0.25, 0.0, 16000), speech=1.0 if classify else 0.0, classify=classify)


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
    direct = test_model.predict_proba(np.stack([w.window.samples for w in wins]))
    got = np.stack([o.probs for o in out])
    assert np.allclose(got, direct, atol=1e-5)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert all(o.latency_ms >= 0 for o in out)
    assert all(o.compute_ms is not None and o.compute_ms > 0 for o in out)


def test_mixed_lengths_are_grouped(test_model):
    worker = InferenceWorker(test_model, max_batch=8)
    worker.submit(_win(0, 8000))
    worker.submit(_win(1, 16000))
    worker.start()
    out = _collect(worker, 2)
    worker.stop()
    assert [o.window.index for o in out] == [0, 1]
    solo = test_model.predict_proba(_win(0, 8000).window.samples[None])[0]
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


def test_windows_without_speech_pass_through_unscored_in_order(test_model):
    calls = []

    class Counting:
        labels = test_model.labels

        def predict_proba(self, x):
            calls.append(len(x))
            return test_model.predict_proba(x)

    worker = InferenceWorker(Counting(), max_batch=8)  # type: ignore[arg-type]
    for i in range(6):
        worker.submit(_win(i, classify=i % 2 == 0))
    worker.start()
    out = _collect(worker, 6)
    worker.stop()
    assert [o.window.index for o in out] == list(range(6))
    assert [o.probs is None for o in out] == [False, True] * 3
    assert [o.compute_ms is None for o in out] == [False, True] * 3
    assert sum(calls) == 3  # the model never saw the windows without speech


def test_max_wait_gathers_windows_that_arrive_soon_after_the_first(test_model):
    """Dynamic batching: windows trickling in (one every 0.1 s) share a pass when the worker
    waits up to 1 s for them, and go one by one when it does not wait."""
    import threading
    import time

    def trickle(worker: InferenceWorker) -> list:
        worker.start()

        def feed() -> None:
            for i in range(4):
                worker.submit(_win(i))
                time.sleep(0.1)

        threading.Thread(target=feed).start()
        out = _collect(worker, 4)
        worker.stop()
        return [o.batch_size for o in out]

    assert trickle(InferenceWorker(test_model, max_batch=8, max_wait=1.0)) == [4, 4, 4, 4]
    assert max(trickle(InferenceWorker(test_model, max_batch=8, max_wait=0.0))) < 4


def test_max_wait_never_exceeds_max_batch_nor_delays_a_full_batch(test_model):
    import time

    worker = InferenceWorker(test_model, max_batch=3, max_wait=5.0)
    for i in range(6):
        worker.submit(_win(i))
    t0 = time.monotonic()
    worker.start()
    out = _collect(worker, 6)
    worker.stop()
    assert [o.batch_size for o in out] == [3] * 6 and time.monotonic() - t0 < 2.0
