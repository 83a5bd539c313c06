"""Big states, fast (issue 16): a few hundred exports refreshed daily for years, in both backends.

A project holds OLD_JOBS export job documents recorded in its state (their newest run SUCCEEDED an
hour ago: refreshed daily, none is due) and NEW_JOBS documents not applied yet. `History(runs)`
spreads `runs` runs over the old documents, one a day, newest an hour ago. At 1,000,000 runs no
Run object is built for the history: its runs are JSON text, and

- the file backend gets `<state>.json` (the head: each resource's newest runs, `archivedRuns`
  the rest), `<state>.json.history` (one JSON line a resource: its archived runs) and
  `<state>.json.claims` (the archived runs' job ids, int64 little-endian), written directly;
- PostgreSQL gets every run as a row (COPY, columns and `doc` as pg_writer writes them) and each
  resource's body with its `archivedRuns`.

`whole_state(...)` builds the same history as a State (small sizes only): what the backends'
own `replace` is given, so a test can compare both ways (tests/bench/test_history_bench.py).
"""

from __future__ import annotations

import io
import json
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.config import load_settings
from reconciler.spec.canonical import canonical_request, fingerprint
from reconciler.spec.loader import load_specs
from reconciler.state import ExportJobResource, Run, State
from reconciler.state.models import HEAD_RUNS, Observed, format_time

if TYPE_CHECKING:
    import psycopg

OLD_JOBS = 300
NEW_JOBS = 100
SANDBOX = "prod"
# History job ids sit below what the bench's emulator hands out (EMULATOR_FIRST_JOB_ID on),
# as a year of real ids sits below today's.
HISTORY_JOB_ID_BASE = 1_000_000
EMULATOR_FIRST_JOB_ID = 10_000_000
SETTINGS_YAML = f"platform: local\nsandbox: {SANDBOX}\nspecs: [specs]\n"
TOOL_VERSION = "0.16.0"
LINEAGE = "4d1c6a52-9f0e-4a8e-9d43-5b8f7c2e1a10"


def job_doc(name: str, dataset_id: str, refresh: str | None) -> str:
    """An ExportJob document writing into `dataset_id`; its own field keeps requests distinct."""
    text = (
        "apiVersion: reconciler/v1\nkind: ExportJob\n"
        f"metadata: {{name: {name}}}\n"
        "spec:\n"
        f"  fields: identities.id,personalEmail.address,bench.{name.replace('-', '_')}\n"
        "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
        f"  destination: {{datasetId: {dataset_id}, segmentPerBatch: false}}\n"
        "  schema: {name: _xdm.context.profile}\n"
    )
    return text + (f"  refresh: {refresh}\n" if refresh else "")


def write_project(project: Path, dataset_id: str, old: int = OLD_JOBS, new: int = NEW_JOBS) -> None:
    """reconciler.yaml and specs/: `old` documents refreshed daily (the state's), `new` new ones."""
    specs = project / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    (project / "reconciler.yaml").write_text(SETTINGS_YAML)
    olds = [job_doc(f"old-{i:04d}", dataset_id, "24h") for i in range(old)]
    news = [job_doc(f"new-{i:04d}", dataset_id, "24h") for i in range(new)]
    (specs / "old.yaml").write_text("---\n".join(olds))
    (specs / "new.yaml").write_text("---\n".join(news))


@dataclass(frozen=True)
class OldJob:
    """An old document as its state resource records it (no runs)."""

    address: str
    fingerprint: str
    request: dict[str, Any]
    dataset_id: str

    def resource(self, runs: list[Run], archived: int = 0) -> ExportJobResource:
        return ExportJobResource(
            fingerprint=self.fingerprint,
            request=self.request,
            datasetId=self.dataset_id,
            runs=runs,
            archivedRuns=archived,
        )

    def body(self, archived: int) -> dict[str, Any]:
        """The resource as PostgreSQL's `resources.body` holds it (no runs)."""
        return self.resource([], archived).model_dump(mode="json", exclude={"runs"})


def old_jobs(project: Path) -> list[OldJob]:
    """The project's old documents (specs/old.yaml) with their fingerprints and requests."""
    specs = load_specs(load_settings(project, None, {}))
    jobs = []
    for doc in specs.export_jobs.values():
        if doc.metadata.name.startswith("old-"):
            dataset_id = doc.spec.destination.datasetId
            assert dataset_id is not None
            jobs.append(OldJob(doc.address, fingerprint(doc), canonical_request(doc), dataset_id))
    return sorted(jobs, key=lambda j: j.address)


