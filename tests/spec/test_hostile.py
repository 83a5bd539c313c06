"""Hostile input that cannot live in the corpus: big files, symlinks, FIFOs, runaway nesting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.spec.yamlread import MAX_FILE_BYTES, load_file
from spec.helpers import DATASET, errors, load, make_project


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    padding = "# " + "x" * 78 + "\n"
    big = DATASET + padding * (MAX_FILE_BYTES // len(padding) + 1)
    make_project(tmp_path, {"specs/big.yaml": big})
    size = (tmp_path / "specs/big.yaml").stat().st_size
    assert errors(tmp_path) == [
        f"specs/big.yaml:1:1: file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit; "
        "split it into several files"
    ]


def test_file_symlink_leaving_the_project(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(DATASET)
    project = make_project(tmp_path / "project", {"specs/ok.yaml": DATASET})
    (project / "specs/evil.yaml").symlink_to(outside)
    assert errors(project) == [
        f"specs/evil.yaml:1:1: symlink to '{outside}' leaves the project; copy the file in"
    ]


def test_folder_symlink_leaving_the_project(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    project = make_project(tmp_path / "project", {"specs/ok.yaml": DATASET})
    (project / "specs/more").symlink_to(tmp_path / "elsewhere")
    assert errors(project) == [
        f"specs/more:1:1: symlink to '{tmp_path / 'elsewhere'}' leaves the project; "
        "copy the folder in"
    ]


def test_symlinks_inside_the_project_are_followed_once(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"shared/crm.yaml": DATASET, "specs/.hidden.yaml": "x: ["})
    (project / "specs/crm.yaml").symlink_to(project / "shared/crm.yaml")
    (project / "specs/loop").symlink_to(project / "specs")  # a loop must not hang
    assert set(load(project).datasets) == {"crm-profiles"}


def test_broken_symlink(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"specs/ok.yaml": DATASET})
    (project / "specs/gone.yaml").symlink_to(project / "nowhere.yaml")
    assert errors(project) == ["specs/gone.yaml:1:1: broken symlink; fix or remove it"]


def test_fifo_is_refused_not_read(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"specs/ok.yaml": DATASET})
    os.mkfifo(project / "specs/pipe.yaml")
    assert errors(project) == [
        "specs/pipe.yaml:1:1: not a regular file; specs must be plain YAML files"
    ]


@pytest.mark.parametrize(
    "text",
    ["[" * 200_000, "a:\n" + "".join(" " * (i + 1) + "b:\n" for i in range(1000))],
    ids=["flow", "block"],
)
def test_deep_nesting_neither_crashes_nor_recurses(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    # In a child process: libyaml's own composer would kill the interpreter (SIGSEGV) here.
    code = (
        "from pathlib import Path; from reconciler.spec.yamlread import load_file; "
        f"print(load_file(Path({str(path)!r}), Path('deep.yaml'))[1][0])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "nesting is deeper than 64 levels (or an alias refers to itself)" in result.stdout


def test_alias_bomb_is_fast_and_small(tmp_path: Path) -> None:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 12)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    documents, problems = load_file(path, Path("bomb.yaml"))
    assert time.monotonic() - started < 2
    assert documents == []
    assert "aliases expand to more than 10000 values" in str(problems[0])


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("a: &x [1, 2]\nb: *x\nc: *x\n")
    documents, problems = load_file(path, Path("ok.yaml"))
    assert problems == []
    assert documents[0].value == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}


def test_errors_in_several_documents_of_one_file_are_all_reported(tmp_path: Path) -> None:
    text = "a: 1\na: 2\n---\nb: !!python/name:os.system x\n---\n- list\n"
    make_project(tmp_path, {"specs/many.yaml": text})
    assert [e.split(": ", 1)[0] for e in errors(tmp_path)] == [
        "specs/many.yaml:2:1",
        "specs/many.yaml:4:4",
        "specs/many.yaml:6:1",
    ]


def test_utf8_bom_and_unicode_are_fine(tmp_path: Path) -> None:
    text = DATASET.replace("CRM profile export", "Café export ✓")
    make_project(tmp_path, {"specs/bom.yaml": b"\xef\xbb\xbf" + text.encode()})
    assert load(tmp_path).datasets["crm-profiles"].spec.name == "Café export ✓"


def test_both_composers_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        DATASET
        + "  colour: red\n---\n"
        + DATASET.replace("crm-profiles", "b")
        + "  tags: {a: [x], b: &t [y]}\n  description: *t\n---\n[1, {a: !!str 2}]\n"
    )
    make_project(tmp_path, {"specs/a.yaml": text})
    native = errors(tmp_path)
    monkeypatch.setattr("reconciler.spec.yamlread.SAFE_NATIVE_DEPTH", -1)
    assert errors(tmp_path) == native
    assert len(native) == 3


def test_symlink_loops_are_errors_not_crashes(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"specs/ok.yaml": DATASET})
    (project / "specs/a.yaml").symlink_to(project / "specs/b.yaml")
    (project / "specs/b.yaml").symlink_to(project / "specs/a.yaml")
    (project / "specs/self").symlink_to(project / "specs/self")
    message = "symlink loop (it leads back to itself); fix or remove it"
    assert errors(project) == [
        f"specs/a.yaml:1:1: {message}",
        f"specs/b.yaml:1:1: {message}",
    ]
    (project / "reconciler.yaml").symlink_to(project / "reconciler.yaml")
    assert errors(project) == [f"reconciler.yaml:1:1: {message}"]


def test_a_tab_in_the_indentation_is_named(tmp_path: Path) -> None:
    text = "apiVersion: reconciler/v1\nkind: Dataset\nmetadata:\n\tname: x\n"
    make_project(tmp_path, {"specs/tab.yaml": text})
    assert errors(tmp_path) == [
        "specs/tab.yaml:4:1: invalid YAML: a tab character here; YAML indents with spaces only: "
        "replace the tab with spaces"
    ]


def test_a_tab_inside_a_value_is_fine(tmp_path: Path) -> None:
    make_project(tmp_path, {"specs/ok.yaml": DATASET.replace("name: ", "name:\t", 1)})
    assert errors(tmp_path) == []
