"""Impact through the CLI on the example specs, against the emulator in both behaviour profiles:
plan shows each create's estimate; maxProfiles blocks plan and apply (saved plan too) unless
apply --allow-large; apply's fresh plan estimates only documents with maxProfiles; a slow
estimate is pending within --estimate-timeout."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from reconciler.emulator import defaults, population
from reconciler.emulator.server import RunningEmulator
from tests.engine.engine_harness import Project, emulator_with_short_jobs, make_project

pytestmark = pytest.mark.estimates

NEWSLETTER = "exportjob/newsletter-audience"
DAILY = "exportjob/daily-emails"


@pytest.fixture(scope="module", params=["cooperative", "documented"])
def emulator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEmulator]:
    emu = emulator_with_short_jobs(tmp_path_factory.mktemp("emu"), profile=request.param)
    with emu:
        yield emu


@pytest.fixture
def project(tmp_path: Path, emulator: RunningEmulator) -> Project:
    behaviour(emulator, estimate_settle_seconds=0.2)
    return make_project(tmp_path / "repo", emulator.base_url)


def behaviour(emulator: RunningEmulator, **changes: float) -> None:
    url = f"{emulator.base_url}/_emulator/behaviour"
    requests.post(url, json=changes, timeout=10).raise_for_status()


def previews_since(emulator: RunningEmulator, reset: bool = False) -> dict[str, int]:
    url = f"{emulator.base_url}/_emulator/stats"
    if reset:
        requests.delete(url, timeout=10).raise_for_status()
        return {}
    routes = requests.get(url, timeout=10).json()["routes"]
    return {r: int(n) for r, n in routes.items() if "preview" in r or "estimate" in r}


def newsletter_members() -> int:
    segment = str(defaults.SEGMENTS[0]["id"])
    return sum(
        1
        for p in population.generate(defaults.DEFAULT_PROFILES, 0)
        if p.memberships.get(segment, ("", 0))[0] in ("realized", "existing")
    )


def cap_newsletter(project: Project, limit: int) -> None:
    path = project.root / "specs" / "exports" / "audiences.yaml"
    path.write_text(path.read_text(encoding="utf-8") + f"  maxProfiles: {limit}\n", "utf-8")


def actions(plan_json: str) -> dict[str, dict[str, object]]:
    return {a["address"]: a for a in json.loads(plan_json)["actions"]}


def test_plan_shows_the_impact_of_each_create(project: Project) -> None:
    text = project.run("plan")
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    under = {
        lines[i - 1].split()[1]: line.strip() for i, line in enumerate(lines) if "impact:" in line
    }
    assert under == {
        DAILY: f"impact: {defaults.DEFAULT_PROFILES:,} profiles (the whole store)",
        NEWSLETTER: f"impact: {newsletter_members():,} profiles",
    }
    planned = actions(project.run("plan", "--format", "json").out)
    impact = planned[NEWSLETTER]["impact"]
    assert isinstance(impact, dict) and impact["state"] == "ready"
    assert impact["profiles"] == newsletter_members() and impact["basis"] == "segments"
    assert planned["dataset/crm-profiles"]["impact"] is None
    markdown = project.run("plan", "--format", "markdown").out
    assert "**Impact**" in markdown and f"`{NEWSLETTER}` | create |" in markdown


def test_max_profiles_blocks_until_allowed_and_a_saved_plan_keeps_the_block(
    project: Project,
) -> None:
    cap_newsletter(project, 1)
    saved_path = project.root / "capped.json"
    plan = project.run("plan", "--detailed-exitcode", "--out", str(saved_path))
    assert plan.code == 2, plan.err
    assert (
        f"blocked: the create is held back: its estimate is ~{newsletter_members():,}" in plan.out
    )
    assert f"apply --allow-large {NEWSLETTER} to allow it" in plan.out
    saved = json.loads(saved_path.read_text(encoding="utf-8"))
    assert NEWSLETTER not in {a["address"] for a in saved["actions"]}
    assert [f["finding"] for f in saved["findings"] if f["address"] == NEWSLETTER] == ["blocked"]

    applied = project.run("apply", str(saved_path))
    assert applied.code == 1 and NEWSLETTER in applied.err and "held back" in applied.err
    assert NEWSLETTER not in project.state().resources
    assert DAILY in project.state().resources  # the rest was carried out

    allowed = project.run("apply", "--auto-approve", "--allow-large", NEWSLETTER)
    assert allowed.code == 0, allowed.err
    assert "over maxProfiles 1, allowed by --allow-large" in allowed.out
    assert NEWSLETTER in project.state().resources


def test_apply_estimates_only_documents_with_max_profiles(
    project: Project, emulator: RunningEmulator
) -> None:
    previews_since(emulator, reset=True)
    assert project.run("apply", "--auto-approve").code == 0
    assert previews_since(emulator) == {}  # no maxProfiles anywhere: apply asks nothing
    cap_newsletter(project, 10_000)
    path = project.root / "specs" / "exports" / "audiences.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("fields: [identities.id, personalEmail.address]", "fields: [identities.id]"),
        "utf-8",
    )
    previews_since(emulator, reset=True)
    result = project.run("apply", "--auto-approve")
    assert result.code == 0, result.err
    assert "within maxProfiles 10,000" in result.out
    assert previews_since(emulator).get("POST /data/core/ups/preview") == 1
    assert not any("previewsamplestatus" in r for r in previews_since(emulator))


def test_a_slow_estimate_is_pending_within_the_timeout(
    project: Project, emulator: RunningEmulator
) -> None:
    behaviour(emulator, estimate_settle_seconds=120)
    cap_newsletter(project, 1)
    started = time.monotonic()
    plan = project.run("plan", "--estimate-timeout", "1s")
    elapsed = time.monotonic() - started
    assert plan.code == 0, plan.err
    assert (
        "impact: estimate pending (not settled within 1 s), maxProfiles 1 not checked" in plan.out
    )
    assert "blocked" not in plan.out  # pending never blocks
    assert elapsed < 6, elapsed


def test_no_estimate_sends_nothing(project: Project, emulator: RunningEmulator) -> None:
    previews_since(emulator, reset=True)
    plan = project.run("plan", "--no-estimate", "--format", "json")
    assert plan.code == 0, plan.err
    assert {a["impact"]["state"] for a in actions(plan.out).values() if a["impact"]} == {"skipped"}
    assert previews_since(emulator) == {}
