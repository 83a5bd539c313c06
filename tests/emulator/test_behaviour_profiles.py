"""Behaviour settings and profiles: the admin API, persistence, start_in_thread and the env var."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests

from reconciler.emulator.server import EmulatorStartError, start_in_thread

from .helpers import DATASETS, Api, get_token

COOPERATIVE = {
    "echo": "full",
    "cancel": "immediate",
    "cancel_delay_seconds": 3.0,
    "cancel_ends": "CANCELLED",
    "catalog": "plain",
    "sandboxes": "lazy",
    "policy_echo": "sent",
    "estimate_settle_seconds": 2.0,
    "estimate_sample_ratio": 0.0,
}
DOCUMENTED = {
    **COOPERATIVE,
    "echo": "terse",
    "cancel": "marked",
    "catalog": "realistic",
    "sandboxes": "strict",
    "estimate_settle_seconds": 12.0,
}


def test_a_new_emulator_is_cooperative(api: Api) -> None:
    assert api.admin("GET", "/behaviour").json() == COOPERATIVE


def test_one_setting_changes_alone_and_names_no_profile(api: Api) -> None:
    api.admin("POST", "/profile", {"name": "documented"}).raise_for_status()
    answer = api.admin("POST", "/behaviour", {"echo": "full"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {**DOCUMENTED, "echo": "full"}
    assert api.admin("GET", "/behaviour").json() == {**DOCUMENTED, "echo": "full"}
    assert api.admin("GET", "/profile").json()["name"] is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"echo": "short"}, "behaviour.echo"),
        ({"cancel_ends": "CANCELED"}, "behaviour.cancel_ends"),
        ({"cancel_delay_seconds": -1}, "cancel_delay_seconds"),
        ({"cancel_delay_seconds": True}, "cancel_delay_seconds"),
        ({"clock": "ahead"}, "unknown key"),
        ({}, "expected a JSON object"),
    ],
)
def test_bad_behaviour_is_one_400_naming_the_key(api: Api, body: object, words: str) -> None:
    answer = api.admin("POST", "/behaviour", body)
    assert answer.status_code == 400
    assert words in answer.json()["detail"]
    assert api.admin("GET", "/behaviour").json() == COOPERATIVE


def test_the_documented_profile_sets_everything_and_clears_faults(api: Api) -> None:
    api.admin("POST", "/faults", {"endpoint": "*", "error_rate": 1.0}).raise_for_status()
    before = api.admin("GET", "/clock").json()["now_ms"]
    answer = api.admin("POST", "/profile", {"name": "documented"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "documented"
    assert answer.json()["behaviour"] == DOCUMENTED
    assert abs(answer.json()["clock_offset_seconds"] - 7200) <= 2
    assert api.admin("GET", "/faults").json()["endpoints"] == []
    # The clock was frozen by the fixture: it stays frozen, two hours ahead of the wall clock.
    clock = api.admin("GET", "/clock").json()
    assert clock["frozen"] is True
    assert abs(clock["now_ms"] - (time.time() * 1000 + 7_200_000)) < 5000
    assert clock["now_ms"] > before
    back = api.admin("POST", "/profile", {"name": "cooperative"}).json()
    assert back["behaviour"] == COOPERATIVE and abs(back["clock_offset_seconds"]) <= 2


def test_a_profile_takes_a_clock_offset(api: Api) -> None:
    answer = api.admin("POST", "/profile", {"name": "documented", "clock_offset_seconds": -600})
    assert abs(answer.json()["clock_offset_seconds"] + 600) <= 2


@pytest.mark.parametrize(
    "body", [{"name": "friendly"}, {"name": 1}, {}, {"name": "documented", "x": 1}]
)
def test_an_unknown_profile_is_a_400_and_changes_nothing(api: Api, body: object) -> None:
    assert api.admin("POST", "/profile", body).status_code == 400
    assert api.admin("GET", "/behaviour").json() == COOPERATIVE


def test_behaviour_is_persisted_with_the_data(tmp_path: Path) -> None:
    data = tmp_path / "platform"
    with start_in_thread(data) as first:
        requests.post(
            f"{first.base_url}/_emulator/behaviour", json={"cancel": "marked"}, timeout=10
        ).raise_for_status()
    with start_in_thread(data) as second:
        shown = requests.get(f"{second.base_url}/_emulator/behaviour", timeout=10).json()
    assert shown == {**COOPERATIVE, "cancel": "marked"}


def test_start_in_thread_applies_a_profile_once(tmp_path: Path) -> None:
    data = tmp_path / "platform"
    with start_in_thread(data, profile="documented") as first:
        base = first.base_url
        assert requests.get(f"{base}/_emulator/behaviour", timeout=10).json() == DOCUMENTED
        requests.post(f"{base}/_emulator/clock", json={"advance_seconds": -60}, timeout=10)
        moved = requests.get(f"{base}/_emulator/profile", timeout=10).json()
    # Restarting with the same profile keeps the settings and the clock as they were left.
    with start_in_thread(data, profile="documented") as second:
        again = requests.get(f"{second.base_url}/_emulator/profile", timeout=10).json()
    assert again["behaviour"] == DOCUMENTED
    assert abs(again["clock_offset_seconds"] - moved["clock_offset_seconds"]) <= 2
    with start_in_thread(data, profile="cooperative") as third:
        shown = requests.get(f"{third.base_url}/_emulator/profile", timeout=10).json()
    assert shown["behaviour"] == COOPERATIVE and abs(shown["clock_offset_seconds"]) <= 2


def test_the_env_var_names_the_profile_when_none_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_EMULATOR_PROFILE", "documented")
    with start_in_thread(tmp_path / "a") as running:
        assert requests.get(f"{running.base_url}/_emulator/behaviour", timeout=10).json() == (
            DOCUMENTED
        )
    with start_in_thread(tmp_path / "b", profile="cooperative") as running:  # the argument wins
        assert requests.get(f"{running.base_url}/_emulator/behaviour", timeout=10).json() == (
            COOPERATIVE
        )
    monkeypatch.setenv("RECONCILER_EMULATOR_PROFILE", "helpful")
    with pytest.raises(EmulatorStartError, match="RECONCILER_EMULATOR_PROFILE='helpful'"):
        start_in_thread(tmp_path / "c")


def test_sandboxes_are_seeded_and_added_idempotently(api: Api) -> None:
    assert api.admin("GET", "/sandboxes").json() == {"sandboxes": ["dev", "prod", "stage"]}
    for _ in range(2):
        answer = api.admin("POST", "/sandboxes", {"name": "qa-7"})
        assert answer.status_code == 201, answer.text
    assert api.admin("GET", "/sandboxes").json() == {"sandboxes": ["dev", "prod", "qa-7", "stage"]}
    for bad in ({"name": "Bad Name"}, {"name": 3}, {}, {"name": "x", "type": "dev"}):
        assert api.admin("POST", "/sandboxes", bad).status_code == 400


def test_strict_sandboxes_refuse_an_unknown_name_like_the_gateway(api: Api) -> None:
    elsewhere = api.in_sandbox("nowhere")
    assert elsewhere.get(DATASETS).status_code == 200  # lazy: any well-formed name answers
    api.admin("POST", "/behaviour", {"sandboxes": "strict"}).raise_for_status()
    refused = elsewhere.get(DATASETS)
    assert refused.status_code == 403
    assert refused.json() == {"error_code": "403025", "message": "Profile is not valid"}
    for known in ("prod", "dev", "stage"):
        assert api.in_sandbox(known).get(DATASETS).status_code == 200
    api.admin("POST", "/sandboxes", {"name": "nowhere"}).raise_for_status()
    assert elsewhere.get(DATASETS).status_code == 200


def test_every_answer_carries_the_platform_clock_in_its_date_header(api: Api) -> None:
    api.admin("POST", "/clock", {"set_ms": 1_600_000_000_000}).raise_for_status()
    for answer in (api.get(DATASETS), api.admin("GET", "/clock"), api.get("/nowhere")):
        dates = answer.raw.headers.getlist("date")
        assert len(dates) == 1, dates  # uvicorn's own Date header is off
        assert parsedate_to_datetime(dates[0]).timestamp() == 1_600_000_000


def _serve(port: int, data: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", str(port)]
    return subprocess.Popen(
        [*command, "--data", str(data), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_serve_on_a_busy_port_is_one_error_line_without_a_banner(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = _serve(busy.getsockname()[1], tmp_path / "served")
        _, err = server.communicate(timeout=30)
    assert server.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the local platform could not listen")


def test_serve_with_a_profile_stops_quietly_on_ctrl_c(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _serve(port, tmp_path / "served", "--profile", "documented")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                shown = requests.get(f"{base}/_emulator/behaviour", timeout=1).json()
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert shown == DOCUMENTED
        assert Api(base, get_token(base)).get(DATASETS).status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=15)
    assert server.returncode == 0, err
    text = err.decode()
    assert "Traceback" not in text and "error" not in text.lower()
    assert text.startswith("local platform: http://127.0.0.1:") and "documented" in text


def test_a_new_emulator_names_the_cooperative_profile(api: Api) -> None:
    shown = api.admin("GET", "/profile").json()
    assert shown["name"] == "cooperative" and shown["behaviour"] == COOPERATIVE
