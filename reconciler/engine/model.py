"""The engine's value types: the live snapshot the planner reads and the plan it produces.

Everything here is immutable data. A `Plan` is built by the pure planner, shown by the
renderers and carried out by the executor; `Plan.to_json()` is also the saved-plan file and the
`--format json` output (documented in docs/plan-format.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast, get_args

from reconciler.engine.field_diff import FieldChange as FieldChange  # re-exported: their old
from reconciler.engine.field_diff import field_changes as field_changes  # home, still imported
from reconciler.engine.field_diff import plain_json
from reconciler.engine.impact_model import Impact
from reconciler.errors import ReconcilerError

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "CANCELED"})
# A run this tool sent a DELETE for, until a read shows the job ended (state only, never live).
CANCELLING = "CANCELLING"
PLAN_FORMAT_VERSION = 1

ResourceKind = Literal["dataset", "exportjob"]
ActionKind = Literal[
    "create", "update", "replace", "rerun", "cancel", "forget", "delete", "adopt", "wait"
]
FindingKind = Literal[
    "missing", "failed", "cancelled", "modified", "unmanaged", "ambiguous", "unreadable", "blocked"
]
RefreshMode = Literal["incremental", "full"]
REFRESH_MODES: tuple[str, ...] = get_args(RefreshMode)
ACTION_KINDS: tuple[str, ...] = get_args(ActionKind)
FINDING_KINDS: tuple[str, ...] = get_args(FindingKind)


class PlanFileError(ReconcilerError):
    """A saved plan file that cannot be read back."""


def is_terminal(status: str) -> bool:
    """True for SUCCEEDED, FAILED and CANCELLED (either spelling); unknown statuses are in flight."""
    return status.upper() in TERMINAL_STATUSES


def job_status(status: str) -> str:
    """A platform job status as the engine compares it: upper case, `CANCELED` -> `CANCELLED`."""
    upper = status.upper()
    return "CANCELLED" if upper == "CANCELED" else upper


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the form digests are computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LiveRun:
    """One export job as the platform reports it now."""

    job_id: int
    status: str
    created_ms: int
    updated_ms: int | None = None
    dataset_id: str | None = None
    batch_id: str | None = None
    batches: tuple[tuple[str, str], ...] = ()  # (segmentId, batchId)
    request: Mapping[str, Any] = field(default_factory=dict)  # normalize_request(record)
    errors: tuple[Mapping[str, Any], ...] = ()

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)

    def facts(self) -> dict[str, Any]:
        """What a plan relies on (updateTime excluded: it ticks while nothing changes)."""
        return {
            "jobId": self.job_id,
            "status": self.status,
            "createdMs": self.created_ms,
            "datasetId": self.dataset_id,
            "batchId": self.batch_id,
            "batches": [list(b) for b in self.batches],
            "request": plain_json(self.request),
            "errors": plain_json(self.errors),
        }


@dataclass(frozen=True)
class LiveDataset:
    """One Catalog dataset as the platform reports it now."""

    id: str
    name: str
    description: str | None = None
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    schema_id: str | None = None
    created_ms: int | None = None
    # classification.managedBy: CUSTOMER, or SYSTEM for the datasets the platform keeps itself
    managed_by: str | None = None

    @property
    def is_system(self) -> bool:
        """A dataset the platform manages (profile snapshots, journey events): nobody's to manage."""
        return (self.managed_by or "").upper() == "SYSTEM"

    def facts(self) -> dict[str, Any]:
        """The fields a plan relies on, as plain JSON."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "tags": {k: list(v) for k, v in sorted(self.tags.items())},
            "schemaId": self.schema_id,
        }


@dataclass(frozen=True)
class LiveSnapshot:
    """What one refresh saw of the sandbox."""

    datasets: Mapping[str, LiveDataset] = field(default_factory=dict)  # every dataset, by id
    runs: Mapping[int, LiveRun] = field(default_factory=dict)  # re-read or newly listed
    missing_runs: frozenset[int] = frozenset()  # state runs that answered 404
    new_jobs: tuple[int, ...] = ()  # ids listed since the watermark
    watermark_ms: int | None = None
    full: bool = False
    # records the platform returned that do not parse (reconciler.platform.models.UnreadableRecord)
    unreadable: tuple[Any, ...] = ()
    # the platform's clock when the refresh ended (from the answers' Date header); None: unknown
    platform_now: datetime | None = None
    newest_job_id: int | None = None  # the highest job id this refresh saw listed

    def unreadable_ids(self) -> frozenset[int]:
        """The job ids of unreadable records (those whose id could be read)."""
        return frozenset(r.id for r in self.unreadable if getattr(r, "id", None) is not None)

    def fact_index(self) -> dict[str, str]:
        """Per object read, `<state> <short digest of its facts>`, to name what changed later.

        Keys are `exportjob@<id>` (state: the status, or `missing` on 404) and `dataset@<id>`
        (state: `present`); a saved plan keeps this so a stale one can say which object moved.
        """
        index = {
            f"exportjob@{k}": f"{run.status} {_sha256(run.facts())[:16]}"
            for k, run in self.runs.items()
        }
        index.update({f"exportjob@{k}": "missing" for k in self.missing_runs})
        index.update({f"exportjob@{k}": "unreadable" for k in self.unreadable_ids()})
        index.update(
            {
                f"dataset@{k}": f"present {_sha256(ds.facts())[:16]}"
                for k, ds in self.datasets.items()
            }
        )
        return dict(sorted(index.items()))

    def digest(self) -> str:
        """sha256 over the live facts a plan relies on (not the refresh mode or watermark)."""
        facts: dict[str, Any] = {
            "datasets": [self.datasets[k].facts() for k in sorted(self.datasets)],
            "runs": [self.runs[k].facts() for k in sorted(self.runs)],
            "missingRuns": sorted(self.missing_runs),
            "newJobs": sorted(self.new_jobs),
        }
        if self.unreadable:  # only then: digests of plans saved before this key stay valid
            facts["unreadable"] = sorted(
                (r.id if r.id is not None else -1, str(r.reason)) for r in self.unreadable
            )
        return _sha256(facts)


def live_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What differs between two `LiveSnapshot.fact_index()`es: `job 12 PROCESSING -> SUCCEEDED`."""
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        kind, _, object_id = key.partition("@")
        name = f"{'job' if kind == 'exportjob' else 'dataset'} {object_id}"
        if old is None:
            changes.append(f"{name} is new")
        elif new is None:
            changes.append(f"{name} is no longer listed")
        elif old.split(" ")[0] != new.split(" ")[0]:
            changes.append(f"{name} {old.split(' ')[0]} -> {new.split(' ')[0]}")
        else:
            changes.append(f"{name} changed")
    return changes


