"""reconciler.yaml and the environment -> Settings, with located errors for a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import ConfigError, load_settings
from reconciler.spec.errors import SpecErrors
from spec.helpers import errors, make_project


def settings_errors(root: Path) -> list[str]:
    with pytest.raises(SpecErrors) as caught:
        load_settings(root, env={})
    return [str(e) for e in caught.value.errors]


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.project_dir == tmp_path.resolve()
    assert settings.platform == "local"
    assert settings.sandbox == "prod"
    assert settings.spec_paths == (tmp_path.resolve() / "specs",)
    assert settings.state_backend == "local"
    assert settings.state_path == tmp_path.resolve() / ".reconciler/state/prod.json"
    assert settings.config_file is None


def test_file_values_and_sandbox_precedence(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        {
            "reconciler.yaml": """\
            platform: adobe
            sandbox: dev
            specs: [resources, more/specs]
            state: {path: "state/{sandbox}/state.json"}
            """
        },
    )
    from_file = load_settings(tmp_path, env={})
    assert from_file.platform == "adobe"
    assert from_file.sandbox == "dev"
    assert from_file.spec_paths == (
        tmp_path.resolve() / "resources",
        tmp_path.resolve() / "more/specs",
    )
    assert from_file.state_path == tmp_path.resolve() / "state/dev/state.json"
    assert from_file.config_file == tmp_path.resolve() / "reconciler.yaml"
    assert load_settings(tmp_path, env={"AEP_SANDBOX": "stage"}).sandbox == "stage"
    flag = load_settings(tmp_path, sandbox="qa", env={"AEP_SANDBOX": "stage"})
    assert flag.sandbox == "qa"
    assert flag.state_path == tmp_path.resolve() / "state/qa/state.json"


def test_specs_may_be_one_string(tmp_path: Path) -> None:
    make_project(tmp_path, {"reconciler.yaml": "specs: resources\n"})
    assert load_settings(tmp_path).spec_paths == (tmp_path.resolve() / "resources",)


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    make_project(tmp_path, {"reconciler.yaml": "# nothing yet\n"})
    assert load_settings(tmp_path).sandbox == "prod"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "platform: aws\n",
            "reconciler.yaml:1:11: platform: the string 'aws' is not allowed; "
            "use one of: local, adobe",
        ),
        (
            "sandbox: prod\nsandbx: dev\n",
            "reconciler.yaml:2:1: sandbx: unknown key 'sandbx'; did you mean 'sandbox'?",
        ),
        (
            "sandbox: ../../etc\n",
            "reconciler.yaml:1:10: sandbox: '../../etc' is not a valid sandbox name; "
            "use lowercase letters, digits and '-'",
        ),
        (
            "specs: [specs, ../elsewhere]\n",
            "reconciler.yaml:1:16: specs[1]: '../elsewhere' is outside the project; "
            "list folders inside it",
        ),
        (
            "specs: []\n",
            "reconciler.yaml:1:8: specs: the list is empty; add an entry or remove the key",
        ),
        (
            "state:\n  backend: s3\n",
            "reconciler.yaml:2:12: state.backend: the string 's3' is not allowed; use one of: local, postgres",
        ),
        (
            "state:\n  path: 'state/{org}/{sandbox}.json'\n",
            "reconciler.yaml:2:9: state.path: 'state/{org}/{sandbox}.json' has an unknown "
            "placeholder; only {sandbox} is supported",
        ),
        (
            "- local\n",
            "reconciler.yaml:1:1: settings must be a mapping (platform, sandbox, specs, state)",
        ),
        (
            "platform: local\nplatform: adobe\n",
            "reconciler.yaml:2:1: platform: duplicate key 'platform' (first at line 1); keep one",
        ),
        (
            "platform: local\n---\nplatform: adobe\n",
            "reconciler.yaml:3:1: holds several documents; keep one",
        ),
    ],
)
def test_bad_settings_are_located(tmp_path: Path, text: str, expected: str) -> None:
    make_project(tmp_path, {"reconciler.yaml": text})
    assert settings_errors(tmp_path) == [expected]


@pytest.mark.parametrize(
    ("sandbox", "env", "source"),
    [("Prod!", {}, "--sandbox"), (None, {"AEP_SANDBOX": "../x"}, "AEP_SANDBOX")],
)
def test_bad_sandbox_from_flag_or_env(
    tmp_path: Path, sandbox: str | None, env: dict[str, str], source: str
) -> None:
    with pytest.raises(ConfigError, match=f"from {source} is not a valid sandbox name"):
        load_settings(tmp_path, sandbox=sandbox, env=env)


def test_missing_project_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; check -C"):
        load_settings(tmp_path / "nope")


def test_missing_spec_folder_points_at_the_settings(tmp_path: Path) -> None:
    make_project(
        tmp_path, {"reconciler.yaml": "specs:\n  - specs\n  - extra\n", "specs/a.yaml": ""}
    )
    assert errors(tmp_path) == [
        "reconciler.yaml:3:5: specs: 'extra' does not exist; create it or fix specs"
    ]


def test_missing_default_spec_folder(tmp_path: Path) -> None:
    assert errors(tmp_path) == [
        "reconciler.yaml:1:1: specs: 'specs' does not exist; create it or fix specs"
    ]


def test_settings_symlink_leaving_the_project(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("platform: adobe\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "reconciler.yaml").symlink_to(outside)
    assert settings_errors(project) == [
        f"reconciler.yaml:1:1: symlink to '{outside}' leaves the project; copy the file in"
    ]


def test_requests_per_second(tmp_path: Path) -> None:
    make_project(tmp_path, {"reconciler.yaml": "requestsPerSecond: 12.5\n"})
    assert load_settings(tmp_path, env={}).requests_per_second == 12.5
    make_project(tmp_path, {"reconciler.yaml": "platform: local\n"})
    assert load_settings(tmp_path, env={}).requests_per_second is None
    make_project(tmp_path, {"reconciler.yaml": "requestsPerSecond: 0\n"})
    (message,) = settings_errors(tmp_path)
    assert message.startswith("reconciler.yaml:1:20: requestsPerSecond:")


def test_state_backend_postgres(tmp_path: Path) -> None:
    make_project(tmp_path, {"reconciler.yaml": "state:\n  backend: postgres\n"})
    assert load_settings(tmp_path, env={}).state_backend == "postgres"


@pytest.mark.parametrize("key", ["url", "password", "dsn", "host"])
def test_a_connection_in_the_file_is_refused_without_echoing_it(tmp_path: Path, key: str) -> None:
    text = f"state:\n  backend: postgres\n  {key}: postgresql://u:s3cret@db/state\n"
    make_project(tmp_path, {"reconciler.yaml": text})
    (message,) = settings_errors(tmp_path)
    assert message.startswith(f"reconciler.yaml:2:3: state: '{key}' does not belong")
    assert "RECONCILER_STATE_URL" in message and "s3cret" not in message
