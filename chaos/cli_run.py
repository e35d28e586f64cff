"""`kube-chaos run | rollback | report` (experiment-side commands)."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registered by chaos.cli; filled in as the harness grows."""
