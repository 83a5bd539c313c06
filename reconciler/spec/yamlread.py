"""Hardened YAML reading: plain values only, every node located, hostile input refused.

PyYAML accepts duplicate keys silently, constructs objects from tags and expands aliases without
limit. Here the file is only *composed* into nodes (libyaml when available, which is fast and
builds no objects); values are then built by hand from the nodes, which is where duplicate keys,
unknown tags, alias bombs and runaway nesting are refused with a located error.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from reconciler.spec.errors import LocatedError, Location, format_path

MAX_FILE_BYTES = 1024 * 1024
MAX_ALIAS_NODES = 10_000  # nodes produced by alias expansion, per file
MAX_DEPTH = 64
SAFE_NATIVE_DEPTH = 2_000
_TOO_DEEP = (
    f"nesting is deeper than {MAX_DEPTH} levels (or an alias refers to itself); "
    "flatten the document"
)
_UNDEFINED_ALIAS = "invalid YAML: an alias (*name) is used before its anchor (&name) is defined"

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_MAP, _SEQ, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"
_STR, _TIMESTAMP = _TAG + "str", _TAG + "timestamp"
_SCALARS = {
    _TAG + "null": SafeConstructor.construct_yaml_null,
    _TAG + "bool": SafeConstructor.construct_yaml_bool,
    _TAG + "int": SafeConstructor.construct_yaml_int,
    _TAG + "float": SafeConstructor.construct_yaml_float,
}
_CONSTRUCTOR = SafeConstructor()

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class SourceDocument:
    """One YAML document: its plain value and its node tree (kept to locate errors later)."""

    file: Path
    node: yaml.Node
    value: Any

    def location(self, path: Path_ = (), *, key: bool = False) -> Location:
        """Where `path` is written (its key with `key=True`), or its nearest written parent."""
        return mark_location(self.file, locate(self.node, path, key=key))


class FileProblem(Exception):
    """A file cannot be read at all; carries the one located error."""

    def __init__(self, error: LocatedError) -> None:
        super().__init__(str(error))
        self.error = error


def mark_location(file: Path, mark: Any) -> Location:
    """A PyYAML mark (0-based) -> Location (1-based)."""
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, int(mark.line) + 1, int(mark.column) + 1)


def _problem(file: Path, message: str, line: int = 1, column: int = 1) -> FileProblem:
    return FileProblem(LocatedError(Location(file, line, column), None, "", message))


def read_text(path: Path, display: Path, *, limit: int = MAX_FILE_BYTES) -> str:
    """Read a spec file as UTF-8 text, refusing non-regular, oversized, binary and non-UTF-8 files."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _problem(display, f"cannot read the file ({exc.strerror}); check it exists") from exc
    if not stat.S_ISREG(info.st_mode):
        raise _problem(display, "not a regular file; specs must be plain YAML files")
    if info.st_size > limit:
        raise _problem(
            display,
            f"file is {info.st_size} bytes, over the {limit}-byte limit; split it into several files",
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)  # the file may grow after stat: never read more
    except OSError as exc:
        raise _problem(display, f"cannot read the file ({exc.strerror})") from exc
    if len(data) > limit:
        raise _problem(display, f"file is over the {limit}-byte limit; split it into several files")
    if b"\x00" in data:
        raise _problem(
            display, "binary file (it contains NUL bytes); specs must be UTF-8 YAML text"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise _problem(
            display,
            f"not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            line,
            column,
        ) from exc


_TAB = (
    "invalid YAML: a tab character here; YAML indents with spaces only: replace the tab with spaces"
)


def _tab_column(text: str, mark: Any) -> int | None:
    """The 1-based column of a tab in the error's line up to the error (the usual cause), if any."""
    if mark is None:
        return None
    lines = text.splitlines()
    if not 0 <= mark.line < len(lines):
        return None
    upto = lines[mark.line][: mark.column + 1]
    index = upto.find("\t")
    return None if index < 0 else index + 1


def _yaml_error(display: Path, exc: yaml.YAMLError, text: str) -> FileProblem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        loc = mark_location(display, mark)
        if "undefined alias" in what:
            return _problem(display, _UNDEFINED_ALIAS, loc.line, loc.column)
        tab = _tab_column(text, mark)
        if tab is not None:
            return _problem(display, _TAB, loc.line, tab)
        return _problem(display, f"invalid YAML: {what}", loc.line, loc.column)
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        before = text[:position]
        line = before.count("\n") + 1
        column = position - (before.rfind("\n") + 1) + 1
        reason = getattr(exc, "reason", "unreadable character")
        return _problem(display, f"invalid YAML: {reason}", line, column)
    return _problem(display, f"invalid YAML: {exc}")


def _compose(loader: Any, display: Path) -> yaml.Node | None:
    """One document's node tree, composed iteratively from parser events.

    libyaml's own composer recurses in C and crashes the interpreter on deeply nested input
    (`[[[[...`), so nesting is composed here with an explicit stack and a depth limit.
    """
    anchors: dict[str, yaml.Node] = {}
    stack: list[yaml.Node] = []
    pending_keys: list[yaml.Node | None] = []
    root: yaml.Node | None = None
    while True:
        event = loader.get_event()
        if isinstance(event, yaml.DocumentEndEvent):
            return root
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            stack.pop().end_mark = event.end_mark
            pending_keys.pop()
            continue
        node: yaml.Node
        start: Any = event.start_mark  # libyaml's own Mark type; the stubs know only PyYAML's
        end: Any = event.end_mark
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                loc = mark_location(display, event.start_mark)
                raise _problem(display, _UNDEFINED_ALIAS, loc.line, loc.column)
            node = anchors[event.anchor]
        elif isinstance(event, yaml.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            node = yaml.ScalarNode(tag, event.value, start, end, event.style)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            kind = (
                yaml.SequenceNode
                if isinstance(event, yaml.SequenceStartEvent)
                else yaml.MappingNode
            )
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(kind, None, event.implicit)
            node = kind(tag, [], start, None, flow_style=event.flow_style)
        else:  # DocumentStart, StreamStart: nothing to build
            continue
        if not isinstance(event, yaml.AliasEvent) and event.anchor is not None:
            anchors[event.anchor] = node
        if not stack:
            root = node
        elif isinstance(stack[-1], yaml.SequenceNode):
            stack[-1].value.append(node)
        elif pending_keys[-1] is None:
            pending_keys[-1] = node
        else:
            stack[-1].value.append((pending_keys[-1], node))
            pending_keys[-1] = None
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            if len(stack) > MAX_DEPTH:
                loc = mark_location(display, event.start_mark)
                raise _problem(display, _TOO_DEEP, loc.line, loc.column)
            stack.append(node)
            pending_keys.append(None)


def _shallow(text: str) -> bool:
    """True when the text cannot nest deeper than libyaml's recursive composer survives.

    Flow nesting is at most the number of `[` and `{`; block nesting needs a deeper column each
    level, so at most the longest line. libyaml copes with about 20,000 levels; keep far below.
    """
    if _Loader is yaml.SafeLoader:
        return False
    flow = text.count("[") + text.count("{")
    return flow + max(map(len, text.splitlines()), default=0) <= SAFE_NATIVE_DEPTH


def compose_documents(text: str, display: Path) -> list[yaml.Node]:
    """Every document's root node (empty documents skipped); raises FileProblem on bad YAML."""
    loader = _Loader(text)
    nodes: list[yaml.Node] = []
    try:
        if _shallow(text):  # the common case: libyaml composes, about twice as fast
            while loader.check_node():
                node = loader.get_node()
                if node is not None:
                    nodes.append(node)
            return nodes
        loader.get_event()  # StreamStart
        while not loader.check_event(yaml.StreamEndEvent):
            node = _compose(loader, display)
            if node is not None:
                nodes.append(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(display, exc, text) from exc
    finally:
        loader.dispose()
    return nodes


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


class _Abort(Exception):
    pass


class Builder:
    """Builds plain values from nodes of one file, collecting located problems on the way."""

    def __init__(self, display: Path) -> None:
        self.file = display
        self.errors: list[LocatedError] = []
        self._seen: set[int] = set()
        self._revisits = 0
        self._path: list[str | int] = []  # where the builder is, for error messages

    def _error(self, node: yaml.Node, message: str, *, with_path: bool = True) -> None:
        where = mark_location(self.file, node.start_mark)
        path = format_path(tuple(self._path)) if with_path else ""
        self.errors.append(LocatedError(where, None, path, message))

    def document(
        self, node: yaml.Node, address_of: Callable[[Any], str | None] | None = None
    ) -> SourceDocument | None:
        """The document's value, or None when it cannot be built (errors recorded).

        `address_of` names the resource in the errors when the rest of the document allows.
        """
        before = len(self.errors)
        self._path = []
        try:
            value = self._value(node, 0)
        except _Abort:
            return None
        if len(self.errors) > before:
            address = address_of(value) if address_of is not None else None
            if address:
                self.errors[before:] = [replace(e, address=address) for e in self.errors[before:]]
            return None
        return SourceDocument(self.file, node, value)

    def _value(self, node: yaml.Node, depth: int) -> Any:
        if depth > MAX_DEPTH:
            self._error(node, _TOO_DEEP, with_path=False)  # the path is as long as the problem
            raise _Abort
        if id(node) in self._seen:
            # An alias: the same node again. Count what it expands to, so a "billion laughs"
            # document stops here instead of eating memory.
            self._revisits += 1
            if self._revisits > MAX_ALIAS_NODES:
                self._error(
                    node,
                    f"aliases expand to more than {MAX_ALIAS_NODES} values; write the values out",
                    with_path=False,
                )
                raise _Abort
        else:
            self._seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                return self._bad_tag(node)
            items = []
            for index, item in enumerate(node.value):
                self._path.append(index)
                items.append(self._value(item, depth + 1))
                self._path.pop()
            return items
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node)

    def _bad_tag(self, node: yaml.Node) -> None:
        self._error(
            node,
            f"the tag '{_short_tag(node.tag)}' is not allowed; specs hold plain strings, "
            "numbers, booleans, lists and mappings",
        )

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag in (_STR, _TIMESTAMP):
            # Timestamps stay text: the models parse RFC 3339 themselves and keep the offset.
            return node.value
        construct = _SCALARS.get(node.tag)
        if construct is None:
            return self._bad_tag(node)
        try:
            return construct(_CONSTRUCTOR, node)
        except (ConstructorError, ValueError) as exc:
            self._error(node, f"'{node.value}' is not a valid {_short_tag(node.tag)}: {exc}")
            return None

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        if node.tag != _MAP:
            self._bad_tag(node)
            return {}
        result: dict[str, Any] = {}
        first_at: dict[str, yaml.Node] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = self._key(key_node)
            if key is None:
                continue
            self._path.append(key)
            if key in first_at:
                line = first_at[key].start_mark.line + 1
                self._error(key_node, f"duplicate key '{key}' (first at line {line}); keep one")
            else:
                first_at[key] = key_node
                result[key] = self._value(value_node, depth + 1)
            self._path.pop()
        for merged in merges:
            for key, value in self._merged(merged, depth).items():
                result.setdefault(key, value)  # explicit keys win over merged ones
        return result

    def _merged(self, node: yaml.Node, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self._error(source, "a merge key (<<) takes a mapping or a list of mappings")
                continue
            for key, value in self._mapping(source, depth + 1).items():
                result.setdefault(key, value)
        return result

    def _key(self, node: yaml.Node) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self._error(node, "a mapping key must be a plain string, not a list or mapping")
            return None
        if node.tag != _STR and node.tag not in _SCALARS and node.tag != _TIMESTAMP:
            self._bad_tag(node)
            return None
        # Keys are names: `yes:` or `1:` mean the text as written, as in JSON.
        return str(node.value)


def _pairs(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """Key/value node pairs, explicit keys first, then those of merged mappings."""
    merges = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merges.append(value_node)
        else:
            yield key_node, value_node
    for merged in merges:
        for source in merged.value if isinstance(merged, yaml.SequenceNode) else [merged]:
            if isinstance(source, yaml.MappingNode):
                yield from _pairs(source)


def locate(root: yaml.Node, path: Path_, *, key: bool = False) -> Any:
    """The start mark of the value at `path` (of its key with `key=True`).

    When part of the path is not written, the mark of the deepest key that is (a missing key is
    reported at its parent's key).
    """
    node: yaml.Node = root
    key_mark = root.start_mark
    for part in path:
        found: tuple[yaml.Node, yaml.Node] | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = next(((k, v) for k, v in _pairs(node) if str(k.value) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part >= 0:
            item = node.value[part] if part < len(node.value) else None
            found = (item, item) if item is not None else None
        if found is None:
            return key_mark
        key_mark, node = found[0].start_mark, found[1]
    return key_mark if key else node.start_mark


def load_file(
    path: Path, display: Path, address_of: Callable[[Any], str | None] | None = None
) -> tuple[list[SourceDocument], list[LocatedError]]:
    """Read, compose and build every document of one file; problems come back located."""
    try:
        text = read_text(path, display)
        nodes = compose_documents(text, display)
    except FileProblem as problem:
        return [], [problem.error]
    builder = Builder(display)
    documents = [doc for node in nodes if (doc := builder.document(node, address_of)) is not None]
    return documents, builder.errors
