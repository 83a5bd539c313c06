"""Tunable behaviour (job timings, token lifetime, DELETE answer style), persisted in the store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from reconciler.emulator import defaults
from reconciler.emulator.problems import bad_request
from reconciler.emulator.store import Store

DeleteStyle = Literal["200", "204"]


@dataclass(frozen=True)
class EmulatorConfig:
    """Seconds a new job spends in NEW and in PROCESSING, token lifetime, and answer styles."""

    job_new_seconds: float = defaults.JOB_NEW_SECONDS
    job_processing_seconds: float = defaults.JOB_PROCESSING_SECONDS
    token_ttl_seconds: int = defaults.TOKEN_TTL_SECONDS
    # "204": no body (Profile guide); "200": {"status": true, "message": ...} (Segmentation guide)
    delete_style: DeleteStyle = "204"
    rows_per_file: int = defaults.ROWS_PER_FILE

    def to_json(self) -> dict[str, Any]:
        """The config as the admin endpoint shows it."""
        return asdict(self)


def _number(body: dict[str, Any], key: str, minimum: float) -> float:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise bad_request(f"config.{key}: expected a number >= {minimum}, got {value!r}")
    return float(value)


def apply_changes(current: EmulatorConfig, body: Any) -> EmulatorConfig:
    """A new config with the given keys changed; unknown keys and bad values are 400s."""
    if not isinstance(body, dict):
        raise bad_request('config: expected a JSON object such as {"job_new_seconds": 1}')
    known = set(asdict(current))
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad_request(f"config: unknown key(s) {unknown}; known keys are {sorted(known)}")
    changes: dict[str, Any] = {}
    for key in ("job_new_seconds", "job_processing_seconds"):
        if key in body:
            changes[key] = _number(body, key, 0)
    for key in ("token_ttl_seconds", "rows_per_file"):
        if key in body:
            changes[key] = int(_number(body, key, 1))
    if "delete_style" in body:
        style = str(body["delete_style"])
        if style not in ("200", "204"):
            raise bad_request('config.delete_style: expected "200" or "204"')
        changes["delete_style"] = style
    return replace(current, **changes)


def load(store: Store) -> EmulatorConfig:
    """The stored config, or the defaults."""
    raw = store.get_meta("config")
    return EmulatorConfig() if raw is None else apply_changes(EmulatorConfig(), raw)


def save(store: Store, config: EmulatorConfig) -> None:
    """Persist the config."""
    store.set_meta("config", config.to_json())
