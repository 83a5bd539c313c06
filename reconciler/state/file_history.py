"""The file backend's history: runs moved out of the head, and the job ids they claim (issue 16).

Next to the head (`<state>.json` + `.journal`) the file backend keeps (docs/contract.md section 6):

- `<state>.json.history`: JSON lines, append-only, each
  `{"address": A, "generation": g, "from": p, "runs": [run, ...]}`: the runs at positions p, p+1,
  .. of the g-th resource ever held at address A (run JSON as in the snapshot). For each
  (A, g) and position a later line wins; the head's `archivedRuns` say how many positions are
  used (lines past it were left by a writer killed before its head write). A torn last line
  (no newline, or not JSON) is ignored; the writer cuts it off before it appends.
- `<state>.json.claims`: the job ids of the history runs of claiming resources (managed, or
  retired by forget), int64 little-endian, appended (duplicates allowed; a torn tail, a length
  not a multiple of 8, is ignored and cut off by the next writer). Read only when a decision asks
  about an id the head does not hold (`FileClaims`).

Both are written before the head that counts their runs, so a writer killed at any point leaves
a head whose history is complete; what it wrote past the head is ignored, or (claims) names job
ids the head's runs claim anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import weakref
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from reconciler.gcpause import gc_paused
from reconciler.state.head import Archived
from reconciler.state.journal import first_error
from reconciler.state.migrations import StateFileError
from reconciler.state.models import Run
from reconciler.state.snapshot import fsync_dir, write_atomic

HISTORY_SUFFIX = ".history"
CLAIMS_SUFFIX = ".claims"

_RUNS: TypeAdapter[list[Run]] = TypeAdapter(list[Run])
_TAIL_CHUNK = 64 * 1024
_CHUNK = 1 << 20  # the claims file is read this much at a time (a multiple of 8)

Key = tuple[str, int]  # (address, generation)


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    address: str
    generation: int = Field(ge=0)
    start: int = Field(alias="from", ge=0)
    runs: list[Run]


def history_line(archived: Archived) -> bytes:
    """One history line: the runs `archived` moves, at their positions."""
    head = (
        f'{{"address":{json.dumps(archived.slot.address)},'
        f'"generation":{archived.slot.generation},"from":{archived.start},"runs":'
    )
    return head.encode("utf-8") + _RUNS.dump_json(list(archived.runs)) + b"}\n"


def claimed_ids(archived: Iterable[Archived]) -> list[int]:
    """The job ids the claiming resources' moved runs hold."""
    return [run.jobId for a in archived if a.claims for run in a.runs]


def pack(ids: Iterable[int]) -> bytes:
    """Job ids as the claims file holds them (int64 little-endian)."""
    packed = array("q", ids)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def _open_private(path: Path) -> tuple[int, bool]:
    new = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, 0o600)
    return fd, new