def _pg_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}+00"


@dataclass(frozen=True)
class History:
    """`runs` runs over `jobs`: a run a day each, the newest `newest` (an hour ago by default).

    Resource r has `count(r)` runs; its run k (position k, oldest first) is day
    d = k + (most - count(r)) of `most` days, job id HISTORY_JOB_ID_BASE + d * len(jobs) + r: ids
    grow with time across resources, as a platform's do.
    """

    runs: int
    jobs: tuple[OldJob, ...]
    newest: datetime

    @property
    def most(self) -> int:
        return -(-self.runs // len(self.jobs))

    def count(self, r: int) -> int:
        per, extra = divmod(self.runs, len(self.jobs))
        return per + (1 if r < extra else 0)

    def archived(self, r: int) -> int:
        """How many of resource r's runs the head leaves to the history (`head_start`: all
        SUCCEEDED, in time order: all but the newest HEAD_RUNS, once there are 2 * HEAD_RUNS)."""
        n = self.count(r)
        return n - HEAD_RUNS if n >= 2 * HEAD_RUNS else 0

    def _day(self, r: int, k: int) -> int:
        return k + self.most - self.count(r)

    def job_id(self, r: int, k: int) -> int:
        return HISTORY_JOB_ID_BASE + self._day(r, k) * len(self.jobs) + r

    def batch_id(self, r: int, k: int) -> str:
        return f"01H{self.job_id(r, k):013d}BATCH{r:04d}"

    def created(self, r: int, k: int) -> datetime:
        back = self.most - 1 - self._day(r, k)
        return self.newest - timedelta(days=back, seconds=len(self.jobs) - r)

    def _fields(self, r: int, k: int) -> tuple[int, str, str, str, datetime, datetime, str]:
        created = self.created(r, k)
        day = self._day(r, k)
        return (
            self.job_id(r, k),
            self.batch_id(r, k),
            f"{day:08x}{'c0ffee' * 5}{day % 7:02x}",
            f"https://ci.example/bench/runs/{day}",
            created,
            created + timedelta(minutes=7, milliseconds=r),
            "create" if k == 0 else "rerun: refresh due",
        )

    def run_json(self, r: int, k: int) -> str:
        """Run k of resource r as `Run.model_dump_json()` writes it (compact, model order)."""
        job, batch, commit, ci_run, created, finished, reason = self._fields(r, k)
        old = self.jobs[r]
        return (
            f'{{"jobId":{job},"fingerprint":"{old.fingerprint}","status":"SUCCEEDED",'
            f'"batchId":"{batch}","batches":[],"datasetId":"{old.dataset_id}",'
            f'"createdAt":"{format_time(created)}","finishedAt":"{format_time(finished)}",'
            f'"reason":"{reason}","cancelledAt":null,"commit":"{commit}","commitDirty":false,'
            f'"actor":"ci-bot","ciRun":"{ci_run}","toolVersion":"{TOOL_VERSION}"}}'
        )

    def run(self, r: int, k: int) -> Run:
        return Run.model_validate_json(self.run_json(r, k))

    def pg_row(self, r: int, k: int) -> str:
        """Run k of resource r as a line of `COPY runs (PG_RUN_COLUMNS)` (text format)."""
        job, batch, commit, ci_run, created, finished, reason = self._fields(r, k)
        old = self.jobs[r]
        cells = (
            SANDBOX, old.address, "0", str(k), str(job), old.fingerprint, "SUCCEEDED", batch,
            old.dataset_id, _pg_time(created), _pg_time(finished), reason, r"\N",
            self.run_json(r, k), commit, "f", "ci-bot", ci_run, TOOL_VERSION,
        )  # fmt: skip
        return "\t".join(cells) + "\n"

    def observed(self) -> Observed:
        """What the refreshes of that year saw: up to the newest run."""
        newest = max(range(len(self.jobs)), key=lambda r: self.job_id(r, self.count(r) - 1))
        last = self.count(newest) - 1
        return Observed(
            watermarkMs=int(self.created(newest, last).timestamp() * 1000),
            watermarkJobId=self.job_id(newest, last),
        )

    def head_state(self) -> State:
        """The head: each resource's newest runs, `archivedRuns` the rest."""
        resources: dict[str, Any] = {}
        for r, old in enumerate(self.jobs):
            start = self.archived(r)
            runs = [self.run(r, k) for k in range(start, self.count(r))]
            resources[old.address] = old.resource(runs, start)
        return State(
            lineage=LINEAGE,
            serial=1,
            sandbox=SANDBOX,
            resources=resources,
            observed=self.observed(),
        )


def history_of(project: Path, runs: int, newest: datetime | None = None) -> History:
    """The history of `runs` runs of the project's old documents (newest: an hour ago)."""
    when = newest or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return History(runs, tuple(old_jobs(project)), when)


def whole_state(history: History) -> State:
    """The same history as one State (every run an object): for small sizes and tests."""
    resources: dict[str, Any] = {
        old.address: old.resource([history.run(r, k) for k in range(history.count(r))])
        for r, old in enumerate(history.jobs)
    }
    return State(
        lineage=LINEAGE,
        serial=1,
        sandbox=SANDBOX,
        resources=resources,
        observed=history.observed(),
    )


def state_path(project: Path) -> Path:
    return load_settings(project, None, {}).state_path


def write_local(project: Path, history: History) -> Path:
    """The file backend's files for `history`, written directly; the state file's path."""
    path = state_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path.with_name(path.name + ".journal"),):
        stale.unlink(missing_ok=True)
    path.write_text(history.head_state().to_json())
    pack = struct.Struct("<q").pack
    with (
        path.with_name(path.name + ".history").open("w") as lines,
        path.with_name(path.name + ".claims").open("wb") as claims,
    ):
        for r, old in enumerate(history.jobs):
            archived = history.archived(r)
            if not archived:
                continue
            runs = ",".join(history.run_json(r, k) for k in range(archived))
            lines.write(
                f'{{"address":{json.dumps(old.address)},"generation":0,"from":0,"runs":[{runs}]}}\n'
            )
            claims.write(b"".join(pack(history.job_id(r, k)) for k in range(archived)))
    return path


