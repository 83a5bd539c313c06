"""Load every spec document of a project into validated models, or report every problem located."""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.config import Settings
from reconciler.spec.canonical import canonical_json
from reconciler.spec.errors import LocatedError, Location, SpecErrors
from reconciler.spec.models import KINDS, DatasetDoc, ExportJobDoc
from reconciler.spec.rules import dataset_rules, export_job_rules
from reconciler.spec.suggest import NameIndex, did_you_mean
from reconciler.spec.validation import format_path, located_errors
from reconciler.spec.yamlread import SourceDocument, load_file

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

    def add_file(self, path: Path) -> None:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            self.error(path, f"symlink to '{resolved}' leaves the project; copy the file in")
        elif not resolved.exists():
            self.error(path, "broken symlink; fix or remove it")
        else:
            self.files.setdefault(resolved, self.display(path))

    def add_dir(self, path: Path) -> None:
        resolved = path.resolve()
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
            if entry.is_dir():  # follows symlinks; add_dir checks where they lead
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


def _address(value: dict[str, Any]) -> str | None:
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


def _cross_checks(
    resources: list[tuple[Resource, SourceDocument]], declared: set[str]
) -> Iterator[LocatedError]:
    """Unique names per kind, unique dataset names, and dataset references that resolve."""
    first: dict[str, SourceDocument] = {}
    catalog_names: dict[str, tuple[str, SourceDocument]] = {}
    for resource, doc in resources:
        previous = first.setdefault(resource.address, doc)
        if previous is not doc:
            yield LocatedError(
                doc.location(("metadata", "name")),
                resource.address,
                "metadata.name",
                f"'{resource.address}' is already defined at {previous.location()}; "
                "rename one of them",
            )
        elif isinstance(resource, DatasetDoc):
            other = catalog_names.setdefault(resource.spec.name, (resource.address, doc))
            if other[1] is not doc:
                yield LocatedError(
                    doc.location(("spec", "name")),
                    resource.address,
                    "spec.name",
                    f"{other[0]} already uses the dataset name '{resource.spec.name}'; "
                    "give each Dataset its own name",
                )
    # `declared` also holds Datasets that failed validation: their own errors are enough.
    index = NameIndex(sorted(declared))
    for resource, doc in resources:
        if not isinstance(resource, ExportJobDoc):
            continue
        wanted = resource.spec.destination.dataset
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
            doc.location(("spec", "destination", "dataset")),
            resource.address,
            "spec.destination.dataset",
            f"no Dataset named '{wanted}'{hint}",
        )


def _digest(resources: list[Resource]) -> str:
    hasher = hashlib.sha256()
    for resource in sorted(resources, key=lambda r: r.address):
        dumped = resource.model_dump(mode="json", by_alias=True)
        hasher.update(canonical_json(dumped).encode("utf-8"))
        hasher.update(b"\n")
    return hasher.hexdigest()


def load_specs(settings: Settings) -> SpecSet:
    """Every document under the configured spec paths, checked; raises SpecErrors with all problems."""
    # Loading allocates millions of small objects and frees none: the cyclic collector would
    # rescan them again and again (half the time at 10,000 documents) for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(settings)
    finally:
        if enabled:
            gc.enable()


def _load(settings: Settings) -> SpecSet:
    files, errors = scan(settings)
    valid: list[tuple[Resource, SourceDocument]] = []
    declared: set[str] = set()
    for path, display in sorted(files.items(), key=lambda item: item[1]):
        documents, file_errors = load_file(path, display)
        errors.extend(file_errors)
        for doc in documents:
            if doc.value is None:
                continue  # an empty document (a stray `---`, or only comments)
            address = _address(doc.value) if isinstance(doc.value, dict) else None
            if address and address.startswith("dataset/"):
                declared.add(address.partition("/")[2])
            resource, doc_errors = _validate(doc)
            errors.extend(doc_errors)
            if resource is not None:
                valid.append((resource, doc))
    errors.extend(_cross_checks(valid, declared))
    if errors:
        raise SpecErrors(errors)
    return SpecSet(
        datasets={r.metadata.name: r for r, _ in valid if isinstance(r, DatasetDoc)},
        export_jobs={r.metadata.name: r for r, _ in valid if isinstance(r, ExportJobDoc)},
        locations={r.address: doc.location() for r, doc in valid},
        digest=_digest([r for r, _ in valid]),
        files=len(files),
    )
