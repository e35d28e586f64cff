"""Every fault type declares the facets the rest of kube-chaos reads (chaos.model.faults), and
nothing outside the declarations and the implementations asks "which fault is this?"."""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from chaos.faults.base import FaultOutcome
from chaos.model.faults import (
    FAULT_TYPES,
    Access,
    ActsOn,
    FaultSpec,
    NodeSelection,
    PodFault,
    PodKill,
    ProbeBreak,
    registry,
)
from chaos.model.parse import parse_experiment
from chaos.model.selector import Selector
from chaos.plan.permissions import Permission, needed

PKG = Path(__file__).resolve().parents[2] / "chaos"
# where fault types may be named: their declarations and their implementations
HOME = ("model/faults.py", "faults/")
CONCRETE = {cls.__name__ for cls in FAULT_TYPES.values()}
TYPE_NAMES = set(FAULT_TYPES)
# String constants that happen to spell a fault type's name but mean something else; each is
# allowed in its one module (as data: a message, a key), never in a comparison or a match
# case, which would be asking which fault this is.
COINCIDENCES = {
    ("k8s/nodes.py", "cordon"),  # the verb in "cannot cordon node x" (the fault's own action)
    ("cli/rollback.py", "rollback"),  # the `kube-chaos rollback` subcommand's name
    ("plan/netrules.py", "latency"),  # tc's tbf option `latency <ms>`, not the latency fault
    ("plan/rollout.py", "partition"),  # a StatefulSet's spec.updateStrategy.rollingUpdate field
}


