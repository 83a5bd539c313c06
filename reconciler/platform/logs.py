"""The `-v` request log: one redacted line per request on the `reconciler.http` logger."""

from __future__ import annotations

import logging
from typing import TextIO

from reconciler.platform.redact import RedactingFilter

REQUEST_LOGGER = "reconciler.http"

# Redact at the source so every handler, including ones attached by tests or callers, gets
# clean text.
logging.getLogger(REQUEST_LOGGER).addFilter(RedactingFilter())


def enable_request_logging(stream: TextIO) -> logging.Handler:
    """Write `METHOD path status duration` lines (and retries) to `stream`; returns the handler."""
    logger = logging.getLogger(REQUEST_LOGGER)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("http: %(message)s"))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def disable_request_logging(handler: logging.Handler) -> None:
    """Detach a handler returned by `enable_request_logging`."""
    logging.getLogger(REQUEST_LOGGER).removeHandler(handler)
