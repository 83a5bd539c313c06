"""Credentials, timings and reference data the emulator starts with."""

from __future__ import annotations

from typing import Any, Final

CLIENT_ID: Final = "local-emulator-client"
CLIENT_SECRET: Final = "local-emulator-secret"
ORG_ID: Final = "0123456789ABCDEF01234567@AdobeOrg"
SCOPES: Final = (
    "openid",
    "AdobeID",
    "read_organizations",
    "additional_info.projectedProductContext",
)
DEFAULT_SANDBOX: Final = "prod"
# The sandboxes every org has; more are added with POST /_emulator/sandboxes.
SANDBOXES: Final = ("prod", "dev", "stage")

TOKEN_TTL_SECONDS: Final = 86399  # api-facts.md: "expires_in": 86399 (24 h)
JOB_NEW_SECONDS: Final = 1.0
JOB_PROCESSING_SECONDS: Final = 2.0
ROWS_PER_FILE: Final = 5000
DEFAULT_PROFILES: Final = 60
DEFAULT_SEED: Final = 0

PROFILE_UNION_SCHEMA: Final = "https://ns.adobe.com/xdm/context/profile__union"
PROFILE_SCHEMA_NAME: Final = "_xdm.context.profile"

DEFAULT_MERGE_POLICY_ID: Final = "0bf16e61-90e9-4204-b8fa-ad250360957b"

# The merge policies the seeds name; 0bf16e61 is the one the Profile guide's answers fall back to.
MERGE_POLICIES: Final[tuple[dict[str, Any], ...]] = (
    {
        "id": "timestampOrdered-none-mp",
        "name": "Timestamp ordered, no identity graph",
        "identityGraph": {"type": "none"},
        "attributeMerge": {"type": "timestampOrdered"},
    },
    {
        "id": "e5bc94de-cd14-4cdf-a2bc-88b6e8cbfac2",
        "name": "Email export merge policy",
        "identityGraph": {"type": "pdg"},
        "attributeMerge": {"type": "timestampOrdered"},
    },
    {
        "id": DEFAULT_MERGE_POLICY_ID,
        "name": "Profile Default Merge Policy",
        "identityGraph": {"type": "none"},
        "attributeMerge": {"type": "timestampOrdered"},
    },
    {
        "id": "7972e3d6-96ea-4ece-9627-cbfd62709c5d",
        "name": "Dataset precedence merge policy",
        "identityGraph": {"type": "pdg"},
        "attributeMerge": {"type": "dataSetPrecedence", "order": []},
    },
)

# Segment definitions: the two the seeds name, and two more so filters have something to miss.
SEGMENTS: Final[tuple[dict[str, Any], ...]] = (
    {
        "id": "52c26d0d-45f2-47a2-ab30-ed06abc981ff",
        "name": "Newsletter subscribers",
        "pql": 'personalEmail.address.isNotNull() and homeAddress.countryCode = "US"',
    },
    {
        "id": "7a93d2ff-a220-4bae-9a4e-5f3c35032be3",
        "name": "Frequent Firefox visitors",
        "pql": 'chain(xEvent, timestamp, [X: WHAT(environment.browserDetails.name = "Firefox")])',
    },
    {
        "id": "3da8bad9-9f3b-4f2e-8a4b-3c9f1e6d2a10",
        "name": "Lapsed customers",
        "pql": "not chain(xEvent, timestamp, [X: WHEN(<= 90 days before now)])",
    },
    {
        "id": "b8e1c2a4-6d7f-4a3b-9c5e-1f2a3b4c5d6e",
        "name": "High value",
        "pql": 'person.loyaltyTier = "gold"',
    },
)
SEGMENT_IDS: Final = tuple(str(s["id"]) for s in SEGMENTS)
