"""Load every spec document of a project into validated models, or report every problem located."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.config import Settings
from reconciler.gcpause import gc_paused
from reconciler.spec.canonical import canonical_json
from reconciler.spec.errors import LocatedError, Location, SpecErrors, format_path
from reconciler.spec.models import KINDS, PROFILE_UNION_SCHEMA, DatasetDoc, ExportJobDoc
from reconciler.spec.rules import dataset_rules, export_job_rules
from reconciler.spec.suggest import NameIndex, did_you_mean
from reconciler.spec.validation import located_errors
from reconciler.spec.yamlread import Path_, SourceDocument, load_file

__all__ = ["LocatedError", "Location", "SpecErrors", "SpecSet", "load_specs", "scan"]

SUFFIXES = (".yaml", ".yml")
Resource = DatasetDoc | ExportJobDoc


@dataclass(frozen=True)
class SpecSet:
    """Every valid document of the project, by name per kind, with where each is written."""

    datasets: Mapping[str, DatasetDoc]
    export_jobs: Mapping[str, ExportJobDoc]
    locations: Mapping[str, Location]
    digest: str
    files: int = 0

    def by_address(self, address: str) -> DatasetDoc | ExportJobDoc | None:
        """The document at `dataset/<name>` or `exportjob/<name>`, if any."""
        kind, _, name = address.partition("/")
        if kind == "dataset":
            return self.datasets.get(name)
        if kind == "exportjob":
            return self.export_jobs.get(name)
        return None

    def __len__(self) -> int:
        return len(self.datasets) + len(self.export_jobs)


@dataclass
class _Walk:
    root: Path
    errors: list[LocatedError]
    files: dict[Path, Path]  # resolved -> display (relative to the project)
    visited: set[Path]

    def display(self, path: Path) -> Path:
        return Path(os.path.relpath(path, self.root))

    def error(self, path: Path, message: str) -> None:
        self.errors.append(LocatedError(Location(self.display(path), 1, 1), None, "", message))

    def resolve(self, path: Path) -> Path | None:
        try:
            return path.resolve()
        except (OSError, RuntimeError):  # a symlink loop
            self.error(path, "symlink loop (it leads back to itself); fix or remove it")
            return None

    def add_file(self, path: Path) -> None:
        resolved = self.resolve(path)
        if resolved is None:
            return
        if not resolved.is_relative_to(self.root):
            self.error(path, f"symlink to '{resolved}' leaves the project; copy the file in")
        elif not resolved.exists():
            self.error(path, "broken symlink; fix or remove it")
        else:
            self.files.setdefault(resolved, self.display(path))

    def add_dir(self, path: Path) -> None:
        resolved = self.resolve(path)
        if resolved is None:
            return
        if not resolved.is_relative_to(self.root):
            self.error(path, f"symlink to '{resolved}' leaves the project; copy the folder in")
            return
        if resolved in self.visited:  # a symlink loop, or a folder listed twice
            return
        self.visited.add(resolved)
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as exc:
            self.error(path, f"cannot list the folder ({exc.strerror})")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = Path(entry.path)
            try:
                is_dir = entry.is_dir()  # follows symlinks; add_dir checks where they lead
            except OSError:
                is_dir = False  # unreadable: as a file, it gets its own error if it is a spec
            if is_dir:
                self.add_dir(child)
            elif entry.name.endswith(SUFFIXES):
                self.add_file(child)


def scan(settings: Settings) -> tuple[dict[Path, Path], list[LocatedError]]:
    """The spec files under the configured paths (resolved -> display path), and path problems."""
    walk = _Walk(settings.project_dir, [], {}, set())
    for path in settings.spec_paths:
        if path.is_dir():
            walk.add_dir(path)
        elif path.is_file() or path.is_symlink():
            walk.add_file(path)
        else:
            where = settings.spec_path_origins.get(path, Location(Path("reconciler.yaml"), 1, 1))
            message = f"'{walk.display(path).as_posix()}' does not exist; create it or fix specs"
            walk.errors.append(LocatedError(where, None, "specs", message))
    return walk.files, walk.errors


def _address(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind, metadata = value.get("kind"), value.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if kind in KINDS and isinstance(name, str):
        return f"{str(kind).lower()}/{name}"
    return None


def _validate(doc: SourceDocument) -> tuple[Resource | None, list[LocatedError]]:
    value = doc.value
    if not isinstance(value, dict):
        message = (
            "a document must be a mapping with apiVersion, kind, metadata and spec, "
            f"not {'a list' if isinstance(value, list) else 'a single value'}"
        )
        return None, [LocatedError(doc.location(), None, "", message)]
    address = _address(value)
    kind = value.get("kind")
    model: type[DatasetDoc] | type[ExportJobDoc]
    if kind == "Dataset":
        model = DatasetDoc
    elif kind == "ExportJob":
        model = ExportJobDoc
    elif kind is None:
        message = "missing required key 'kind'; add kind: Dataset or kind: ExportJob"
        return None, [LocatedError(doc.location(), None, "kind", message)]
    else:
        hint = did_you_mean(str(kind), KINDS) or "; use Dataset or ExportJob"
        message = f"unknown kind '{kind}'{hint}"
        return None, [LocatedError(doc.location(("kind",)), None, "kind", message)]
    try:
        resource: Resource = model.model_validate(value)
    except ValidationError as exc:
        return None, located_errors(exc, model, doc, address)
    findings = (
        dataset_rules(resource) if isinstance(resource, DatasetDoc) else export_job_rules(resource)
    )
    errors = [
        LocatedError(doc.location(path), address, format_path(path), message)
        for path, message in findings
    ]
    return (None if errors else resource), errors


# The only places cross-document errors point at; kept so node trees can be dropped early.
_CROSS_PATHS: tuple[Path_, ...] = (
    (),
    ("metadata", "name"),
    ("spec", "name"),
    ("spec", "destination", "dataset"),
)


@dataclass(frozen=True)
class _Placed:
    """A valid resource and where its cross-checked parts are written."""

    resource: Resource
    where: dict[Path_, Location]
    digest: bytes  # sha256 of the document's canonical form, taken while it is at hand

    @classmethod
    def of(cls, resource: Resource, doc: SourceDocument) -> _Placed:
        where = {path: doc.location(path) for path in _CROSS_PATHS}
        dumped = canonical_json(resource.model_dump(mode="json", by_alias=True))
        return cls(resource, where, hashlib.sha256(dumped.encode("utf-8")).digest())


def _cross_checks(resources: list[_Placed], declared: set[str]) -> Iterator[LocatedError]:
    """Unique names per kind, unique dataset names, and dataset references that resolve."""
    first: dict[str, _Placed] = {}
    catalog_names: dict[str, _Placed] = {}
    for placed in resources:
        resource = placed.resource
        previous = first.setdefault(resource.address, placed)
        if previous is not placed:
            yield LocatedError(
                placed.where[("metadata", "name")],
                resource.address,
                "metadata.name",
                f"'{resource.address}' is already defined at {previous.where[()]}; "
                "rename one of them",
            )
        elif isinstance(resource, DatasetDoc):
            other = catalog_names.setdefault(resource.spec.name, placed)
            if other is not placed:
                yield LocatedError(
                    placed.where[("spec", "name")],
                    resource.address,
                    "spec.name",
                    f"{other.resource.address} already uses the dataset name "
                    f"'{resource.spec.name}'; give each Dataset its own name",
                )
    # `declared` also holds Datasets that failed validation: their own errors are enough.
    index = NameIndex(sorted(declared))
    schemas = {
        p.resource.metadata.name: p.resource.spec.schemaRef.id
        for p in resources
        if isinstance(p.resource, DatasetDoc)
    }
    for placed in resources:
        resource = placed.resource
        if not isinstance(resource, ExportJobDoc):
            continue
        wanted = resource.spec.destination.dataset
        schema = schemas.get(wanted) if wanted is not None else None
        if schema is not None and schema != PROFILE_UNION_SCHEMA:
            yield LocatedError(
                placed.where[("spec", "destination", "dataset")],
                resource.address,
                "spec.destination.dataset",
                f"Dataset '{wanted}' is based on {schema}; an export job writes only into a "
                f"dataset of the {PROFILE_UNION_SCHEMA} schema: export into another Dataset, "
                "or drop its schemaRef (the default is that schema)",
            )
            continue
        if wanted is None or wanted in declared:
            continue
        match = index.suggest(wanted)
        hint = (
            f"; did you mean '{match}'?"
            if match
            else (
                "; add a Dataset document with that name, or use datasetId for a dataset "
                "this repository does not manage"
            )
        )
        yield LocatedError(
            placed.where[("spec", "destination", "dataset")],
            resource.address,
            "spec.destination.dataset",
            f"no Dataset named '{wanted}'{hint}",
        )


def _digest(placed: list[_Placed]) -> str:
    """sha256 over the documents' own digests in address order: any document change shows."""
    hasher = hashlib.sha256()
    for item in sorted(placed, key=lambda p: p.resource.address):
        hasher.update(item.digest)
    return hasher.hexdigest()