def _valid_history_length(fd: int) -> int:
    """The length of the history's complete lines (what follows the last newline is torn)."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0


def append(path: Path, data: bytes, *, unit: int | None = None) -> None:
    """Append `data` to the history (`unit` None) or the claims file (`unit` 8), fsynced.

    Under the lock: first cut off what a killed writer left torn (the history's text after its
    last newline, the claims' bytes past a multiple of 8), so `data` starts whole.
    """
    fd, new = _open_private(path)
    try:
        size = os.fstat(fd).st_size
        valid = _valid_history_length(fd) if unit is None else size - size % unit
        if valid != size:
            os.ftruncate(fd, valid)
        try:
            view = memoryview(data)
            offset = valid
            while view:
                written = os.pwrite(fd, view, offset)
                view = view[written:]
                offset += written
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, valid)  # no torn tail for the next append to follow
            raise
    finally:
        os.close(fd)
    if new:
        fsync_dir(path.parent)


def write_new(path: Path, data: bytes) -> None:
    """Replace `path` with `data` (temp file + rename, fsynced, 0600): a rebuild or a migrate."""
    write_atomic(path, data)


def keep_claims(path: Path, backup: Path) -> None:
    """Keep the claims file a rebuild replaces as `backup` (the backup head's claims)."""
    tmp = backup.with_name(f".{backup.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(path, tmp)
    except FileNotFoundError:
        return
    except OSError:  # a filesystem without hard links
        shutil.copy2(path, tmp)
    os.replace(tmp, backup)


def read_history(path: Path, wanted: Mapping[Key, int]) -> dict[Key, list[Run]]:
    """(address, generation) -> its runs from position 0, as far as they are contiguous, for
    the `wanted` resources and positions below their count (the head's archivedRuns)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if any(wanted.values()):
            raise StateFileError(
                f"{path} is missing: it holds the oldest runs the state {_head_of(path)} "
                "counts; restore it from a copy"
            ) from None
        return {}
    except OSError as exc:
        raise StateFileError(f"cannot read {path}: {exc.strerror}") from exc
    found: dict[Key, dict[int, Run]] = {key: {} for key, n in wanted.items() if n}
    lines = data.split(b"\n")
    complete = lines[:-1]  # what follows the last newline is a torn write, if anything
    with gc_paused():  # 100,000 runs: no collection passes over them while they are made
        parsed = [_parse(raw) for raw in complete]
    for number, (raw, line) in enumerate(zip(complete, parsed, strict=True), 1):
        if isinstance(line, ValidationError):
            if number == len(complete) and _not_json(raw):
                break  # a write cut short by a crash
            raise StateFileError(
                f"{path} line {number} is not a history line ({_why(line)}); restore it from a copy"
            ) from None
        key = (line.address, line.generation)
        runs = found.get(key)
        if runs is None:
            continue
        limit = wanted[key]
        for offset, run in enumerate(line.runs):
            if line.start + offset < limit:
                runs[line.start + offset] = run  # a later line wins
    out: dict[Key, list[Run]] = {}
    for key, runs in found.items():
        ordered: list[Run] = []
        while len(ordered) in runs:
            ordered.append(runs[len(ordered)])
        out[key] = ordered  # short of archivedRuns when a position is missing: head.whole says
    return out


def _parse(raw: bytes) -> _Line | ValidationError:
    try:
        # strict first (this tool writes every value typed: a fifth faster), then lax
        return _Line.model_validate_json(raw, strict=True)
    except ValidationError:
        try:
            return _Line.model_validate_json(raw)
        except ValidationError as exc:
            return exc


def _head_of(path: Path) -> str:
    return str(path)[: -len(HISTORY_SUFFIX)] if str(path).endswith(HISTORY_SUFFIX) else str(path)


def _not_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return True
    return False


def _why(exc: ValidationError) -> str:
    if exc.errors()[0]["type"] == "json_invalid":
        return "not valid JSON"
    return first_error(exc)


class FileClaims:
    """The claims file as a `ClaimsIndex`, read when a question needs it (never held: 8 MB at
    1,000,000 runs would be a plan's memory), a chunk at a time.

    The file is opened when the head is read, so what is read later is the file of that head
    (appended to since, perhaps, by runs a later head claims), never a rebuild made after it.
    A question about a few ids searches the bytes for them; one about many passes over the ids
    once, keeping only the asked ones; `max_job_id` is one pass, remembered.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._error: StateFileError | None = None
        self._max: int | None = None
        self._max_known = False
        self.missing = False
        # a missing file's ids, made another way (from the history: the store sets it)
        self.fallback: Callable[[], list[int]] | None = None
        self._made: bytes | None = None  # what `fallback` made
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            self.missing = True
            self._error = StateFileError(
                f"{path} is missing: it holds the job ids of the runs the state's history "
                "keeps; restore it from a copy"
            )
        except OSError as exc:
            self._error = StateFileError(f"cannot read {path}: {exc.strerror}")
        if self._fd is not None:
            self._closer = weakref.finalize(self, os.close, self._fd)

    def same_file(self) -> bool:
        """Whether the path still names the file opened (no rebuild replaced it since)."""
        if self._fd is None:
            return not self.path.exists()
        try:
            return os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except FileNotFoundError:
            return False

    def add(self, ids: Iterable[int]) -> bool:
        """Ids this process just appended to the file; False: this index did not open the file
        (it did not exist then), so it cannot answer for them: open a new one."""
        if self._fd is None:
            return False
        for job_id in ids:
            if self._max_known and (self._max is None or job_id > self._max):
                self._max = job_id
        return True

    def _chunks(self) -> Iterator[bytes]:
        """The file's whole ids, in chunks of whole ids (a torn tail is left out)."""
        if self.missing and self.fallback is not None:
            if self._made is None:
                self._made = pack(self.fallback())
            yield self._made
            return
        if self._error is not None or self._fd is None:
            raise self._error or StateFileError(f"cannot read {self.path}")
        offset = 0
        try:
            while chunk := os.pread(self._fd, _CHUNK, offset):
                offset += len(chunk)
                whole = len(chunk) - len(chunk) % 8
                if whole < len(chunk):  # a torn tail, or a short read: read it again whole
                    offset -= len(chunk) - whole
                    if not whole:
                        return
                yield chunk[:whole] if whole < len(chunk) else chunk
        except OSError as exc:
            raise StateFileError(f"cannot read {self.path}: {exc.strerror}") from exc

    @staticmethod
    def _ids(chunk: bytes) -> Iterable[int]:
        if sys.byteorder == "little":
            return memoryview(chunk).cast("q")
        ids = array("q")
        ids.frombytes(chunk)
        ids.byteswap()
        return ids

    def among(self, job_ids: Iterable[int]) -> set[int]:
        wanted = {job_id for job_id in job_ids if -(2**63) <= job_id < 2**63}
        found: set[int] = set()
        if not wanted:
            return found
        searched = {job_id: pack((job_id,)) for job_id in wanted} if len(wanted) <= 32 else None
        for chunk in self._chunks():
            if searched is None:
                found |= wanted.intersection(self._ids(chunk))
                continue
            for job_id, needle in searched.items():
                at = chunk.find(needle)
                while at != -1 and at % 8:  # only whole ids match
                    at = chunk.find(needle, at + 1)
                if at != -1:
                    found.add(job_id)
            searched = {k: v for k, v in searched.items() if k not in found}
            if not searched:
                break
        return found

    def max_job_id(self) -> int | None:
        if not self._max_known:
            for chunk in self._chunks():
                top = max(self._ids(chunk), default=None)
                if top is not None and (self._max is None or top > self._max):
                    self._max = top
            self._max_known = True
        return self._max

    def all_job_ids(self) -> set[int]:
        return {job_id for chunk in self._chunks() for job_id in self._ids(chunk)}