def offences(where: str, source: str) -> list[str]:
    """Each place in ``source`` that names a concrete fault class or compares with a fault
    type's name. Importing a class only to re-export it (listed in ``__all__``: the public API,
    chaos.model and chaos.model.experiment) asks nothing about a fault, and is allowed."""
    tree = ast.parse(source)
    exported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                for t in node.targets):
            exported |= {e.value for e in ast.walk(node.value)
                         if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    compared: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare | ast.MatchValue):
            parts = ([node.left, *node.comparators] if isinstance(node, ast.Compare)
                     else [node.value])
            compared |= {id(c) for p in parts for c in ast.walk(p)}
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name) and node.id in CONCRETE:
            found.append(f"{where}:{line}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in CONCRETE:
            found.append(f"{where}:{line}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom):
            found += [f"{where}:{line}: imports {a.name}" for a in node.names
                      if a.name in CONCRETE and (a.asname or a.name) not in exported]
        elif isinstance(node, ast.Constant) and node.value in TYPE_NAMES and (
                id(node) in compared or (where, node.value) not in COINCIDENCES):
            found.append(f"{where}:{line}: {node.value!r}")
    return found


@pytest.mark.source_rules
def test_no_module_outside_the_declarations_and_implementations_names_a_fault_type() -> None:
    found = []
    for path in sorted(PKG.rglob("*.py")):
        where = path.relative_to(PKG).as_posix()
        if not where.startswith(HOME):
            found += offences(where, path.read_text())
    assert found == []


@pytest.mark.parametrize("source", [
    "from chaos.model.faults import Drain\nok = isinstance(f, Drain)\n",
    "import chaos.model.faults as m\nok = isinstance(f, m.Rollout)\n",
    "from chaos.model.faults import Drain as D\n",
    "blocked = [o for o in outcomes if o.type == 'drain']\n",
    "if spec.type in ('node-loss', 'cordon'):\n    pass\n",
    "match spec.type:\n    case 'rollout':\n        pass\n",
    "HANDLERS = {'latency': 1}\n",  # a dispatch table
    "kinds = ['pod-kill']\n",  # a type's name is never data outside its declaration
])
def test_the_scan_catches_every_way_of_naming_a_fault(source: str) -> None:
    assert offences("runner.py", source) != []


def test_the_scan_allows_re_exports_and_the_named_coincidences_only() -> None:
    assert offences("model/__init__.py", "from chaos.model.faults import Drain\n"
                                         "__all__ = ['Drain']\n") == []
    assert offences("plan/rollout.py", "p = ru.get('partition') or 0\n") == []
    # a coincidence is one module's: the same string elsewhere, or compared, is an offence
    assert offences("runner.py", "p = ru.get('partition') or 0\n") != []
    assert offences("plan/rollout.py", "ok = spec.type == 'partition'\n") != []
    assert offences("runner.py", "ok = f.acts_on == 'control-plane'\n") == []


# --- every facet is declared ---------------------------------------------------------------


def test_a_type_that_forgets_its_permissions_is_refused() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Meteor(PodFault):
        type: ClassVar[str] = "meteor"
        summary: ClassVar[str] = "fall on pods"
        exclusive: ClassVar[bool] = False
        exclusive_why: ClassVar[str] = "a small one"

    with pytest.raises(TypeError, match="Meteor does not declare: rbac"):
        registry(Meteor)


def test_permissions_are_never_inherited_from_another_type() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class GentleKill(PodKill):
        type: ClassVar[str] = "gentle-kill"

    with pytest.raises(TypeError, match="GentleKill does not declare: rbac"):
        registry(GentleKill)


def test_a_type_that_forgets_what_it_hits_or_its_exclusivity_is_refused() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Comet(FaultSpec):
        type: ClassVar[str] = "comet"
        summary: ClassVar[str] = "fall somewhere"
        rbac: ClassVar[tuple[Access, ...]] = ()

    with pytest.raises(TypeError, match="Comet does not declare: acts_on, exclusive, "
                                        "exclusive_why"):
        registry(Comet)

    class Declared(Comet):
        acts_on: ClassVar[ActsOn] = "nothing"
        exclusive: ClassVar[bool] = False
        exclusive_why: ClassVar[str] = "it touches nothing"
        rbac: ClassVar[tuple[Access, ...]] = ()

    assert registry(Declared) == {"comet": Declared}


# what the Role must grant each fault type beyond every run's own rights ("ns": the experiment's
# namespace, None: cluster-wide): as `kube-chaos rbac` derived it before the facets existed,
# except the controller faults, which had none (a run on an existing workload was refused its
# first patch)
_CONTROLLER = {*{(v, "apps", r, "ns") for v in ("get", "list", "watch", "patch")
                 for r in ("deployments", "statefulsets")},
               ("list", "apps", "replicasets", "ns"), ("list", "apps", "controllerrevisions", "ns"),
               ("list", "", "pods", "ns"), ("delete", "", "pods", "ns")}
ROLE = {
    "pod-kill": {("delete", "", "pods", "ns")},
    "container-kill": {("list", "", "pods", "ns")},
    "cordon": {("patch", "", "nodes", None), ("list", "", "pods", "ns")},
    "drain": {("patch", "", "nodes", None), ("list", "", "pods", None),
              ("create", "", "pods/eviction", None),
              ("list", "policy", "poddisruptionbudgets", None), ("list", "", "pods", "ns")},
    "node-loss": {("list", "", "pods", "ns")},
    "control-plane-loss": set(),
    "probe-break": set(),  # method: network (the default); admin below
    "rollout": _CONTROLLER, "rollback": _CONTROLLER,
    "partition": set(), "packet-loss": set(), "bandwidth": set(), "dns": set(), "latency": set(),
    "load-spike": set(),
}


SEL = Selector.of({"app": "httpd"})


def _instance(cls: type[FaultSpec]) -> FaultSpec:
    """A spec of ``cls`` with its required fields filled."""
    need = {"rate": 80.0, "peer": None, "loss": 10.0, "rate_bps": 1000, "latency_s": 1.0,
            "selector": SEL, "nodes": NodeSelection(pods_of=SEL)}
    return cls(**{f.name: need[f.name] for f in dataclasses.fields(cls)
                  if f.default is dataclasses.MISSING and f.name in need})


@pytest.mark.parametrize("name", list(FAULT_TYPES))
def test_each_type_adds_exactly_its_declared_permissions_to_the_role(
        name: str, good: str, exp_dir: Path) -> None:
    base = parse_experiment(good, exp_dir / "x.yaml")
    spec = _instance(FAULT_TYPES[name])
    declared = {(v, a.group, a.resource, None if a.cluster_wide else "ns")
                for a in spec.permissions() for v in a.verbs}
    assert declared == ROLE[name]
    granted = set(needed(dataclasses.replace(base, faults=(spec,)), "ns"))
    assert {Permission(*p) for p in declared} <= granted  # `needed` grants every one


def test_a_permission_only_one_setting_uses_is_granted_only_with_it() -> None:
    proxy = {("get", "", "pods/proxy"), ("create", "", "pods/proxy")}
    admin = ProbeBreak(selector=SEL, method="admin")
    assert {(v, a.group, a.resource) for a in admin.permissions() for v in a.verbs} == proxy
    assert ProbeBreak(selector=SEL, method="network").permissions() == ()


# --- what each facet says ------------------------------------------------------------------


def test_the_types_that_need_the_cluster_to_themselves() -> None:
    assert {t for t, cls in FAULT_TYPES.items() if cls.exclusive} == {
        "cordon", "drain", "node-loss", "control-plane-loss", "load-spike"}
    assert all(cls.exclusive_why for cls in FAULT_TYPES.values())


def test_an_experiment_is_exclusive_when_one_of_its_faults_is(good: str, exp_dir: Path) -> None:
    exp = parse_experiment(good, exp_dir / "x.yaml")
    assert not exp.exclusive  # a pod-kill
    drain = _instance(FAULT_TYPES["drain"])
    assert dataclasses.replace(exp, faults=(*exp.faults, drain)).exclusive


@pytest.mark.parametrize("name", list(FAULT_TYPES))
def test_a_type_with_a_duration_holds_for_it(name: str) -> None:
    spec = _instance(FAULT_TYPES[name])
    duration = getattr(spec, "duration_s", None)
    assert spec.hold_s() == (duration or 0.0)


def test_repeated_kills_hold_for_their_pauses() -> None:
    assert PodKill(selector=SEL, repeat=3, interval_s=5.0).hold_s() == 10.0
    assert PodKill(selector=SEL, repeat=3).hold_s() == 0.0


def test_what_each_type_acts_on() -> None:
    by = {t: cls.acts_on for t, cls in FAULT_TYPES.items()}
    assert {t for t, a in by.items() if a == "nodes"} == {"cordon", "drain", "node-loss"}
    assert {t for t, a in by.items() if a == "control-plane"} == {"control-plane-loss"}
    assert {t for t, a in by.items() if a == "controller"} == {"rollout", "rollback"}
    assert {t for t, a in by.items() if a == "nothing"} == {"load-spike"}
    assert all(a == "pods" for t, a in by.items()
               if issubclass(FAULT_TYPES[t], PodFault))


def test_each_question_is_judged_by_its_sla_from_the_typed_answer() -> None:
    from chaos.report import evaluate

    asked = {t: cls.question.sla for t, cls in FAULT_TYPES.items() if cls.question}
    assert asked == {"drain": "expectBlocked", "rollout": "expectStalled"}
    # the typed answer counts, the details (the report's copy) are not read
    assert evaluate._drain_blocked([FaultOutcome("drain", details={"blocked": True})]) is False
    assert evaluate._drain_blocked([FaultOutcome("drain", answer=True)]) is True
    assert evaluate._rollout_stalled([FaultOutcome("rollout", details={"stalled": True})]) is None
    assert evaluate._rollout_stalled([FaultOutcome("rollout", answer=False),
                                      FaultOutcome("rollout", answer=True)]) is True
    # an answer from a type that asks another question, or an unknown type, counts for nothing
    assert evaluate._drain_blocked([FaultOutcome("rollout", answer=True),
                                    FaultOutcome("meteor", answer=True)]) is None


@pytest.mark.parametrize(("sla", "message"), [
    ("expectBlocked", "says whether a drain was blocked, but no fault is a drain"),
    ("expectStalled", "says whether a rollout stalled, but no fault is a rollout"),
])
def test_an_sla_expecting_an_answer_needs_a_fault_that_gives_one(
        sla: str, message: str, good: str, exp_dir: Path) -> None:
    from chaos.errors import ExperimentInvalid

    text = good.replace("    maxRecovery: 30s\n", f"    maxRecovery: 30s\n    {sla}: true\n")
    with pytest.raises(ExperimentInvalid, match=f"spec.slas.{sla}: {message}"):
        parse_experiment(text, exp_dir / "x.yaml")
