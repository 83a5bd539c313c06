"""`reconciler -v` against the platform: request lines and a count, and no secret, even failing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from platform_helpers import Admin

from reconciler.emulator import defaults
from reconciler.emulator.server import RunningEmulator

SECRET = "p8e-CLI-known-secret-51c0ffee"
WRONG_SECRET = "p8e-CLI-wrong-secret-0ddba11"
CLIENT_ID = "cli-leak-test"
TOKEN_SHAPE = re.compile(r"emu-[A-Za-z0-9_-]{20,}")  # how the emulator's tokens look

SPEC = """\
apiVersion: reconciler/v1
kind: Dataset
metadata: {name: crm-profiles}
spec: {name: CRM profile export}
"""


def run_cli(
    project: Path, base_url: str, *args: str, secret: str = SECRET
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AEP_CLIENT_ID": CLIENT_ID,
        "AEP_CLIENT_SECRET": secret,
        "AEP_ORG_ID": defaults.ORG_ID,
        "AEP_SCOPES": ",".join(defaults.SCOPES),
        "AEP_ENDPOINT": base_url,
        "AEP_IMS_ENDPOINT": base_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "-v", "-C", str(project), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_verbose_run_logs_requests_and_never_a_secret(
    emulator: RunningEmulator, admin: Admin, tmp_path: Path
) -> None:
    admin.call(
        "POST",
        "credentials",
        {"client_id": CLIENT_ID, "client_secret": SECRET, "org_id": defaults.ORG_ID},
    )
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    (project / "reconciler.yaml").write_text("platform: adobe\nsandbox: prod\n")
    (project / "specs" / "datasets.yaml").write_text(SPEC)

    ok = run_cli(project, emulator.base_url, "plan")
    assert ok.returncode in (0, 2), ok.stderr
    assert re.search(r"^http: POST /ims/token/v3 200 \d+ms$", ok.stderr, re.M), ok.stderr
    assert re.search(r"^http: GET /data/\S+ 200 \d+ms$", ok.stderr, re.M)
    assert re.search(r"^http: \d+ requests$", ok.stderr, re.M)

    # A failing run: IMS refuses the secret sent (a 500 would now be retried for a minute).
    failed = run_cli(project, emulator.base_url, "plan", secret=WRONG_SECRET)
    assert failed.returncode == 1
    assert "error: POST /ims/token/v3 failed: HTTP 401" in failed.stderr
    assert "Traceback" in failed.stderr  # -v shows it; the secret must not be in it either

    for result in (ok, failed):
        for text in (result.stdout, result.stderr):
            assert SECRET not in text
            assert WRONG_SECRET not in text
            assert not TOKEN_SHAPE.search(text)
            assert "Bearer" not in text
