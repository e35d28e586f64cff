"""etcd quorum arithmetic (pure): what losing some control-plane nodes does to the API."""

from __future__ import annotations


def quorum(members: int) -> int:
    """Members etcd needs up to accept writes and quorum reads: a strict majority."""
    return members // 2 + 1


def quorum_kept(members: int, lost: int) -> bool:
    """Whether ``members - lost`` still make a majority (one of three lost: yes; two: no)."""
    return members - lost >= quorum(members)