PG_RUN_COLUMNS = (
    "sandbox, address, retired_seq, position, job_id, fingerprint, status, batch_id, "
    "dataset_id, created_at, finished_at, reason, cancelled_at, doc, git_commit, commit_dirty, "
    "actor, ci_run, tool_version"
)


def _chunks(history: History, size: int = 4 << 20) -> Iterator[str]:
    buffer = io.StringIO()
    for r in range(len(history.jobs)):
        for k in range(history.count(r)):
            buffer.write(history.pg_row(r, k))
        if buffer.tell() >= size:
            yield buffer.getvalue()
            buffer = io.StringIO()
    yield buffer.getvalue()


def copy_postgres(conn: psycopg.Connection[Any], history: History) -> None:
    """Write `history` as sandbox SANDBOX's state into the connection's (initialized) tables."""
    from psycopg.types.json import Jsonb

    with conn.transaction():
        for table in ("batches", "runs", "resources", "retired", "pending_intents"):
            conn.execute(f"DELETE FROM {table} WHERE sandbox = %s", (SANDBOX,))
        conn.execute("DELETE FROM state_heads WHERE sandbox = %s", (SANDBOX,))
        conn.execute(
            "INSERT INTO state_heads (sandbox, lineage, serial, state_version, observed) "
            "VALUES (%s, %s, 1, 2, %s)",
            (SANDBOX, LINEAGE, Jsonb(history.observed().model_dump(mode="json"))),
        )
        cur = conn.cursor()
        with cur.copy("COPY resources (sandbox, address, kind, body) FROM STDIN") as copy:
            for r, old in enumerate(history.jobs):
                copy.write_row(
                    (SANDBOX, old.address, "ExportJob", Jsonb(old.body(history.archived(r))))
                )
        with cur.copy(f"COPY runs ({PG_RUN_COLUMNS}) FROM STDIN") as copy:
            for chunk in _chunks(history):
                copy.write(chunk)
    conn.execute("ANALYZE")


def new_sandbox_name() -> str:
    return f"hist_{uuid.uuid4().hex[:8]}"
