"""`requestsPerSecond` in reconciler.yaml keeps the tool under a platform rate limit."""

from __future__ import annotations

from engine_harness import Project

from reconciler.emulator.server import RunningEmulator


def test_client_side_limit_avoids_the_platforms_429s(
    project: Project, emulator: RunningEmulator
) -> None:
    import requests

    faults = f"{emulator.base_url}/_emulator/faults"
    requests.post(faults, json={"endpoint": "*", "rate_limit_per_second": 4}, timeout=10)
    try:
        config = project.root / "reconciler.yaml"
        config.write_text(config.read_text(encoding="utf-8") + "requestsPerSecond: 3\n")
        result = project.run("-v", "apply", "--auto-approve")
        assert result.code == 0, result.err
        lines = [
            line for line in result.err.splitlines() if line.startswith(("http: GET", "http: POST"))
        ]
        assert len(lines) >= 6  # token, listings, 2 dataset and 2 job creates at least
        assert not [line for line in lines if " 429 " in line]
        assert "retry" not in result.err

        # Without the cap the same platform limit is hit and the client has to wait it out.
        config.write_text(config.read_text(encoding="utf-8").replace("requestsPerSecond: 3\n", ""))
        project.write("specs/exports/more.yaml", _more_jobs(6))
        burst = project.run("-v", "apply", "--auto-approve")
        assert burst.code == 0, burst.err
        assert " 429 " in burst.err
    finally:
        requests.delete(faults, timeout=10)


def _more_jobs(count: int) -> str:
    return "---\n".join(
        "apiVersion: reconciler/v1\nkind: ExportJob\n"
        f"metadata: {{name: more-{n}}}\n"
        "spec:\n  fields: identities.id\n  destination: {dataset: crm-profiles}\n"
        "  schema: {name: _xdm.context.profile}\n"
        for n in range(count)
    )
