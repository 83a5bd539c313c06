"""What every route shares: the store, the clock, faults, stats, and the org/sandbox scope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from reconciler.emulator import behaviour as behaviour_mod
from reconciler.emulator import config as config_mod
from reconciler.emulator import defaults
from reconciler.emulator.behaviour import Behaviour
from reconciler.emulator.clock import Clock
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.faults import Faults, Stats
from reconciler.emulator.store import Store

SANDBOX_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
ORG_ID = re.compile(r"^[0-9A-Za-z]{24}@AdobeOrg$")


@dataclass(frozen=True)
class Scope:
    """An org and sandbox: every platform object lives in exactly one."""

    org: str
    sandbox: str


class Emulator:
    """The state of one running emulator (two can live in one process)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.store = Store(data_dir)
        self.clock = Clock(self.store)
        self.faults = Faults()
        self.stats = Stats()
        self.files_dir = data_dir / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self._behaviour = behaviour_mod.load(self.store)

    @property
    def behaviour(self) -> Behaviour:
        """The current (persisted) behaviour settings."""
        return self._behaviour

    def set_behaviour(self, behaviour: Behaviour, *, profile: str | None = None) -> None:
        """Persist new behaviour settings; profile names the profile they came from, if any."""
        with self.store.tx():
            behaviour_mod.save(self.store, behaviour)
            self.store.set_meta("profile", profile or "custom")
        self._behaviour = behaviour

    @property
    def profile(self) -> str | None:
        """The profile last applied (a new emulator is cooperative), or None once a setting was
        changed on its own."""
        name = self.store.get_meta("profile")
        if name is None:
            return "cooperative" if self._behaviour == behaviour_mod.COOPERATIVE else None
        return name if name in behaviour_mod.PROFILES else None

    def apply_profile(self, name: str, clock_offset_seconds: float) -> None:
        """Set every behaviour of a profile, its clock offset, and clear the faults."""
        self.set_behaviour(behaviour_mod.profile(name), profile=name)
        self.clock.set_offset(clock_offset_seconds)
        self.faults.clear()

    @property
    def config(self) -> EmulatorConfig:
        """The current (persisted) configuration."""
        return config_mod.load(self.store)

    def set_config(self, config: EmulatorConfig) -> None:
        """Persist a new configuration."""
        config_mod.save(self.store, config)

    def sandboxes(self) -> list[str]:
        """Every sandbox name: the seeded ones and those added through /_emulator/sandboxes."""
        with self.store.tx() as db:
            added = [r["name"] for r in db.execute("SELECT name FROM sandboxes")]
        return sorted({*defaults.SANDBOXES, *added})

    def add_sandbox(self, name: str) -> None:
        """Create a sandbox (nothing happens when it exists)."""
        with self.store.tx() as db:
            db.execute("INSERT OR IGNORE INTO sandboxes (name) VALUES (?)", (name,))

    def sandbox_exists(self, name: str) -> bool:
        """Whether a sandbox of this name exists (under strict sandboxes, only those answer)."""
        if name in defaults.SANDBOXES:
            return True
        with self.store.tx() as db:
            row = db.execute("SELECT 1 FROM sandboxes WHERE name = ?", (name,)).fetchone()
        return row is not None

    def population(self, scope: Scope) -> tuple[int, int]:
        """(profiles, seed) of a scope's population, created lazily with the defaults."""
        with self.store.tx() as db:
            row = db.execute(
                "SELECT profiles, seed FROM scopes WHERE org = ? AND sandbox = ?",
                (scope.org, scope.sandbox),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO scopes (org, sandbox, profiles, seed) VALUES (?, ?, ?, ?)",
                    (scope.org, scope.sandbox, defaults.DEFAULT_PROFILES, defaults.DEFAULT_SEED),
                )
                return defaults.DEFAULT_PROFILES, defaults.DEFAULT_SEED
            return int(row["profiles"]), int(row["seed"])

    def set_population(self, scope: Scope, profiles: int, seed: int) -> None:
        """Replace a scope's population parameters."""
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO scopes (org, sandbox, profiles, seed) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (org, sandbox) DO UPDATE SET profiles = excluded.profiles, "
                "seed = excluded.seed",
                (scope.org, scope.sandbox, profiles, seed),
            )


def emulator_of(request: Request) -> Emulator:
    """The Emulator serving this request."""
    emu = request.app.state.emulator
    assert isinstance(emu, Emulator)
    return emu
