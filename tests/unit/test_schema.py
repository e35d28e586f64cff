"""The editor schema and the parser must agree; bundled experiments must validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # a dev dependency: without it this module fails, never skips
import pytest
import yaml

from chaos.errors import ExperimentInvalid
from chaos.model import yamlsafe
from chaos.model.parse import parse_experiment

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "chaos" / "schema" / "experiment.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
BUNDLED = sorted((ROOT / "experiments").glob("*.yaml"))


def test_schema_is_valid_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_experiments_validate(path: Path) -> None:
    VALIDATOR.validate(yaml.safe_load(path.read_text()))


FAULT_BLOCK = "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n"
GOOD_VARIANTS = [
    ("    warmup: 5s", "    warmup: 1m10s"),
    ("    warmup: 5s", "    warmup: 2.5"),
    (FAULT_BLOCK, "    - {type: pod-kill, percent: 50, interval: 500ms, repeat: 2}\n"),
    (FAULT_BLOCK, "    - {type: container-kill, container: web, signal: SIGTERM}\n"),
    (FAULT_BLOCK, "    - {type: cordon, nodes: [kind-worker], duration: 30s}\n"),
    (FAULT_BLOCK, "    - {type: drain, nodeSelector: {role: web}, timeout: 2m}\n"),
    (FAULT_BLOCK, "    - {type: node-loss, mode: pause}\n"),
    (FAULT_BLOCK, "    - {type: probe-break, probe: startup, method: network}\n"),
    (FAULT_BLOCK, "    - {type: rollout, image: 'kube-chaos/httpd:missing', wait: 40s}\n"),
    (FAULT_BLOCK, "    - {type: rollout, target: deploy/httpd, env: {A: '1'}, args: []}\n"),
    (FAULT_BLOCK, "    - {type: rollout, args: [--fail-readiness]}\n"
                  "    - {type: rollback, target: Deployment/httpd}\n"),
    (FAULT_BLOCK + "  slas:\n",
     "    - {type: rollout, image: x}\n  slas:\n    expectStalled: false\n"),
    ("  expect: pass", "  expect: fail\n  seed: 42"),
    ("    maxOutage: 1s", "    maxOutage: 1s\n    outageBound: 2500ms"),
    ("  name: pod-kill-replicated", "  name: pod-kill-replicated\n  tags: [smoke, slow-net, v1.2]"),
    ("    replicas: 3", "    replicas: 3\n    clusterScoped: allow"),
    ("  expect: pass", "  expect: pass\n  abort:\n    interval: 500ms\n    guards:\n"
     "      - {type: outage, max: 2s, name: short-outage}\n"
     "      - {type: error-rate, max: 0.1, window: 3s, minRequests: 10, onError: ignore}\n"
     "      - {type: http, url: 'http://127.0.0.1:30086/readyz', timeout: 300ms, "
     "status: [200, 204], failures: 2}\n"
     "      - {type: http, url: 'https://shop.example.com/health?deep=1', status: 200}\n"
     "      - {type: prometheus, url: 'http://127.0.0.1:9090', query: 'up{job=\"x\"}', "
     "min: 1, noData: abort}\n"
     "      - {type: prometheus, url: 'http://127.0.0.1:9090/', query: 'rate(e[1m])', "
     "max: 0.5}\n"
     "      - {type: kubernetes, object: {kind: Deployment, name: httpd}, "
     "condition: Available}\n"
     "      - {type: kubernetes, object: {kind: Node, name: kind-worker}, condition: Ready, "
     "status: False}\n"),
]
ABORT_HEAD = "  expect: pass\n  abort:\n    guards:\n      - "
BAD_VARIANTS = [
    ("    wait: 50ms", "    wait: 50ms\n    url: ftp://shop.example"),
    ("    wait: 50ms", "    wait: 50ms\n    url: https://user:pw@shop.example"),
    ("    wait: 50ms", "    wait: 50ms\n    tlsVerify: false"),
    ("    wait: 50ms", "    wait: 50ms\n    url: https://shop.example\n"
     "    headersFromEnv: {Authorization: Bearer abc}"),
    ("  expect: pass", "  expect: pass\n  abort: {guards: []}"),
    ("  expect: pass", "  expect: pass\n  abort: {interval: 1s}"),
    ("  expect: pass", ABORT_HEAD + "{type: outrage, max: 2s}"),
    ("  expect: pass", ABORT_HEAD + "{type: outage}"),
    ("  expect: pass", ABORT_HEAD + "{type: outage, max: 2s, window: 1s}"),
    ("  expect: pass", ABORT_HEAD + "{type: outage, max: 2s, name: halt}"),
    ("  expect: pass", ABORT_HEAD + "{type: error-rate, max: 1.5}"),
    ("  expect: pass", ABORT_HEAD + "{type: http, url: 'ftp://127.0.0.1/'}"),
    ("  expect: pass", ABORT_HEAD + "{type: http, url: 'http://u:p@127.0.0.1/'}"),
    ("  expect: pass", ABORT_HEAD + "{type: http, url: 'http://127.0.0.1/', status: 700}"),
    ("  expect: pass", ABORT_HEAD + "{type: prometheus, url: 'http://127.0.0.1:9090', "
                                    "query: up}"),
    ("  expect: pass", ABORT_HEAD + "{type: prometheus, url: 'http://127.0.0.1:9090', min: 1}"),
    ("  expect: pass", ABORT_HEAD + "{type: kubernetes, object: {kind: Node, name: n, "
                                    "namespace: x}, condition: Ready}"),
    ("  expect: pass", ABORT_HEAD + "{type: kubernetes, object: {kind: Service, name: s}, "
                                    "condition: Ready}"),
    ("  expect: pass", ABORT_HEAD + "{type: kubernetes, object: {kind: Pod, name: p}, "
                                    "condition: Ready, status: maybe}"),
    ("    manifests: [workloads/httpd.yaml]",
     "    manifests: [workloads/httpd.yaml]\n    existing: {namespace: shop}"),
    ("    manifests: [workloads/httpd.yaml]", "    existing: {namespace: kube-system}"),
    ("    manifests: [workloads/httpd.yaml]", "    existing: {namespace: shop, kind: Deployment}"),
    (FAULT_BLOCK, "    - {type: probe-break, probe: startup, method: admin}\n"),
    ("    users: 10", "    userz: 10"),
    ("    users: 10", "    users: many"),
    ("    users: 10", "    users: 0"),
    ("      count: 1", "      count: 1\n      percent: 10"),
    ("    - type: pod-kill", "    - type: meteor"),
    ("    warmup: 5s", "    warmup: -5s"),
    ("    warmup: 5s", "    warmup: soon"),
    ("    path: /", "    path: http://example.com/"),
    ("    path: /", "    path: //evil/"),
    ("    service: httpd\n", ""),
    ("    nodePort: 30080", "    nodePort: 80"),
    ("  expect: pass", "  expect: maybe"),
    ("apiVersion: kube-chaos/v1", "apiVersion: v2"),
    (FAULT_BLOCK, "    - {type: cordon, nodes: [a], podsOf: {app: x}}\n"),
    (FAULT_BLOCK, "    - {type: cordon, percent: 5}\n"),
    (FAULT_BLOCK, "    - {type: node-loss, mode: halt}\n"),
    (FAULT_BLOCK, "    - {type: rollout}\n"),
    (FAULT_BLOCK, "    - {type: rollout, image: x, target: Job/httpd}\n"),
    (FAULT_BLOCK, "    - {type: rollout, env: {PORT: 8080}}\n"),
    (FAULT_BLOCK, "    - {type: rollout, args: [1]}\n"),
    (FAULT_BLOCK, "    - {type: rollback, image: x}\n"),
    ("    maxOutage: 1s", "    maxOutage: 1s\n    expectStalled: yes-please"),
    ("    maxOutage: 1s", "    maxOutage: 1s\n    outageBound: soon"),
    ("    maxOutage: 1s", "    maxOutage: 1s\n    outage_bound: 2s"),
    ("  faults:\n" + FAULT_BLOCK, "  faults: []\n"),
    ("    selector: {app: httpd}", "    selector: {version: 1}"),
    ("  name: pod-kill-replicated", "  name: pod-kill-replicated\n  tags: [smoke, skip]"),
    ("  name: pod-kill-replicated", "  name: pod-kill-replicated\n  tags: [slow net]"),
    ("  name: pod-kill-replicated", "  name: pod-kill-replicated\n  tags: [not]"),
    ("  name: pod-kill-replicated", "  name: pod-kill-replicated\n  tags: [a, a]"),
    ("    replicas: 3", "    replicas: 3\n    clusterScoped: yes-please"),
]


def _doc(good: str, old: str, new: str) -> str:
    assert old in good, old
    return good.replace(old, new, 1)


@pytest.mark.parametrize(("old", "new"), GOOD_VARIANTS)
def test_schema_and_parser_accept(good: str, exp_dir: Path, old: str, new: str) -> None:
    text = _doc(good, old, new)
    data: Any = yaml.safe_load(text)
    VALIDATOR.validate(data)
    parse_experiment(text, exp_dir / "x.yaml")


@pytest.mark.parametrize(("old", "new"), BAD_VARIANTS)
def test_schema_and_parser_reject(good: str, exp_dir: Path, old: str, new: str) -> None:
    text = _doc(good, old, new)
    assert not VALIDATOR.is_valid(yaml.safe_load(text))
    with pytest.raises(ExperimentInvalid):
        parse_experiment(text, exp_dir / "x.yaml")


def test_an_omitted_node_port_is_accepted_by_both_and_read_from_the_service(
        good: str, exp_dir: Path) -> None:
    """(Refused by both until issue 20: the parser now takes the Service's own nodePort, or
    auto when it declares none; the schema cannot read manifests, so it no longer asks.)"""
    (exp_dir / "workloads" / "httpd.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: httpd}\nspec:\n  type: NodePort\n"
        "  ports: [{port: 80, nodePort: 30086}]\n")
    text = _doc(good, "    nodePort: 30080\n", "")
    assert VALIDATOR.is_valid(yaml.safe_load(text))
    assert parse_experiment(text, exp_dir / "x.yaml").workload.node_port == 30086


def test_the_whole_shipped_schema_is_generated_from_the_declarations() -> None:
    """Edit the declarations (chaos/model/experiment.py, abort.py, faults.py, slas.py,
    loadmodes.py, values.py), then run `python -m chaos.model.schema`: the file is exactly what
    they generate, $defs and every section included."""
    from chaos.model.schema import SCHEMA_PATH, experiment_schema

    assert experiment_schema() == SCHEMA
    assert SCHEMA_PATH.read_text() == json.dumps(experiment_schema(), indent=2) + "\n"


def test_shipped_fault_reference_is_generated_from_the_declarations() -> None:
    from chaos.model.schema import DOCS_PATH, faults_markdown

    assert DOCS_PATH.read_text() == faults_markdown()


def test_shipped_sla_table_is_generated_from_the_declarations() -> None:
    """Edit chaos/model/slas.py, then run `python -m chaos.model.schema`."""
    from chaos.model.schema import EXPERIMENTS_DOC, experiments_doc

    text = EXPERIMENTS_DOC.read_text()
    assert experiments_doc(text) == text
    assert "| `maxScaleInTime` |" in text and "| `outageBound` |" in text


def test_schema_sla_section_lists_every_declared_sla_with_its_doc() -> None:
    from chaos.model.slas import SLASpec

    slas = SCHEMA["properties"]["spec"]["properties"]["slas"]
    declared = [f.yaml for f in SLASpec.field_infos()]
    assert list(slas["properties"]) == declared
    assert all(p["description"] for p in slas["properties"].values())
    assert slas["additionalProperties"] is False and slas["minProperties"] == 1


@pytest.mark.parametrize("path", [
    ("properties", "spec", "properties", "slas", "properties", "maxOutage"),
    ("properties", "spec", "properties", "workload", "properties", "replicas"),
    ("properties", "spec", "properties", "steadyState", "properties", "window"),
    ("properties", "spec", "properties", "blastRadius", "properties", "maxNodes"),
    ("properties", "spec", "properties", "abort", "properties", "interval"),
    ("properties", "metadata", "properties", "tags"),
    ("$defs", "guard", "oneOf", 1, "properties", "minRequests"),
    ("$defs", "duration"),
    ("$defs", "dnsLabel"),
])
def test_a_hand_edited_schema_is_caught_as_drift(path: tuple[str | int, ...]) -> None:
    from chaos.model.schema import experiment_schema

    edited = json.loads(json.dumps(SCHEMA))
    parent: Any = edited
    for key in path[:-1]:
        parent = parent[key]
    assert path[-1] in parent
    parent[path[-1]] = {"type": "number"}
    assert experiment_schema() != edited
    assert experiment_schema() == SCHEMA


CORPUS = ROOT / "tests" / "unit" / "corpus"
SCHEMA_ACCEPTS = {line for line in (CORPUS / "schema-accepts.txt").read_text().splitlines()
                  if line and not line.startswith("#")}


def _document(path: Path) -> object:
    """The file's data, read within the bounds the parser keeps (so no bomb is expanded); a file
    that is no single YAML document raises ExperimentInvalid."""
    text = yamlsafe.read_text(path)
    if len(yamlsafe.compose_documents(text, str(path))) != 1:
        raise ExperimentInvalid("not one document", path=str(path), line=1, field="document")
    return yaml.safe_load(text)


def test_the_schema_judges_the_hostile_corpus_as_pinned() -> None:
    """The corpus through the JSON schema: every file it accepts is one only the parser can
    refuse (schema-accepts.txt: rules between fields, the manifests, the file system); every
    other readable file is refused by the schema too. Run with the bundled experiments, which
    it accepts, so the same schema both accepts and refuses."""
    accepted, refused = set(), set()
    for path in sorted(CORPUS.glob("*.yaml")):
        try:
            data = _document(path)
        except (ExperimentInvalid, yaml.YAMLError):
            continue  # not YAML a schema could judge: the parser's own reading refuses it
        (accepted if VALIDATOR.is_valid(data) else refused).add(path.name)
    assert accepted == SCHEMA_ACCEPTS
    assert len(refused) >= 150
    assert all(VALIDATOR.is_valid(_document(p)) for p in BUNDLED) and len(BUNDLED) >= 10


def test_every_declared_fault_type_is_in_the_schema_and_parses() -> None:
    from chaos.model.faults import FAULT_TYPES

    variants = SCHEMA["$defs"]["fault"]["oneOf"]
    assert [v["properties"]["type"]["const"] for v in variants] == list(FAULT_TYPES)
    for cls in FAULT_TYPES.values():
        keys = set(variants[list(FAULT_TYPES).index(cls.type)]["properties"])
        assert {"type", "delay"} <= keys
        assert all(f.doc for f in cls.field_infos()), cls.type


@pytest.mark.parametrize(("old", "new"), [
    ("    manifests: [workloads/httpd.yaml]", "    existing: {namespace: shop}"),
    ("    manifests: [workloads/httpd.yaml]",
     "    existing: {namespace: shop, kind: StatefulSet, name: db}"),
    ("    nodePort: 30080\n", ""),  # with a load URL, no NodePort is needed
])
def test_schema_and_parser_accept_game_day_forms(good: str, exp_dir: Path, old: str,
                                                 new: str) -> None:
    with_url = good.replace("    wait: 50ms", "    wait: 50ms\n    url: https://shop.staging.example"
                            ":8443\n    headersFromEnv: {Authorization: SHOP_TOKEN}\n"
                            "    tlsVerify: false")
    text = _doc(with_url, old, new)
    VALIDATOR.validate(yaml.safe_load(text))
    exp = parse_experiment(text, exp_dir / "x.yaml")
    assert exp.load.url == "https://shop.staging.example:8443"
    assert exp.load.headers_from_env == (("Authorization", "SHOP_TOKEN"),)
    assert exp.load.tls_verify is False
