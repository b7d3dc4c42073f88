"""`retriage`: stream a backlog through `Triage`, kill-safe, serially or in parallel.

After every chunk the decisions and errors are appended and fsynced, then the
checkpoint is replaced atomically. A run killed at any moment resumes from the last
checkpoint: outputs are cut back to the checkpointed sizes and the input is read
again from the checkpointed position, so no record is lost or repeated.
"""
from __future__ import annotations

import sys
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from triage.batch import checkpoint
from triage.batch.records import Chunk, Position, file_format, read_chunks
from triage.batch.work import decide_chunk, get_triage, worker_triage
from triage.batch.writers import error_sink, make_sink
from triage.decision import columns
from triage.errors import InputError, ResumeError, TriageError

DEFAULT_CHUNK = 2000


@dataclass
class Summary:
    records: int = 0
    decided: int = 0
    errors: int = 0
    counts: dict[str, Counter] = field(default_factory=dict)

    def add(self, n_records: int, n_errors: int, counts: dict[str, Counter]) -> None:
        self.records += n_records
        self.errors += n_errors
        self.decided += n_records - n_errors
        for k, c in counts.items():
            self.counts.setdefault(k, Counter()).update(c)

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "decided": self.decided, "errors": self.errors,
                "counts": {k: dict(sorted(v.items())) for k, v in self.counts.items() if k != "changed"},
                "changed": _changed(self.counts.get("changed", Counter()))}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Summary":
        s = cls(d["records"], d["decided"], d["errors"], {k: Counter(v) for k, v in d["counts"].items()})
        changed = Counter()
        for f, v in d.get("changed", {}).items():
            changed[f"{f}:compared"] += v["compared"]
            changed[f] += v["changed"]
        s.counts["changed"] = changed
        return s


def _changed(c: Counter) -> dict[str, dict[str, int]]:
    fields = sorted({k.split(":")[0] for k in c})
    return {f: {"compared": c[f"{f}:compared"], "changed": c[f]} for f in fields}


@dataclass
class Job:
    input: Path
    out: Path
    errors: Path
    rules: str | None = None
    model: str | None | bool = None  # False: no model
    jobs: int = 1
    dask: str | None = None
    chunk_size: int = DEFAULT_CHUNK
    resume: bool = False
    own_process: bool = False  # the run owns its process (the CLI): tune it once the Triage is built

    @property
    def checkpoint_path(self) -> Path:
        return self.out.with_name(self.out.name + ".checkpoint")

    @property
    def unit(self) -> str:
        return "line" if file_format(self.input) == "jsonl" else "row"


def check_paths(job: Job) -> None:
    """Input readable, formats known, and neither output the input or the other output."""
    if not job.input.is_file():
        raise InputError(f"{job.input}: no such file")
    for p in (job.input, job.out):  # the error output is JSON Lines whatever its name
        file_format(p)
    if job.out.resolve() == job.errors.resolve():
        raise InputError("--out and --errors must be different files")
    for option, p in (("--out", job.out), ("--errors", job.errors)):
        if p.resolve() == job.input.resolve() or (p.exists() and p.samefile(job.input)):
            raise InputError(f"{option} {p} is the input file: it would be overwritten")


