"""Running the emulator: in a daemon thread on an ephemeral port, or in the foreground."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import requests
import uvicorn

from reconciler.emulator import behaviour, defaults
from reconciler.emulator.app import create_app
from reconciler.emulator.context import Emulator


class EmulatorStartError(RuntimeError):
    """The emulator could not start serving; the message says where and what to do."""


class RunningEmulator:
    """An emulator serving in a background thread; stop() or use as a context manager."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, base_url: str, emulator: Emulator
    ) -> None:
        self._server = server
        self._emulator = emulator
        self._thread = thread
        self.base_url = base_url
        self.data_dir = emulator.data_dir

    def stop(self) -> None:
        """Stop serving and wait for the thread; the data stays on disk."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._emulator.store.close()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _config(
    data_dir: Path, host: str, port: int, token_ttl_seconds: int | None, log_level: str
) -> tuple[uvicorn.Config, Emulator]:
    app = create_app(data_dir, token_ttl_seconds=token_ttl_seconds)
    emulator = app.app.state.emulator
    assert isinstance(emulator, Emulator)
    # h11 on purpose: the dropped-connection fault reaches into its transport. uvicorn's own
    # Date header is off: the middleware sends the platform clock's (which may be offset).
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",
        http="h11",
        access_log=False,
        date_header=False,
        timeout_graceful_shutdown=2,
    ), emulator


def _profile_name(profile: str | None) -> str | None:
    """The profile to apply at start: the argument, else RECONCILER_EMULATOR_PROFILE, else none."""
    name = profile if profile is not None else (os.environ.get(behaviour.PROFILE_ENV) or None)
    if name is not None and name not in behaviour.PROFILES:
        source = "profile" if profile is not None else behaviour.PROFILE_ENV
        raise EmulatorStartError(
            f"{source}={name!r} is not an emulator profile; use one of {list(behaviour.PROFILES)}"
        )
    return name


def _apply_profile(emulator: Emulator, name: str | None) -> None:
    # The same profile again (a restart) keeps the settings and the clock as they were left.
    if name is not None and emulator.profile != name:
        offset = behaviour.DEFAULT_CLOCK_OFFSET_SECONDS if name == "documented" else 0.0
        emulator.apply_profile(name, offset)


def _run_quietly(server: uvicorn.Server) -> None:
    # uvicorn exits (SystemExit) when it cannot bind; start_in_thread sees the thread end.
    with contextlib.suppress(SystemExit):
        server.run()


def start_in_thread(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token_ttl_seconds: int | None = None,
    profile: str | None = None,
) -> RunningEmulator:
    """Serve data_dir on host:port (0 = any free port); returns once the emulator answers.

    profile ("cooperative" or "documented"; None: the RECONCILER_EMULATOR_PROFILE variable, and
    when that is unset the settings stored in data_dir) is applied before the first request.
    """
    name = _profile_name(profile)
    # Embedded, uvicorn stays quiet: a failure to start is reported once, as EmulatorStartError.
    config, emulator = _config(data_dir, host, port, token_ttl_seconds, "critical")
    _apply_profile(emulator, name)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=_run_quietly, args=(server,), name=f"emulator-{data_dir.name}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            emulator.store.close()
            raise EmulatorStartError(
                f"the local platform could not listen on {host}:{port} (is the port in use?); "
                "choose another port"
            )
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://{host}:{bound}"
    running = RunningEmulator(server, thread, base_url, emulator)
    requests.get(f"{base_url}/_emulator/clock", timeout=5).raise_for_status()
    return running


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EmulatorStartError(
            f"the local platform could not listen on {host}:{port} ({exc.strerror or exc}); "
            "choose another port with --port"
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(host: str, port: int, data_dir: Path, profile: str | None = None) -> None:
    """Serve in the foreground until interrupted (reconciler emulator serve).

    The port is bound before the banner is printed, so a busy port is one error line and no
    banner; Ctrl-C (or SIGTERM) stops it and returns normally.
    """
    name = _profile_name(profile)
    sock = _bind(host, port)
    config, emulator = _config(data_dir, host, port, None, "warning")
    try:
        _apply_profile(emulator, name)
        print(
            f"local platform: http://{host}:{port} (data in {data_dir}; behaviour "
            f"{emulator.profile or 'custom'}); default client id {defaults.CLIENT_ID}, org "
            f"{defaults.ORG_ID}; see docs/emulator.md. Ctrl-C stops it.",
            file=sys.stderr,
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        emulator.store.close()
