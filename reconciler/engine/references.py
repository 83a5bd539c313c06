"""Plan-time reference checks (issue 14): ids the platform does not know block their address.

An export job action that starts a run (create, replace, rerun) sends its `filter.segments`
segment ids and its `mergePolicy` id; the platform refuses the POST when one does not exist, so
apply would fail halfway. The plan asks first, and only for what its actions need: one listing
of segment definitions when an action names segments, one GET per distinct merge policy id when
an action names one. A plan without such actions (steady state) sends nothing here.

An id that does not exist turns the action into a `blocked` finding on its address (the id, the
field and file it is written in, what to do); the rest of the plan is kept. A read that fails is
one error line: the plan does not guess.

The `adopt` of a document without `mergePolicy` is checked here too: matching takes "no policy
sent" as agreeing with any policy a record names, but such a document exports with the default
policy (or its segments' policy), so the job's own policy is read (a GET of the job, one of its
policy); a job made with another policy is not adopted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.engine.model import Action, DriftFinding, Plan
from reconciler.engine.plan_context import import_command
from reconciler.errors import ReconcilerError
from reconciler.platform.client import PlatformClient
from reconciler.platform.errors import PlatformError
from reconciler.platform.models import MergePolicy, SegmentDefinition
from reconciler.spec.loader import SpecSet
from reconciler.spec.models import ExportJobDoc

# The export job actions that POST a new run (and so send the ids).
STARTS_RUN = ("create", "replace", "rerun")


class ReferenceCheckError(ReconcilerError):
    """The platform could not say whether the segment or merge-policy ids exist."""


def check_references(client: PlatformClient, plan: Plan, specs: SpecSet) -> Plan:
    """The plan, with actions whose segment or merge-policy ids do not exist held back.

    Also an `adopt` of a document that names no merge policy: matching cannot tell which policy
    a live job used (the document's is "the default", or its segments' policy), so the job's
    policy is read and compared here; a job made with another policy is not adopted.
    """
    docs = _run_starting_docs(plan.actions, specs)
    adopting = _adopting_without_policy(plan.actions, specs)
    if not docs and not adopting:
        return plan
    segment_users = sorted(a for a, doc in (*docs.items(), *adopting.items()) if _segment_ids(doc))
    policy_ids = sorted({p.id for doc in docs.values() if (p := doc.spec.mergePolicy) is not None})
    segments = _listed_segments(client, segment_users) if segment_users else {}
    policies = {
        pid: _merge_policy(client, pid, [a for a, d in docs.items() if _names_policy(d, pid)])
        for pid in policy_ids
    }
    findings: list[DriftFinding] = []
    held: set[str] = set()
    for action in plan.actions:
        doc = docs.get(action.address)
        if doc is not None:
            problems, evidence = _problems(doc, set(segments), policies)
            if problems:
                held.add(action.address)
                findings.append(_finding(action, problems, evidence, _where(specs, action.address)))
        adopted = adopting.get(action.address)
        if adopted is not None:
            finding = _adoption_problem(client, action, adopted, segments, policies, specs)
            if finding is not None:
                held.add(action.address)
                findings.append(finding)
    if not held:
        return plan
    return dataclasses.replace(
        plan,
        actions=tuple(a for a in plan.actions if a.address not in held),
        findings=tuple(sorted((*plan.findings, *findings), key=lambda f: (f.address, f.finding))),
    )


def _names_policy(doc: ExportJobDoc, policy_id: str) -> bool:
    return doc.spec.mergePolicy is not None and doc.spec.mergePolicy.id == policy_id


def _adopting_without_policy(actions: Iterable[Action], specs: SpecSet) -> dict[str, ExportJobDoc]:
    docs = {}
    for action in actions:
        if action.kind != "exportjob" or action.action != "adopt" or action.adopt_id is None:
            continue
        doc = specs.by_address(action.address)
        if isinstance(doc, ExportJobDoc) and doc.spec.mergePolicy is None:
            docs[action.address] = doc
    return docs


def _adoption_problem(
    client: PlatformClient,
    action: Action,
    doc: ExportJobDoc,
    segments: Mapping[str, SegmentDefinition],
    policies: dict[str, MergePolicy | None],
    specs: SpecSet,
) -> DriftFinding | None:
    """A `blocked` finding when the job to adopt used a merge policy this document would not."""
    assert action.adopt_id is not None
    try:
        record = client.get_export_job(action.adopt_id)
    except PlatformError as exc:
        raise ReferenceCheckError(
            f"cannot check the merge policy of job {action.adopt_id}, which {action.address} "
            f"would adopt (reading it failed: {exc}); nothing was changed"
        ) from None
    if record is None:
        return None  # gone: the executor's adopt says so and the next plan creates
    live_id = (record.mergePolicy or {}).get("id")
    if not isinstance(live_id, str) or not live_id:
        return None  # the record does not say: it neither proves nor refutes
    ids = _segment_ids(doc)
    if ids:
        expected = {segments[i].mergePolicyId for i in ids if i in segments}
        if None in expected or not expected or live_id in expected:
            return None  # a segment's policy is not known: not refuted
        wanted = f"its segments' merge policy ({', '.join(sorted(str(e) for e in expected))})"
    else:
        if live_id not in policies:
            policies[live_id] = _merge_policy(client, live_id, [action.address])
        policy = policies[live_id]
        if policy is not None and policy.default:
            return None
        wanted = "the default merge policy"
    where = _where(specs, action.address)
    return DriftFinding(
        action.address,
        "blocked",
        f"the adopt is held back: live job {action.adopt_id} matches this document except its "
        f"merge policy: the job used {live_id}, and this document (no spec.mergePolicy) exports "
        f"with {wanted}; not guessed: '{import_command(action.address, action.adopt_id)}' if it "
        f"is this document's, or set spec.mergePolicy in {where} (a run of another policy is "
        "then created)",
        {"action": "adopt", "jobId": action.adopt_id, "mergePolicyId": live_id},
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


def _listed_segments(client: PlatformClient, users: list[str]) -> dict[str, SegmentDefinition]:
    try:
        return {s.id: s for s in client.list_segment_definitions()}
    except PlatformError as exc:
        raise ReferenceCheckError(
            f"cannot check the segment ids of {_names(users)} (listing the segment definitions "
            f"failed: {exc}); nothing was changed"
        ) from None


def _merge_policy(client: PlatformClient, policy_id: str, users: list[str]) -> MergePolicy | None:
    """The merge policy, or None when it does not exist."""
    try:
        return client.get_merge_policy(policy_id)
    except PlatformError as exc:
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
