"""Label selectors (equality-based), as experiments and faults use them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, eq=False)
class Selector(Mapping[str, str]):
    """An equality-based label selector; a read-only, hashable mapping label -> value."""

    labels: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, labels: Mapping[str, str]) -> Selector:
        return cls(tuple(sorted(labels.items())))

    def __getitem__(self, key: str) -> str:
        for k, v in self.labels:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __hash__(self) -> int:
        return hash(self.labels)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.labels) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"Selector({dict(self.labels)!r})"

    def to_label_selector(self) -> str:
        """The string form the Kubernetes API takes: ``app=httpd,tier=web``."""
        return ",".join(f"{k}={v}" for k, v in self.labels)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.labels)
