"""Collection: every YAML experiment file (apiVersion kube-chaos/...) is a test file whose items
carry the `chaos` marker and one marker per tag; other YAML is left alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.errors import ExperimentInvalid
from chaos.plugin.items import ExperimentItem
from chaos.plugin.options import allowed_paths
from chaos.plugin.session import STATE


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    from chaos.model.sniff import is_experiment

    # apiVersion: kube-chaos/... in any YAML style, anywhere in the file (UTF-16/32 too, so
    # that such a file fails with a clear error): collected, never skipped in silence
    if not is_experiment(file_path):
        return None  # workload manifests and other YAML are not experiments
    return ExperimentFile.from_parent(parent, path=file_path)


class ExperimentFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from chaos.model.parse import load_experiment
        from chaos.model.tags import marker_name

        # tags are checked there (each can be a marker), and where its files may be
        exp = load_experiment(self.path, allow_paths=allowed_paths(self.config))
        state = self.config.stash.get(STATE, None)
        count = state.repeat if state is not None else 1
        for index in range(1, count + 1):
            item = ExperimentItem.from_parent(
                self, name=exp.name if count == 1 else f"{exp.name}[{index}]", experiment=exp,
                repeat=(index, count) if count > 1 else None)
            item.add_marker(pytest.mark.chaos)
            for tag in exp.tags:
                name = marker_name(tag)
                _register_marker(self.config, name)
                item.add_marker(getattr(pytest.mark, name))
            yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ExperimentInvalid):
            return f"invalid experiment: {excinfo.value}"
        return str(super().repr_failure(excinfo))


def _register_marker(config: pytest.Config, name: str) -> None:
    """Tags are only known once a file is collected: register each then, so that
    ``--strict-markers`` accepts it, unless the project's own ini already describes it."""
    known = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    if name not in known:
        config.addinivalue_line("markers", f"{name}: kube-chaos experiment tag")