@dataclass(frozen=True)
class Action:
    """One step apply would take, with why and (for changes) the field-level diff."""

    address: str
    kind: ResourceKind
    action: ActionKind
    reason: str
    diff: tuple[FieldChange, ...] = ()
    # exportjob create/replace/rerun: the canonical (symbolic) request; dataset: the Catalog body
    request: Mapping[str, Any] | None = None
    cancel_job_id: int | None = None
    adopt_id: str | None = None  # dataset id or export job id (as a string) to take into state
    depends_on: tuple[str, ...] = ()
    # export job create/replace/rerun: the profiles it will export (estimate_impact); None when
    # not estimated (other actions; apply's fresh plan for documents without maxProfiles)
    impact: Impact | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind,
            "action": self.action,
            "reason": self.reason,
            "diff": [c.to_dict() for c in self.diff],
            "request": plain_json(self.request) if self.request is not None else None,
            "cancelJobId": self.cancel_job_id,
            "adoptId": self.adopt_id,
            "dependsOn": list(self.depends_on),
            "impact": self.impact.to_dict() if self.impact is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Action:
        return cls(
            address=str(data["address"]),
            kind=_choice(data["kind"], ("dataset", "exportjob"), "kind"),
            action=_choice(data["action"], ACTION_KINDS, "action"),
            reason=str(data["reason"]),
            diff=tuple(
                FieldChange(str(c["path"]), c.get("old"), c.get("new")) for c in data["diff"]
            ),
            request=data.get("request"),
            cancel_job_id=data.get("cancelJobId"),
            adopt_id=data.get("adoptId"),
            depends_on=tuple(data.get("dependsOn", ())),
            # absent in plan files saved before issue 17
            impact=Impact.from_dict(data["impact"]) if data.get("impact") is not None else None,
        )


