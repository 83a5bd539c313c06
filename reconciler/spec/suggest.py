""" "Did you mean" suggestions that stay fast when there are many candidates."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest of a few candidates (keys, kinds, literals), case differences first."""
    pool = list(candidates)
    for candidate in pool:
        if candidate.lower() == word.lower():
            return candidate
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`; did you mean 'x'?` or the empty string."""
    match = closest(word, candidates)
    return f"; did you mean '{match}'?" if match else ""


class NameIndex:
    """Suggests near names among many (thousands of resource names) in about constant time.

    Every name is indexed under itself and each of its one-character deletions; a query looks up
    the same variants of itself, which finds names within one edit (and most within two), then
    difflib ranks that short list. Built lazily, only when some name did not resolve.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self._names = list(names)
        self._index: dict[str, set[str]] | None = None

    @staticmethod
    def _variants(word: str) -> set[str]:
        return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}

    def _build(self) -> dict[str, set[str]]:
        index: dict[str, set[str]] = defaultdict(set)
        for name in self._names:
            for variant in self._variants(name):
                index[variant].add(name)
        return index

    def suggest(self, word: str) -> str | None:
        """The closest known name, or None when nothing is near."""
        if self._index is None:
            self._index = self._build()
        near: set[str] = set()
        for variant in self._variants(word):
            near |= self._index.get(variant, set())
        if not near:
            return None
        return max(sorted(near), key=lambda n: difflib.SequenceMatcher(None, word, n).ratio())
