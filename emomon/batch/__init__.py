"""``emomon batch``: the analysis of ``emomon file`` over many files, on a Ray cluster or a local Ray.

The inputs (folders, globs, files, CSV/JSONL manifests) are listed and sorted on the driver,
cut into fixed shards (:mod:`.inputs`), analysed by a pool of Ray actors that each load the model
once (:mod:`.predictor`), and written shard by shard as Parquet files (:mod:`.parquet`), each
atomically; a small state file (:mod:`.state`) records the settings, so an interrupted job
resumes where it stopped (:mod:`.job`). Ray is an optional extra (``pip install 'emomon[batch]'``)
imported only when a job runs. Names are imported on first use::

    from emomon.batch import run_batch, read_results
    summary = run_batch(["recordings/"], "out/", shard_size=256)
    for result in read_results("out/"):  # emomon.records.FileResult, as `emomon file` gives them
        print(result.path, result.label)
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {  # submodule (relative to this package) -> the names it gives
    "inputs": ["BatchItem", "Shard", "list_inputs", "plan_shards"],
    "job": ["BatchProgress", "BatchSummary", "RayOptions", "run_batch"],
    "parquet": ["read_results"],
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