@dataclass(frozen=True)
class DriftFinding:
    """Something the live platform shows that the specs and state did not expect."""

    address: str
    finding: FindingKind
    reason: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "finding": self.finding,
            "reason": self.reason,
            "evidence": plain_json(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftFinding:
        return cls(
            address=str(data["address"]),
            finding=_choice(data["finding"], FINDING_KINDS, "finding"),
            reason=str(data["reason"]),
            evidence=dict(data.get("evidence") or {}),
        )


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> Any:
    if value not in allowed:
        raise ValueError(f"{name} '{value}' is not one of {', '.join(allowed)}")
    return value


# The order of the summary line: most consequential first.
_SUMMARY_ORDER: tuple[tuple[str, str], ...] = (
    ("create", "to create"),
    ("update", "to update"),
    ("replace", "to replace"),
    ("rerun", "to rerun"),
    ("adopt", "to adopt"),
    ("cancel", "to cancel"),
    ("delete", "to delete"),
    ("forget", "to forget"),
    ("wait", "to wait for"),
)


@dataclass(frozen=True)
class Plan:
    """The difference between specs and live: actions to take and drift found."""

    actions: tuple[Action, ...]
    findings: tuple[DriftFinding, ...]
    state_lineage: str
    state_serial: int
    spec_digest: str
    live_digest: str
    refresh_only: bool = False
    targets: tuple[str, ...] = ()
    # how live was read (`incremental` or `full`): apply of a saved plan reads it the same way
    refresh: RefreshMode = "incremental"
    # LiveSnapshot.fact_index(); None for a plan file saved before this key existed
    live_facts: Mapping[str, str] | None = None

    @property
    def has_changes(self) -> bool:
        """Exit code 2 of `--detailed-exitcode`: an action other than `wait`; refresh-only: a finding.

        A finding without an action (an unmanaged object, a report-only failure) is shown but is
        not a change, so a sandbox with objects this repository does not manage can plan clean.
        """
        if self.refresh_only:
            return bool(self.findings)
        return any(a.action != "wait" for a in self.actions)

    def action_counts(self) -> dict[str, int]:
        """Number of actions per action kind (only kinds that occur), in the summary's order."""
        counts: Counter[str] = Counter(a.action for a in self.actions)
        return {kind: counts[kind] for kind, _ in _SUMMARY_ORDER if counts[kind]}

    def finding_counts(self) -> dict[str, int]:
        """Number of findings per finding kind (only kinds that occur)."""
        return dict(Counter(f.finding for f in self.findings))

    def summary(self) -> str:
        """`Plan: 2 to create, 1 to replace, 1 to cancel; 1 drift finding` or `No changes. ...`."""
        if not self.actions and not self.findings:
            return "No changes. Live state matches the specs."
        counts = self.action_counts()
        parts = [f"{counts[k]} {label}" for k, label in _SUMMARY_ORDER if counts.get(k)]
        text = "Plan: " + (", ".join(parts) if parts else "no actions")
        if self.findings:
            n = len(self.findings)
            text += f"; {n} drift finding{'s' if n != 1 else ''}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON document (docs/plan-format.md, formatVersion 1)."""
        return {
            "formatVersion": PLAN_FORMAT_VERSION,
            "summary": {
                "text": self.summary(),
                "hasChanges": self.has_changes,
                "actions": {k: v for k, v in sorted(self.action_counts().items())},
                "findings": {k: v for k, v in sorted(self.finding_counts().items())},
            },
            "state": {"lineage": self.state_lineage, "serial": self.state_serial},
            "specDigest": self.spec_digest,
            "liveDigest": self.live_digest,
            "refresh": self.refresh,
            "liveFacts": dict(self.live_facts or {}),
            "refreshOnly": self.refresh_only,
            "targets": list(self.targets),
            "actions": [a.to_dict() for a in self.actions],
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self) -> str:
        """The saved-plan file and the `--format json` output."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "the plan file") -> Plan:
        """Read back `to_json()` output; a clear error for anything else."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("it is not a JSON object")
            version = data.get("formatVersion")
            if version != PLAN_FORMAT_VERSION:
                raise ValueError(
                    f"formatVersion is {version!r}, this reconciler reads {PLAN_FORMAT_VERSION}"
                )
            state = cast(Mapping[str, Any], data["state"])
            return cls(
                actions=tuple(Action.from_dict(a) for a in data["actions"]),
                findings=tuple(DriftFinding.from_dict(f) for f in data["findings"]),
                state_lineage=str(state["lineage"]),
                state_serial=int(state["serial"]),
                spec_digest=str(data["specDigest"]),
                live_digest=str(data["liveDigest"]),
                refresh_only=bool(data.get("refreshOnly", False)),
                targets=tuple(data.get("targets", ())),
                refresh=_choice(data.get("refresh", "incremental"), REFRESH_MODES, "refresh"),
                live_facts=(
                    {str(k): str(v) for k, v in data["liveFacts"].items()}
                    if "liveFacts" in data
                    else None
                ),
            )
        except (ValueError, KeyError, TypeError) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise PlanFileError(
                f"{source} is not a saved plan ({detail}); create it with 'reconciler plan --out'"
            ) from exc
