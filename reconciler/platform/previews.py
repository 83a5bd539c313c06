"""Previews and estimates (Segmentation API) and the preview sample status (Profile API)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from reconciler.platform.answers import json_of, parse_model, pql_of, seg, unexpected
from reconciler.platform.client_core import UPS, ClientCore, EstimateKey
from reconciler.platform.errors import NotFoundError, PlatformError
from reconciler.platform.estimates import Estimate, failed_estimate, sample_total
from reconciler.platform.models import SegmentDefinition

PROFILE_MODEL = "_xdm.context.profile"
# Seconds between two reads of an estimate (SEG: an estimate takes 10 to 15 s to settle).
ESTIMATE_POLL_SECONDS = 1.0
# A call that failed this close to the deadline was cut short by it: pending, not failed.
DEADLINE_SLACK_SECONDS = 0.1


class PreviewsClient(ClientCore):
    """Estimates of audiences before anything runs: parallel, deduplicated, cached, bounded."""

    def start_preview(
        self,
        expression: str,
        *,
        merge_policy_id: str | None = None,
        graph_type: str | None = None,
        model: str = PROFILE_MODEL,
        deadline: float | None = None,
    ) -> str:
        """Start a preview job (and its estimate job, same id) for a PQL expression; its id.

        `mergePolicyId` is sent only when given (no document lists it in the request). A preview
        creates nothing durable, so this POST is resent after a 5xx or a lost answer (a second
        copy is one more short-lived job); a 4xx is raised at once. `deadline`
        (`time.monotonic()`) bounds the call, retries included.
        """
        path = f"{UPS}/preview"
        body: dict[str, Any] = {
            "predicateExpression": expression,
            "predicateType": "pql/text",
            "predicateModel": model,
        }
        if graph_type is not None:
            body["graphType"] = graph_type
        if merge_policy_id is not None:
            body["mergePolicyId"] = merge_policy_id
        response = self._transport.platform("POST", path, json=body, resend=True, deadline=deadline)
        data = json_of(response, "POST", path)
        preview_id = data.get("previewId") if isinstance(data, dict) else None
        if not isinstance(preview_id, str) or not preview_id:
            raise unexpected(response, "POST", path, "no previewId in the answer")
        with self._estimate_lock:
            self.previews_started += 1
        return preview_id

    def get_estimate(self, preview_id: str, *, deadline: float | None = None) -> Estimate:
        """The estimate of a preview job as of now; `NotFoundError` once it is gone."""
        path = f"{UPS}/estimate/{seg(preview_id)}"
        response = self._transport.platform("GET", path, deadline=deadline)
        return parse_model(Estimate, json_of(response, "GET", path), response, "GET", path)

    def delete_preview(self, preview_id: str, *, deadline: float | None = None) -> None:
        """Cancel or delete a preview job (SEG: 200 `{"status": true, "message": "KILLED"}`).

        Resent after a lost answer; a preview already gone (404) counts as deleted.
        """
        path = f"{UPS}/preview/{seg(preview_id)}"
        try:
            self._transport.platform("DELETE", path, resend=True, deadline=deadline)
        except NotFoundError:
            return

    def profile_store_total(self, *, deadline: float | None = None) -> int | None:
        """Profiles in the store (`totalRows` of the last sample, PROF previewsamplestatus);
        None when the platform has no sample yet (404) or shows no count."""
        path = f"{UPS}/previewsamplestatus"
        response = self._get_or_none(path, deadline=deadline)
        if response is None:
            return None
        return sample_total(json_of(response, "GET", path))

    def estimate_segments(
        self,
        segment_definitions: Iterable[SegmentDefinition],
        merge_policy_id: str | None,
        *,
        timeout_s: float,
    ) -> dict[str, Estimate | None]:
        """Estimate each segment definition's size, by id: None when not ready within timeout_s.

        One preview per distinct (expression, merge policy), started in parallel on the pool and
        read every ESTIMATE_POLL_SECONDS until RESULT_READY, FAILED or the shared deadline, which
        bounds the call even when the platform is slow to answer. Settled estimates are cached
        for the life of this client; a preview still running at the deadline is polled again by
        the next call instead of starting another. `merge_policy_id` None uses each definition's
        own. A definition without a PQL expression, an estimate the platform failed, or a call
        that failed is an Estimate with `failed` True (never raised). Not for use from inside
        `map` (it runs on the same pool).
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        keys: dict[str, EstimateKey | None] = {}
        for segment in segment_definitions:
            expression = pql_of(segment)
            keys[segment.id] = (
                None
                if expression is None
                else (expression, merge_policy_id or segment.mergePolicyId)
            )
        found = self._estimate_keys([k for k in keys.values() if k is not None], deadline)
        no_pql = failed_estimate("the segment definition has no PQL (pql/text) expression")
        return {sid: (no_pql if key is None else found[key]) for sid, key in keys.items()}

    def estimate_expressions(
        self, expressions: Iterable[EstimateKey], *, timeout_s: float
    ) -> dict[EstimateKey, Estimate | None]:
        """`estimate_segments` for (PQL expression, merge policy id or None) pairs, e.g. the
        `union_pql` of an export's segments; same parallelism, cache and deadline."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        return self._estimate_keys(list(expressions), deadline)

    def _estimate_keys(
        self, keys: list[EstimateKey], deadline: float
    ) -> dict[EstimateKey, Estimate | None]:
        found: dict[EstimateKey, Estimate | None] = {}
        pending: list[EstimateKey] = []
        for key in dict.fromkeys(keys):
            with self._estimate_lock:
                cached = self._estimates.get(key)
            if cached is not None:
                found[key] = cached
            else:
                found[key] = None
                pending.append(key)
        self._poll_until(pending, found, deadline)
        return found

    def _poll_until(
        self,
        pending: list[EstimateKey],
        found: dict[EstimateKey, Estimate | None],
        deadline: float,
    ) -> None:
        """Step every pending key on the pool (start, then read every ESTIMATE_POLL_SECONDS)
        until each settles or the deadline; no worker sleeps, so every preview runs side by side
        however few workers there are; every call carries the deadline (its timeouts and
        retries end there), so a slow platform cannot hold the caller, nor `close`, past it."""
        pool = self._executor()
        running: dict[EstimateKey, Future[Estimate | None]] = {}
        due = dict.fromkeys(pending, 0.0)
        while due or running:
            now = time.monotonic()
            if now >= deadline:
                return
            for key in [k for k, at in due.items() if at <= now]:
                del due[key]
                running[key] = pool.submit(self._estimate_step, key, deadline)
            next_due = min(due.values(), default=deadline)
            timeout = max(0.0, min(deadline, next_due) - time.monotonic())
            if not running:
                time.sleep(timeout)
                continue
            done, _ = wait(list(running.values()), timeout=timeout, return_when=FIRST_COMPLETED)
            for key, future in list(running.items()):
                if future not in done:
                    continue
                del running[key]
                outcome = future.result()
                if outcome is None:
                    due[key] = time.monotonic() + ESTIMATE_POLL_SECONDS
                else:
                    found[key] = outcome

    def _estimate_step(self, key: EstimateKey, deadline: float) -> Estimate | None:
        """Start the key's preview if needed and read its estimate once: the settled Estimate
        (cached, the preview deleted), a failed one for a call that failed, None while running
        (or when the deadline cut the call short: pending, not failed)."""
        with self._estimate_lock:
            cached = self._estimates.get(key)
            preview_id = self._previews.get(key)
        if cached is not None:
            return cached
        try:
            if preview_id is None:
                preview_id = self.start_preview(key[0], merge_policy_id=key[1], deadline=deadline)
                with self._estimate_lock:
                    self._previews[key] = preview_id
            try:
                estimate = self.get_estimate(preview_id, deadline=deadline)
            except NotFoundError:
                # Gone (expired or deleted elsewhere): the next call starts a new one.
                with self._estimate_lock:
                    self._previews.pop(key, None)
                raise
        except PlatformError as exc:
            if time.monotonic() >= deadline - DEADLINE_SLACK_SECONDS:
                return None
            return failed_estimate(str(exc))
        if not (estimate.ready or estimate.failed):
            return None
        with self._estimate_lock:
            self._estimates[key] = estimate
            self._previews.pop(key, None)
        # A settled preview left behind is the platform's to expire.
        with contextlib.suppress(PlatformError):
            self.delete_preview(preview_id, deadline=deadline)
        return estimate
