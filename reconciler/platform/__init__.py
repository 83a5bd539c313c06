"""The client of the platform API: auth, transport, retries, pagination, typed responses."""

from reconciler.platform.auth import (
    Credentials,
    CredentialsError,
    Endpoints,
    credentials_from_env,
)
from reconciler.platform.client import PlatformClient
from reconciler.platform.errors import (
    AuthError,
    NotFoundError,
    OutcomeUnknown,
    PlatformError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    UnreachableError,
    ValidationError,
)
from reconciler.platform.estimates import Estimate, union_pql
from reconciler.platform.logs import disable_request_logging, enable_request_logging
from reconciler.platform.models import (
    BatchFile,
    BatchRef,
    CancelAnswer,
    CatalogBatch,
    CatalogDataset,
    ExportJobRecord,
    JobDestination,
    JobError,
    MergePolicy,
    SegmentDefinition,
    UnreadableRecord,
    canonical_job_status,
    job_status_is_terminal,
)

__all__ = [
    "AuthError",
    "BatchFile",
    "BatchRef",
    "CancelAnswer",
    "CatalogBatch",
    "CatalogDataset",
    "Credentials",
    "CredentialsError",
    "Endpoints",
    "Estimate",
    "ExportJobRecord",
    "JobDestination",
    "JobError",
    "MergePolicy",
    "NotFoundError",
    "OutcomeUnknown",
    "PlatformClient",
    "PlatformError",
    "RateLimitedError",
    "SegmentDefinition",
    "ServerError",
    "TransportError",
    "UnexpectedResponseError",
    "UnreachableError",
    "UnreadableRecord",
    "ValidationError",
    "canonical_job_status",
    "credentials_from_env",
    "disable_request_logging",
    "enable_request_logging",
    "job_status_is_terminal",
    "union_pql",
]
