"""Keep secrets out of text: known secret values and secret-shaped fragments become `***`.

The client registers every client secret and access token it handles, so exception messages
and log lines can be scrubbed of them even when a server echoes one back.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()

# Secret-shaped fragments, whoever produced them: a bearer credential, a secret-named
# query/form/JSON field.
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s,;\"']+"),
    re.compile(
        r"(?i)((?:client_secret|access_token|refresh_token|authorization|password)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s&,;\"'}]+"
    ),
)


def register_secret(value: str) -> None:
    """Remember a secret so that `redact` removes it from any text from now on."""
    # Very short values would mask innocent text; the platform's secrets are long.
    if len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret and secret-shaped fragment replaced by `***`."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record's message once, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True
