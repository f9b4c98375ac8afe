"""`TypeSet`: the event types a filter can ever accept, so routers can index by type."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["ANY_TYPE", "TypeSet"]


@dataclass(frozen=True)
class TypeSet:
    """The event types a filter can ever accept: exact types, prefixes, or any.

    Types are kept case-folded, so the set is a superset for case-sensitive filters:
    a router uses it to pick candidates and still runs the full filter on them.
    """

    exact: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    any: bool = False

    def accepts(self, event_type: str) -> bool:
        """Whether an event of ``event_type`` may pass the filter this set belongs to."""
        if self.any:
            return True
        folded = event_type.casefold()
        return folded in self.exact or any(folded.startswith(p) for p in self.prefixes)

    def union(self, other: TypeSet) -> TypeSet:
        """Types accepted by either set."""
        if self.any or other.any:
            return ANY_TYPE
        return TypeSet(self.exact | other.exact, self.prefixes | other.prefixes)

    def intersection(self, other: TypeSet) -> TypeSet:
        """Types accepted by both sets."""
        if self.any:
            return other
        if other.any:
            return self
        exact = (
            (self.exact & other.exact)
            | {t for t in self.exact if _under(t, other.prefixes)}
            | {t for t in other.exact if _under(t, self.prefixes)}
        )
        prefixes = {p for p in self.prefixes if _under(p, other.prefixes)} | {
            p for p in other.prefixes if _under(p, self.prefixes)
        }
        return TypeSet(frozenset(exact), frozenset(prefixes))


def _under(value: str, prefixes: Iterable[str]) -> bool:
    return any(value.startswith(p) for p in prefixes)


ANY_TYPE: Final = TypeSet(any=True)
