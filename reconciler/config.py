"""Project settings: reconciler.yaml plus the environment and command line -> Settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from reconciler.errors import ReconcilerError
from reconciler.spec.errors import LocatedError, Location, SpecErrors, format_path
from reconciler.spec.validation import located_errors
from reconciler.spec.yamlread import SourceDocument, load_file

CONFIG_NAME = "reconciler.yaml"
DEFAULT_SANDBOX = "prod"
SANDBOX_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,126}[a-z0-9])?$"
_SANDBOX_RE = re.compile(SANDBOX_PATTERN)


class ConfigError(ReconcilerError):
    """Settings given on the command line or in the environment are unusable."""


class NoProject(ReconcilerError):
    """A command that needs a specs repository was run outside one."""

    def __init__(self, where: Path) -> None:
        super().__init__(
            f"no {CONFIG_NAME} in {where} or any folder above it: run reconciler from the specs "
            "repository, or pass -C DIR"
        )


def find_project(start: Path) -> Path | None:
    """The nearest folder from `start` up that holds reconciler.yaml (like git finds .git)."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return None


@dataclass(frozen=True)
class Settings:
    """Everything the commands need to know about the project, resolved and absolute."""

    project_dir: Path
    platform: Literal["local", "adobe"]
    sandbox: str
    spec_paths: tuple[Path, ...]
    state_backend: Literal["local", "postgres"]
    state_path: Path
    config_file: Path | None
    # Client-side cap on requests per second to the platform (None: no cap); rate limits are
    # per organisation and shared with everything else that calls the platform.
    requests_per_second: float | None = None
    # Where each spec path is written in reconciler.yaml, so a missing folder is located.
    spec_path_origins: Mapping[Path, Location] = field(default_factory=dict, compare=False)


def _sandbox_name(value: str) -> str:
    if not _SANDBOX_RE.match(value):
        raise ValueError(
            f"'{value}' is not a valid sandbox name; use lowercase letters, digits and '-'"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Keys that would put a connection (and so a password) in the file: refused with a pointer to
# the environment, where the connection of the postgres backend comes from.
_CONNECTION_KEYS = ("url", "dsn", "connection", "host", "password", "user", "database", "port")


def _no_connection_in_file(value: object) -> object:
    if isinstance(value, dict):
        found = [key for key in _CONNECTION_KEYS if key in value]
        if found:
            raise ValueError(
                f"'{found[0]}' does not belong in reconciler.yaml: the postgres backend's "
                "connection comes from the environment only (RECONCILER_STATE_URL or the PG* "
                "variables), so no password is ever in a file"
            )
    return value


class StateSettings(_Strict):
    backend: Literal["local", "postgres"] = "local"
    # local: the state file; postgres: unused (the state is keyed by the sandbox's name)
    path: Annotated[str, Field(min_length=1)] = ".reconciler/state/{sandbox}.json"


class SettingsFile(_Strict):
    """The schema of reconciler.yaml."""

    platform: Literal["local", "adobe"] = "local"
    sandbox: Annotated[str, AfterValidator(_sandbox_name)] | None = None
    # `specs: specs` (one folder) reads as `specs: [specs]`.
    specs: Annotated[
        list[Annotated[str, Field(min_length=1)]],
        Field(min_length=1),
        BeforeValidator(lambda v: [v] if isinstance(v, str) else v),
    ] = ["specs"]
    state: Annotated[StateSettings, BeforeValidator(_no_connection_in_file)] = Field(
        default_factory=StateSettings
    )
    requestsPerSecond: Annotated[float, Field(gt=0, le=1000)] | None = None


def _read_file(config: Path, display: Path) -> tuple[SettingsFile, SourceDocument | None]:
    documents, errors = load_file(config, display)
    if errors:
        raise SpecErrors(errors)
    if len(documents) > 1:
        where = documents[1].location()
        raise SpecErrors([LocatedError(where, None, "", "holds several documents; keep one")])
    if not documents or documents[0].value is None:
        return SettingsFile(), None
    doc = documents[0]
    if not isinstance(doc.value, dict):
        message = "settings must be a mapping (platform, sandbox, specs, state)"
        raise SpecErrors([LocatedError(doc.location(), None, "", message)])
    try:
        return SettingsFile.model_validate(doc.value), doc
    except ValidationError as exc:
        raise SpecErrors(located_errors(exc, SettingsFile, doc, None)) from None


def _check_sandbox(value: str, source: str) -> str:
    if not _SANDBOX_RE.match(value):
        raise ConfigError(
            f"sandbox '{value}' from {source} is not a valid sandbox name; "
            "use lowercase letters, digits and '-'"
        )
    return value


def load_settings(
    project_dir: Path, sandbox: str | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read reconciler.yaml (optional) and apply the precedence --sandbox > AEP_SANDBOX > file."""
    env = env if env is not None else {}
    root = project_dir.resolve()
    if not root.is_dir():
        raise ConfigError(f"project directory '{project_dir}' does not exist; check -C")
    config = root / CONFIG_NAME
    display = Path(CONFIG_NAME)
    doc: SourceDocument | None = None
    config_file: Path | None = None
    file_settings = SettingsFile()
    if config.exists() or config.is_symlink():
        try:
            target = config.resolve()
        except (OSError, RuntimeError):
            message = "symlink loop (it leads back to itself); fix or remove it"
            raise SpecErrors([LocatedError(Location(display, 1, 1), None, "", message)]) from None
        if not target.is_relative_to(root):
            message = f"symlink to '{target}' leaves the project; copy the file in"
            raise SpecErrors([LocatedError(Location(display, 1, 1), None, "", message)])
        file_settings, doc = _read_file(config, display)
        config_file = config

    def where(*path: str | int) -> Location:
        return doc.location(path) if doc is not None else Location(display, 1, 1)

    if sandbox:
        chosen = _check_sandbox(sandbox, "--sandbox")
    elif env.get("AEP_SANDBOX"):
        chosen = _check_sandbox(env["AEP_SANDBOX"], "AEP_SANDBOX")
    else:
        chosen = file_settings.sandbox or DEFAULT_SANDBOX

    errors: list[LocatedError] = []
    single = doc is not None and isinstance(doc.value.get("specs"), str)
    written = file_settings.specs
    spec_paths: list[Path] = []
    origins: dict[Path, Location] = {}
    for index, entry in enumerate(written):
        location = where("specs") if single else where("specs", index)
        absolute = root / entry
        try:
            inside = absolute.resolve().is_relative_to(root)
        except (OSError, RuntimeError):
            inside = True  # a symlink loop: load_specs reports it at the folder itself
        if not inside:
            message = f"'{entry}' is outside the project; list folders inside it"
            label = format_path(("specs",) if single else ("specs", index))
            errors.append(LocatedError(location, None, label, message))
            continue
        if absolute not in origins:
            spec_paths.append(absolute)
            origins[absolute] = location

    template = file_settings.state.path
    state_text = template.replace("{sandbox}", chosen)
    if "{" in state_text or "}" in state_text:
        message = f"'{template}' has an unknown placeholder; only {{sandbox}} is supported"
        errors.append(LocatedError(where("state", "path"), None, "state.path", message))
    if errors:
        raise SpecErrors(errors)
    return Settings(
        project_dir=root,
        platform=file_settings.platform,
        sandbox=chosen,
        spec_paths=tuple(spec_paths),
        state_backend=file_settings.state.backend,
        state_path=root / state_text,
        config_file=config_file,
        requests_per_second=file_settings.requestsPerSecond,
        spec_path_origins=origins,
    )
