"""Every exception kube-chaos defines is a ChaosError, so that a user (and the runner, which
turns a ChaosError into an `error` verdict with its report) can catch them all in one place.
The few exceptions for which that is wrong are listed, each with the reason."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import chaos
from chaos.errors import ChaosError, ExperimentError

ROOT = Path(chaos.__file__).parent

# Modules that run inside the locust process: importing them imports locust, which patches the
# standard library with gevent. They are read (ast), not imported.
LOCUST_SIDE = {"chaos.load.locustfile", "chaos.load.openloop", "chaos.load.kube_chaos_capture"}

ALLOWED = {
    # a category for warnings.warn (a journal line skipped, named), never raised
    "chaos.journal.store.JournalWarning": "a warning category, not an error",
    "chaos.engine.locks.PaceWarning": "a warning category (the session's pace halved)",
    # raised and caught inside chaos.model.yamlsafe, always turned into ExperimentInvalid there
    "chaos.model.yamlsafe._LibyamlTooDeep": "private control flow: retried with the pure loader",
    "chaos.model.yamlsafe._Refused": "private control flow: becomes ExperimentInvalid",
    # never raised: handed to locust's request event; the class name is the capture's error text
    "chaos.load.openloop.Dropped": "a capture record's error text, inside the locust process",
    "chaos.load.openloop.Unfinished": "a capture record's error text, inside the locust process",
    "chaos.load.openloop.BadStatus": "a capture record's error text, inside the locust process",
    # a requests exception, so that locust records the refused request as a failure
    "chaos.load.kube_chaos_capture.HostRefused": "a locust request failure, in the locust process",
}

_IMPORT_LOCUST = re.compile(r"^\s*(import|from)\s+(locust|gevent)\b", re.M)


def _module_names() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages([str(ROOT)], prefix="chaos."))


def _path(name: str) -> Path:
    base = ROOT.joinpath(*name.split(".")[1:])
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _defined_exceptions(name: str) -> list[type[BaseException]]:
    module = importlib.import_module(name)
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, BaseException) and obj.__module__ == name]


def _locust_side_exceptions(name: str) -> set[str]:
    """Classes (at any depth) whose bases name an exception: read, not imported."""
    tree = ast.parse(_path(name).read_text())
    return {f"{name}.{node.name}" for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            and any(re.search(r"Exception|Error", ast.unparse(b)) for b in node.bases)}


def test_the_locust_side_modules_are_the_ones_that_import_locust() -> None:
    found = {n for n in _module_names() if _IMPORT_LOCUST.search(_path(n).read_text())}
    assert found == LOCUST_SIDE


def test_every_exception_defined_in_chaos_is_a_chaos_error() -> None:
    defined: set[str] = set()
    offenders: list[str] = []
    for name in _module_names():
        if name in LOCUST_SIDE:
            for qualified in _locust_side_exceptions(name):
                defined.add(qualified)
                if qualified not in ALLOWED:
                    offenders.append(qualified)
            continue
        for exc in _defined_exceptions(name):
            qualified = f"{name}.{exc.__qualname__}"
            defined.add(qualified)
            if not issubclass(exc, ChaosError) and qualified not in ALLOWED:
                bases = ", ".join(b.__name__ for b in exc.__mro__[1:])
                offenders.append(f"{qualified} ({bases})")
    assert offenders == []
    assert set(ALLOWED) <= defined, "an allowed exception no longer exists: drop it from ALLOWED"
    assert len(defined) > 30  # the walk found chaos's exceptions (and did not skip them all)


def test_the_walk_would_catch_an_exception_that_is_not_a_chaos_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself can fail: a plain ValueError subclass in a chaos module is named."""
    import chaos.plan.stats as stats

    class Stray(ValueError):
        pass

    Stray.__module__ = stats.__name__
    monkeypatch.setattr(stats, "Stray", Stray, raising=False)
    strays = [e for e in _defined_exceptions("chaos.plan.stats") if not issubclass(e, ChaosError)]
    assert strays == [Stray]


def test_the_exceptions_that_became_chaos_errors_are_still_what_they_were() -> None:
    """Callers that caught them by their old base (ValueError) still do."""
    from chaos.load.records import CaptureFormatError
    from chaos.plan.guards import PromResponseError
    from chaos.plan.revisions import RevisionError

    for exc in (CaptureFormatError, PromResponseError, RevisionError):
        assert issubclass(exc, ChaosError) and issubclass(exc, ValueError)
    assert issubclass(ExperimentError, ChaosError)
    import chaos.plugin  # the plugin raises chaos.errors.ExperimentError, defined once
    assert not hasattr(chaos.plugin, "ExperimentError")
