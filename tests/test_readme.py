"""The README's first session and "Try it on the local platform" are true on a fresh copy.

Every `reconciler ...  # quote` line is run in order (one shell, so variables carry over) and the
quote must appear in what it printed; `(exit N)` at the end of a quote is its exit code (else 0).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
_EXIT = re.compile(r"\s*\(exit (\d+)\)$")

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="the README uses curl")


def _blocks_after(heading: str) -> list[str]:
    """The ```sh blocks between `heading` and the next heading of its level or higher."""
    start = README.index(heading)
    end = README.find("\n## ", start + len(heading))
    section = README[start : end if end > 0 else len(README)]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def _lines(block: str) -> list[tuple[str, str | None]]:
    """(command, quote) pairs; the quote is None for lines without one or not of reconciler."""
    pairs: list[tuple[str, str | None]] = []
    for raw in block.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        command, sep, comment = raw.partition("  # ")
        quote = comment.strip() if sep and command.startswith("reconciler") else None
        pairs.append((command.strip() if sep else raw.strip(), quote))
    return pairs


def _run_block(pairs: list[tuple[str, str | None]], cwd: Path, env: dict[str, str]) -> None:
    """One bash script: each command's output and exit code to files, then each quote checked."""
    script = ["set +e"]
    for i, (command, _) in enumerate(pairs):
        script.append(f"{{ {command} ; }} > out.{i} 2>&1; echo $? > rc.{i}")
    subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env, timeout=600, check=True)
    for i, (command, quote) in enumerate(pairs):
        output = (cwd / f"out.{i}").read_text()
        code = int((cwd / f"rc.{i}").read_text())
        (cwd / f"out.{i}").unlink()
        (cwd / f"rc.{i}").unlink()
        if quote is None:
            assert code == 0, f"{command!r} exited {code}:\n{output}"
            continue
        want = _EXIT.search(quote)
        expected_code = int(want.group(1)) if want else 0
        text = _EXIT.sub("", quote)
        assert code == expected_code, (
            f"{command!r} exited {code}, README says {expected_code}:\n{output}"
        )
        assert text in output, f"{command!r} did not print {text!r}:\n{output}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fresh_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    shutil.copy(ROOT / "reconciler.yaml", tmp_path / "reconciler.yaml")
    return tmp_path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AEP_", "RECONCILER_"))}
    # `reconciler` on PATH is this interpreter's console script
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_first_session_and_try_it(fresh_copy: Path) -> None:
    (first,) = _blocks_after("A first session")
    _run_block(_lines(first), fresh_copy, _env())

    serve, session = _blocks_after("## Try it on the local platform")
    port = _free_port()
    (serve_command, banner), *_ = _lines(serve)
    assert serve_command.startswith("reconciler emulator serve --port 8080")
    server = subprocess.Popen(
        serve_command.replace("8080", str(port)).split(),
        cwd=fresh_copy,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/_emulator/clock", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.2)
        lines = [(c.replace("8080", str(port)), q) for c, q in _lines(session)]
        _run_block(lines, fresh_copy, _env())
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C, as its banner says
        out, _ = server.communicate(timeout=30)
    assert banner is not None
    assert banner.replace("8080", str(port)).removesuffix(" (...)") in out
    assert server.returncode == 0, out
