"""Plan-time reference checks (issue 14): ids the platform does not know block their address.

An export job action that starts a run (create, replace, rerun) sends its `filter.segments`
segment ids and its `mergePolicy` id; the platform refuses the POST when one does not exist, so
apply would fail halfway. The plan asks first, and only for what its actions need: one listing
of segment definitions when an action names segments, one GET per distinct merge policy id when
an action names one. A plan without such actions (steady state) sends nothing here.

An id that does not exist turns the action into a `blocked` finding on its address (the id, the
field and file it is written in, what to do); the rest of the plan is kept. A read that fails is
one error line: the plan does not guess.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.engine.model import Action, DriftFinding, Plan
from reconciler.errors import ReconcilerError
from reconciler.platform.client import PlatformClient
from reconciler.platform.errors import PlatformError
from reconciler.platform.models import MergePolicy
from reconciler.spec.loader import SpecSet
from reconciler.spec.models import ExportJobDoc

# The export job actions that POST a new run (and so send the ids).
STARTS_RUN = ("create", "replace", "rerun")


class ReferenceCheckError(ReconcilerError):
    """The platform could not say whether the segment or merge-policy ids exist."""


def check_references(client: PlatformClient, plan: Plan, specs: SpecSet) -> Plan:
    """The plan, with actions whose segment or merge-policy ids do not exist held back."""
    docs = _run_starting_docs(plan.actions, specs)
    if not docs:
        return plan
    segment_users = sorted(a for a, doc in docs.items() if _segment_ids(doc))
    policy_ids = sorted({p.id for doc in docs.values() if (p := doc.spec.mergePolicy) is not None})
    known_segments = _listed_segments(client, segment_users) if segment_users else set()
    policies = {pid: _merge_policy(client, pid, docs) for pid in policy_ids}
    findings: list[DriftFinding] = []
    held: set[str] = set()
    for action in plan.actions:
        doc = docs.get(action.address)
        if doc is None:
            continue
        problems, evidence = _problems(doc, known_segments, policies)
        if not problems:
            continue
        held.add(action.address)
        findings.append(_finding(action, problems, evidence, _where(specs, action.address)))
    if not held:
        return plan
    return dataclasses.replace(
        plan,
        actions=tuple(a for a in plan.actions if a.address not in held),
        findings=tuple(sorted((*plan.findings, *findings), key=lambda f: (f.address, f.finding))),
    )


def _run_starting_docs(actions: Iterable[Action], specs: SpecSet) -> dict[str, ExportJobDoc]:
    docs = {}
    for action in actions:
        if action.kind != "exportjob" or action.action not in STARTS_RUN:
            continue
        doc = specs.by_address(action.address)
        if isinstance(doc, ExportJobDoc):
            docs[action.address] = doc
    return docs


def _segment_ids(doc: ExportJobDoc) -> list[str]:
    filt = doc.spec.filter
    return [s.segmentId for s in (filt.segments or [])] if filt is not None else []


def _listed_segments(client: PlatformClient, users: list[str]) -> set[str]:
    try:
        return {s.id for s in client.list_segment_definitions()}
    except PlatformError as exc:
        raise ReferenceCheckError(
            f"cannot check the segment ids of {_names(users)} (listing the segment definitions "
            f"failed: {exc}); nothing was changed"
        ) from None


def _merge_policy(
    client: PlatformClient, policy_id: str, docs: Mapping[str, ExportJobDoc]
) -> MergePolicy | None:
    """The merge policy, or None when it does not exist."""
    try:
        return client.get_merge_policy(policy_id)
    except PlatformError as exc:
        users = sorted(
            a for a, d in docs.items() if d.spec.mergePolicy and d.spec.mergePolicy.id == policy_id
        )
        raise ReferenceCheckError(
            f"cannot check merge policy {policy_id} of {_names(users)} (reading it failed: "
            f"{exc}); nothing was changed"
        ) from None


def _problems(
    doc: ExportJobDoc, known_segments: set[str], policies: Mapping[str, MergePolicy | None]
) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    evidence: dict[str, Any] = {}
    missing = [(i, sid) for i, sid in enumerate(_segment_ids(doc)) if sid not in known_segments]
    if missing:
        evidence["segmentIds"] = [sid for _, sid in missing]
        for i, sid in missing:
            problems.append(
                f"segment {sid} (spec.filter.segments[{i}].segmentId) does not exist in this "
                "sandbox (the segment definitions list no such id)"
            )
    ref = doc.spec.mergePolicy
    if ref is not None:
        policy = policies.get(ref.id)
        if policy is None:
            evidence["mergePolicyId"] = ref.id
            problems.append(
                f"merge policy {ref.id} (spec.mergePolicy.id) does not exist in this sandbox"
            )
        elif (
            policy.version is not None and ref.version is not None and ref.version > policy.version
        ):
            evidence["mergePolicyId"] = ref.id
            evidence["mergePolicyVersion"] = ref.version
            problems.append(
                f"merge policy {ref.id} has no version {ref.version} (spec.mergePolicy.version; "
                f"its current version is {policy.version})"
            )
    return problems, evidence


def _finding(
    action: Action, problems: list[str], evidence: dict[str, Any], where: str
) -> DriftFinding:
    fixes = []
    if "segmentIds" in evidence:
        fixes.append(f"create the segment or fix filter.segments in {where}")
    if "mergePolicyId" in evidence:
        fixes.append(f"fix spec.mergePolicy in {where} (omit it to use the default merge policy)")
    cancel = (
        f" (job {action.cancel_job_id} is not cancelled)"
        if action.cancel_job_id is not None
        else ""
    )
    reason = (
        f"the {action.action} is held back{cancel}, the platform would refuse the job: "
        f"{'; '.join(problems)}; {'; '.join(fixes)}"
    )
    if action.cancel_job_id is not None:
        evidence = {**evidence, "cancelJobId": action.cancel_job_id}
    return DriftFinding(action.address, "blocked", reason, {"action": action.action, **evidence})


def _where(specs: SpecSet, address: str) -> str:
    """The file the document is written in (`specs/exports/x.yaml`), else its address."""
    locations = getattr(specs, "locations", None) or {}
    location = locations.get(address)
    return location.file.as_posix() if location is not None else f"the document of {address}"


def _names(addresses: list[str]) -> str:
    return ", ".join(addresses) if addresses else "the export jobs"
