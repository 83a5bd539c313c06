"""A deterministic population of profiles (identities, emails, events, segment memberships)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from reconciler.emulator import defaults

_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_CITIES = (("San Jose", "US"), ("Austin", "US"), ("London", "GB"), ("Paris", "FR"), ("Tokyo", "JP"))
_BROWSERS = (
    ("Chrome", ("118", "119", "120")),
    ("Firefox", ("115", "119")),
    ("Safari", ("16", "17")),
)
_STATUSES = (("realized", 0.6), ("existing", 0.25), ("exited", 0.15))
# Windows chosen around the seeds' example filters (2018-01-01..2018-02-01, 2018-10-25).
_QUALIFICATION = (datetime(2017, 12, 1, tzinfo=UTC), datetime(2018, 3, 1, tzinfo=UTC))
_PROFILE_INGEST = (datetime(2017, 10, 1, tzinfo=UTC), datetime(2018, 6, 1, tzinfo=UTC))
_EVENT_INGEST = (datetime(2018, 9, 1, tzinfo=UTC), datetime(2018, 12, 31, tzinfo=UTC))
_MEMBERSHIP_ODDS = (0.5, 0.4, 0.3, 0.3)


@dataclass(frozen=True)
class Event:
    """One time-series event and when it was ingested."""

    ingest_ms: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Profile:
    """A merged profile: its XDM attributes, ingestion time, memberships and events."""

    attributes: dict[str, Any]
    ingest_ms: int
    memberships: dict[str, tuple[str, int]]  # segment id -> (status, qualification ms)
    events: tuple[Event, ...]


def iso(ms: int) -> str:
    """RFC 3339 UTC text of epoch milliseconds."""
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _between(rng: random.Random, window: tuple[datetime, datetime]) -> int:
    low, high = (int(w.timestamp() * 1000) for w in window)
    return rng.randrange(low, high)


def _status(rng: random.Random) -> str:
    roll = rng.random()
    for status, share in _STATUSES:
        if roll < share:
            return status
        roll -= share
    return _STATUSES[-1][0]


def _profile(rng: random.Random, index: int) -> Profile:
    ecid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, country = rng.choice(_CITIES)
    email = f"{first.lower()}.{last.lower()}{index}@example.com" if rng.random() < 0.85 else None
    identities: list[dict[str, Any]] = [{"id": ecid, "namespace": {"code": "ECID"}}]
    identity_map: dict[str, Any] = {"ECID": [{"id": ecid, "primary": True}]}
    attributes: dict[str, Any] = {
        "person": {"name": {"firstName": first, "lastName": last}},
        "homeAddress": {"city": city, "countryCode": country},
    }
    if email is not None:
        identities.append({"id": email, "namespace": {"code": "Email"}})
        identity_map["Email"] = [{"id": email, "primary": False}]
        attributes["personalEmail"] = {"address": email}
    memberships: dict[str, tuple[str, int]] = {}
    for segment_id, odds in zip(defaults.SEGMENT_IDS, _MEMBERSHIP_ODDS, strict=True):
        if rng.random() < odds:
            memberships[segment_id] = (_status(rng), _between(rng, _QUALIFICATION))
    if memberships:
        attributes["segmentMembership"] = {
            "ups": {
                seg: {"status": status, "lastQualificationTime": iso(when)}
                for seg, (status, when) in memberships.items()
            }
        }
    events = []
    for _ in range(rng.randrange(0, 5)):
        name, versions = rng.choice(_BROWSERS)
        ingest = _between(rng, _EVENT_INGEST)
        events.append(
            Event(
                ingest,
                {
                    "_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "eventType": "web.webpagedetails.pageViews",
                    "timestamp": iso(ingest - rng.randrange(1000, 3_600_000)),
                    # Platform datasets carry the ingestion time as system metadata.
                    "_acp_system_metadata": {"ingestTime": ingest},
                    "environment": {
                        "browserDetails": {"name": name, "version": rng.choice(versions)}
                    },
                },
            )
        )
    ingest_ms = _between(rng, _PROFILE_INGEST)
    return Profile(
        attributes={
            "identities": identities,
            "identityMap": identity_map,
            **attributes,
            "_acp_system_metadata": {"ingestTime": ingest_ms},
        },
        ingest_ms=ingest_ms,
        memberships=memberships,
        events=tuple(sorted(events, key=lambda e: e.ingest_ms)),
    )


@lru_cache(maxsize=16)
def generate(count: int, seed: int) -> tuple[Profile, ...]:
    """count profiles, the same for the same seed on every machine."""
    rng = random.Random(seed)
    return tuple(_profile(rng, i) for i in range(count))