def load_specs(settings: Settings) -> SpecSet:
    """Every document under the configured spec paths, checked; raises SpecErrors with all problems."""
    # Loading allocates millions of small objects and frees none: the cyclic collector would
    # rescan them again and again (half the time at 10,000 documents) for nothing.
    with gc_paused():
        return _load(settings)


def _load(settings: Settings) -> SpecSet:
    files, errors = scan(settings)
    valid: list[_Placed] = []
    declared: set[str] = set()
    for path, display in sorted(files.items(), key=lambda item: item[1]):
        documents, file_errors = load_file(path, display, _address)
        errors.extend(file_errors)
        for doc in documents:
            if doc.value is None:
                continue  # an empty document (a stray `---`, or only comments)
            address = _address(doc.value)
            if address and address.startswith("dataset/"):
                declared.add(address.partition("/")[2])
            resource, doc_errors = _validate(doc)
            errors.extend(doc_errors)
            if resource is not None:
                valid.append(_Placed.of(resource, doc))
    errors.extend(_cross_checks(valid, declared))
    if errors:
        raise SpecErrors(errors)
    resources = [p.resource for p in valid]
    return SpecSet(
        datasets={r.metadata.name: r for r in resources if isinstance(r, DatasetDoc)},
        export_jobs={r.metadata.name: r for r in resources if isinstance(r, ExportJobDoc)},
        locations={p.resource.address: p.where[()] for p in valid},
        digest=_digest(valid),
        files=len(files),
    )
