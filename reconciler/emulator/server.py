"""Running the emulator: in a daemon thread on an ephemeral port, or in the foreground."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import requests
import uvicorn

from reconciler.emulator import defaults
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
    # h11 on purpose: the dropped-connection fault reaches into its transport.
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="off", http="h11", access_log=False
    ), emulator


def _run_quietly(server: uvicorn.Server) -> None:
    # uvicorn exits (SystemExit) when it cannot bind; start_in_thread sees the thread end.
    with contextlib.suppress(SystemExit):
        server.run()


def start_in_thread(
    data_dir: Path, *, host: str = "127.0.0.1", port: int = 0, token_ttl_seconds: int | None = None
) -> RunningEmulator:
    """Serve data_dir on host:port (0 = any free port); returns once the emulator answers."""
    # Embedded, uvicorn stays quiet: a failure to start is reported once, as EmulatorStartError.
    config, emulator = _config(data_dir, host, port, token_ttl_seconds, "critical")
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


def serve(host: str, port: int, data_dir: Path) -> None:
    """Serve in the foreground until interrupted (reconciler emulator serve)."""
    config, emulator = _config(data_dir, host, port, None, "info")
    print(
        f"local platform: http://{host}:{port} (data in {data_dir}); default client id "
        f"{defaults.CLIENT_ID}, org {defaults.ORG_ID}; see docs/emulator.md. Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        emulator.store.close()
