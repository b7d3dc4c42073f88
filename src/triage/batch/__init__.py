"""Batch re-triage of backlogs: streaming readers and writers, checkpoints, parallel runs.

`runner.retriage` is the orchestrator; `records` reads JSONL/CSV/Parquet in chunks
and knows where to resume; `writers` append decisions and errors and can be cut back
to a checkpoint; `work` is what a worker process (joblib or Dask) runs on a chunk.
"""
