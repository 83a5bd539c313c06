"""Fixtures for end-to-end engine tests: one emulator per module, one sandbox per test.

A module that sets `BOTH_PROFILES = True` runs each of its tests against the emulator in both
behaviour profiles, `cooperative` and `documented` (terse echo, marked cancels, realistic
catalog, strict sandboxes, the platform clock 2 h ahead); the others use `cooperative`.

The modules in `POSTGRES_MODULES` also run each test on the PostgreSQL state backend (issue 16),
under their least kind profile only (the backend does not see the profile): a fresh schema of
the shared test server per test, chosen with RECONCILER_STATE_BACKEND, and the module's
`StateStore` / `write_atomic` aimed at that state (engine_harness.store_at / write_state_text).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from engine_harness import (
    Project,
    emulator_with_short_jobs,
    make_project,
    store_at,
    write_state_text,
)
from pg_server import Unavailable, fresh_schema_env, shared_server

from reconciler.emulator.server import RunningEmulator
from reconciler.engine.workflow import SETTLE_ENV
from reconciler.state import State, StateStore, StateWriter
from reconciler.state.backends import BACKEND_VARIABLE

PROFILES = ("cooperative", "documented")

# What a state backend can get wrong, end to end: convergence after any events, applies killed
# at random points, the lock between two applies, saved plans, import and history (lifecycle),
# provenance. The state suites (tests/state) cover the backends themselves.
POSTGRES_MODULES = frozenset(
    {
        "test_engine_convergence",
        "test_engine_crash",
        "test_engine_history",
        "test_engine_concurrency",
        "test_engine_lifecycle",
        "test_engine_provenance",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`BOTH_PROFILES = True` or `EMULATOR_PROFILES = (...)` in a module picks its profiles;
    a module of POSTGRES_MODULES adds a run on PostgreSQL under the last of them."""
    names = metafunc.fixturenames
    postgres = metafunc.module.__name__ in POSTGRES_MODULES and "state_backend" in names
    chosen = getattr(metafunc.module, "EMULATOR_PROFILES", None)
    if chosen is None and getattr(metafunc.module, "BOTH_PROFILES", False):
        chosen = PROFILES
    if "emulator_profile" in names and chosen:
        if not postgres:
            metafunc.parametrize("emulator_profile", chosen, scope="module", indirect=True)
            return
        combos = [(p, "local") for p in chosen] + [(chosen[-1], "postgres")]
        metafunc.parametrize(
            ("emulator_profile", "state_backend"),
            combos,
            scope="module",
            indirect=True,
            ids=[p if b == "local" else f"{p}-postgres" for p, b in combos],
        )
    elif postgres:
        metafunc.parametrize("state_backend", ("local", "postgres"), scope="module", indirect=True)


@pytest.fixture(scope="module")
def state_backend(request: pytest.FixtureRequest) -> str:
    """The state backend of this module's tests (local unless parametrized)."""
    return str(getattr(request, "param", "local"))


@pytest.fixture(autouse=True)
def state_backend_env(
    state_backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[None]:
    """On PostgreSQL: a fresh schema, the CLI pointed at it, the module's state helpers too;
    afterwards no state file may exist (everything went to the server, not a false pass)."""
    if state_backend != "postgres":
        monkeypatch.delenv(BACKEND_VARIABLE, raising=False)
        yield
        return
    from reconciler.state.postgres import init_schema, pg_target

    try:
        env = fresh_schema_env(shared_server())
    except Unavailable as exc:
        pytest.skip(str(exc))
    init_schema(pg_target(env))
    for name, value in {**env, BACKEND_VARIABLE: "postgres"}.items():
        monkeypatch.setenv(name, value)
    module = request.module
    if getattr(module, "StateStore", None) is StateStore:
        monkeypatch.setattr(module, "StateStore", store_at)
    if hasattr(module, "write_atomic"):
        monkeypatch.setattr(module, "write_atomic", write_state_text)
    yield
    leaked = sorted(str(p) for p in tmp_path.rglob(".reconciler/state/*.json"))
    assert not leaked, f"a state file was written on the postgres backend: {leaked}"


@pytest.fixture(scope="module")
def emulator_profile(request: pytest.FixtureRequest) -> str:
    """The emulator's behaviour profile for this module's tests (cooperative unless parametrized)."""
    return str(getattr(request, "param", "cooperative"))


@pytest.fixture(scope="module")
def emulator(
    tmp_path_factory: pytest.TempPathFactory, emulator_profile: str
) -> Iterator[RunningEmulator]:
    """An emulator with short job timings in the module's profile, shared by its tests."""
    emu = emulator_with_short_jobs(tmp_path_factory.mktemp("emulator"), profile=emulator_profile)
    with emu:
        yield emu


@pytest.fixture(autouse=True)
def short_settle_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lost create shows up at once in the emulator: a 1 s settle window keeps tests fast."""
    monkeypatch.setenv(SETTLE_ENV, "1")


@pytest.fixture
def project(tmp_path: Path, emulator: RunningEmulator) -> Project:
    """A fresh specs repository (the example specs) in its own sandbox."""
    return make_project(tmp_path / "repo", emulator.base_url)


@pytest.fixture(autouse=True)
def journal_writes_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every state write of an in-process command must read back from disk exactly as written."""
    # A write that names too few changed addresses leaves the journal short of the state: the
    # command fails at that write, and so does its test.
    write = StateWriter.write

    def checked(self: StateWriter, state: State, changed: Iterable[str] | None = None) -> State:
        written = write(self, state, changed)
        on_disk = StateStore(self.path).read()
        # compared as JSON: the file keeps timestamps to the millisecond
        assert on_disk.to_json() == written.to_json(), f"a write naming {changed} is not on disk"
        return written

    monkeypatch.setattr(StateWriter, "write", checked)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a module with `SLOW_ONLY_WITH_M_SLOW = True`, `@pytest.mark.slow` runs need `-m slow`."""
    if "slow" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="a long run: select it with -m slow")
    for item in items:
        module = getattr(item, "module", None)
        if "slow" in item.keywords and getattr(module, "SLOW_ONLY_WITH_M_SLOW", False):
            item.add_marker(skip)
