"""Global options anywhere on the command line: `reconciler plan -v` as `reconciler -v plan`.

Terraform users write options after the command; click only reads the group's options before it.
This pure rewrite moves the global ones to the front (up to a `--`), leaving everything else in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_WITH_VALUE = ("-C", "--project-dir", "--sandbox")
_FLAGS = ("--no-color", "--verbose")


def _is_verbose_cluster(arg: str) -> bool:
    """`-v`, `-vv`, ...: the only short flag that can be repeated."""
    return len(arg) >= 2 and arg[0] == "-" and arg[1] != "-" and set(arg[1:]) == {"v"}


def _is_joined_value(arg: str) -> bool:
    """`--sandbox=dev`, `--project-dir=x` or `-Cdir`: an option and its value in one argument."""
    if arg.startswith("-C") and len(arg) > 2:
        return True
    return any(arg.startswith(f"{name}=") for name in _WITH_VALUE if name.startswith("--"))


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """The same arguments with every global option (and its value) moved before the command."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in _FLAGS or _is_verbose_cluster(arg):
            front.append(arg)
        elif arg in _WITH_VALUE and i + 1 < len(argv):
            front.extend(argv[i : i + 2])
            i += 1
        elif _is_joined_value(arg):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def use_color(no_color_flag: bool, env: Mapping[str, str], is_tty: bool) -> bool:
    """Color only on a terminal, and never with --no-color or a non-empty NO_COLOR (no-color.org)."""
    return is_tty and not no_color_flag and not env.get("NO_COLOR")