def retriage(job: Job, on_progress: Callable[[int, int], None] | None = None,
             log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> Summary:
    """Run (or resume) a re-triage job; returns the summary of the whole job."""
    check_paths(job)
    triage = get_triage(job.rules, job.model)  # validates rules and model before any work
    if job.own_process:
        from triage.process import tune_for_streaming

        tune_for_streaming()
    # Workers (other processes, Dask) get the same rules and model by absolute path.
    job = replace(job, rules=str(triage.ruleset.folder.resolve()),
                  model=str(triage.model.path.resolve()) if triage.model is not None else False)
    identity = {"input": str(job.input.resolve()), "fingerprint": checkpoint.fingerprint(job.input),
                "ruleset_version": triage.ruleset_version, "model_version": triage.model_version,
                "out": str(job.out.resolve()), "errors": str(job.errors.resolve())}
    state = None
    if job.resume:
        try:
            state = checkpoint.load(job.checkpoint_path)
        except checkpoint.Unusable as exc:
            # Outputs are rewritten from scratch, so starting over loses and repeats nothing.
            log(f"{job.checkpoint_path} cannot be used ({exc}): starting from the beginning")
        else:
            if state is None:
                log("no checkpoint found: starting from the beginning")
    if state is not None:
        for key, value in identity.items():
            if state["identity"].get(key) != value:
                raise ResumeError(f"cannot resume: the checkpoint was written for a different {key} "
                                  f"({state['identity'].get(key)!r}, now {value!r}); run without --resume")
        problem = checkpoint.shape_problem(state)
        if problem:
            # Outputs are rewritten from scratch, so starting over loses and repeats nothing.
            log(f"{job.checkpoint_path} cannot be used ({problem}): starting from the beginning")
            state = None
    elif job.checkpoint_path.exists() and not job.resume:
        log(f"an earlier run left {job.checkpoint_path}; starting over (use --resume to continue it)")
    summary = Summary.from_dict(state["summary"]) if state else Summary()
    position = Position(**state["position"]) if state else Position()
    out = make_sink(job.out, columns(triage.own_decisions))
    err = error_sink(job.errors)
    try:
        try:
            if position.offset > job.input.stat().st_size:
                raise ValueError(f"{job.input} is shorter than the checkpointed position")
            out.open(state["out"] if state else None)
            err.open(state["errors"] if state else None)
        except (ValueError, KeyError) as exc:  # outputs changed since the checkpoint, or another format
            log(f"{job.checkpoint_path} does not match the outputs ({exc}): starting from the beginning")
            summary, position = Summary(), Position()
            out.open(None)
            err.open(None)
    except OSError as exc:
        raise InputError(f"cannot write {exc.filename or job.out}: {exc.strerror or exc}") from None
    if on_progress:
        on_progress(summary.records, position.offset)

    for (body, errors, counts, n_records), pos in _results(job, triage, position):
        out.write_jsonl(body)
        err.write_rows(errors)
        summary.add(n_records, len(errors), counts)
        checkpoint.save(job.checkpoint_path, {
            "identity": identity, "position": {"records": pos.records, "offset": pos.offset},
            "out": out.sync(), "errors": err.sync(), "summary": summary.to_dict()})
        if on_progress:
            on_progress(summary.records, pos.offset)
    out.finish()
    err.finish()
    checkpoint.remove(job.checkpoint_path)
    return summary


def _results(job: Job, triage: Any, start: Position) -> Iterator[tuple[tuple[bytes, list, dict, int], Position]]:
    """Chunk results in input order, each with the input position after its chunk."""
    positions: deque[Position] = deque()
    unit = job.unit

    def chunks() -> Iterable[Chunk]:
        for chunk, pos in read_chunks(job.input, start, job.chunk_size):
            positions.append(pos)
            yield chunk

    if job.dask:
        from triage.batch.dask_backend import run_on_dask

        results = run_on_dask(job.dask, job.jobs, job.rules, job.model, chunks(), unit)
    elif job.jobs > 1:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=job.jobs, return_as="generator", pre_dispatch="2*n_jobs", batch_size=1)
        results = parallel(delayed(_decide)(job.rules, job.model, c, unit) for c in chunks())
    else:
        results = (_decide(job.rules, job.model, c, unit, triage) for c in chunks())
    for res in results:
        yield res, positions.popleft()


def _decide(rules: str | None, model: str | None, chunk: Chunk, unit: str,
            triage: Any = None) -> tuple[bytes, list, dict, int]:
    """One chunk's results; in a worker process (no `triage` given) with the worker's own."""
    body, errors, counts = decide_chunk(rules, model, chunk, unit,
                                        triage if triage is not None else worker_triage(rules, model))
    return body, errors, counts, len(chunk)
