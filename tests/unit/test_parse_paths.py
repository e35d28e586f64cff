"""Files an experiment names stay inside its folder, and errors never quote a file's content.

``spec.workload.manifests`` are read and deployed, ``spec.load.locustfile`` is executed by locust:
a path that leaves the experiment's folder (``..``, absolute, a symlink pointing out) is refused
at parse time unless the folder it reaches is allowed (``allow_paths``, --chaos-allow-path).
A file that is no manifest at all (a key, a token) is reported by file, line and field, and its
content is not in the message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import EXCERPT_CHARS, ExperimentInvalid, excerpt
from chaos.model.manifests import read_manifest
from chaos.model.parse import load_experiment, parse_experiment

# fake secrets: long enough that any quote of them is unmistakable
KEY_BODY = ("MIIEowIBAAKCAQEA7bq9fakeKEYbodyDoNotLeakXq3Jz0s1w2e3r4t5y6u7i8o9p0QwErTy"
            "UiOpAsDfGhJkLzXcVbNm1234567890abcdefABCDEF")
TOKEN = "ghp_FAKEtokenValueThatMustNeverBePrinted0123456789"
PEM = ("-----BEGIN RSA PRIVATE KEY-----\n"
       + "\n".join(KEY_BODY[i:i + 64] for i in range(0, len(KEY_BODY), 64))
       + "\n-----END RSA PRIVATE KEY-----\n")
SECRETS = (KEY_BODY[:24], KEY_BODY[40:64], KEY_BODY[-24:], TOKEN, TOKEN[4:28])


def _assert_no_secret(message: str) -> None:
    for part in SECRETS:
        assert part not in message, message


def _folder(root: Path) -> Path:
    """An experiment folder with its workload, next to things it must not reach."""
    exp_dir = root / "project" / "experiments"
    (exp_dir / "workloads").mkdir(parents=True)
    (exp_dir / "workloads" / "httpd.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: httpd}\n")
    (exp_dir / "locustfile.py").write_text("# locust\n")
    outside = root / "project" / "secrets"
    outside.mkdir()
    (outside / "id_rsa").write_text(PEM)
    (outside / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: httpd}\n")
    (outside / "evil.py").write_text("import os; os.system('echo pwned')\n")
    return exp_dir


def _load(exp_dir: Path, good: str, old: str, new: str, **kw: object) -> object:
    assert old in good
    path = exp_dir / "x.yaml"
    path.write_text(good.replace(old, new, 1))
    return load_experiment(path, **kw)  # type: ignore[arg-type]


MANIFEST = "    manifests: [workloads/httpd.yaml]"
LOAD = "    users: 10\n"


@pytest.mark.parametrize("entry", [
    "../secrets/deploy.yaml",
    "workloads/../../secrets/deploy.yaml",
    "{outside}/deploy.yaml",  # absolute
    "workloads/link.yaml",  # a symlink inside, pointing out
    "linked/deploy.yaml",  # a symlinked folder inside, pointing out
])
def test_a_manifest_outside_the_experiments_folder_is_refused(
        tmp_path: Path, good: str, entry: str) -> None:
    exp_dir = _folder(tmp_path)
    outside = tmp_path / "project" / "secrets"
    (exp_dir / "workloads" / "link.yaml").symlink_to(outside / "deploy.yaml")
    (exp_dir / "linked").symlink_to(outside, target_is_directory=True)
    raw = entry.format(outside=outside)
    with pytest.raises(ExperimentInvalid) as info:
        _load(exp_dir, good, MANIFEST, f"    manifests: [{raw}]")
    assert str(info.value) == (
        f"{exp_dir / 'x.yaml'}:8: spec.workload.manifests[0]: path {raw!r} resolves outside the "
        f"experiment's folder {exp_dir.resolve()} (allow it with --chaos-allow-path)")


def test_a_locustfile_outside_the_experiments_folder_is_refused(
        tmp_path: Path, good: str) -> None:
    """locust executes the locustfile: one from elsewhere would run whatever is there."""
    exp_dir = _folder(tmp_path)
    with pytest.raises(ExperimentInvalid) as info:
        _load(exp_dir, good, LOAD, LOAD + "    locustfile: ../secrets/evil.py\n")
    assert str(info.value) == (
        f"{exp_dir / 'x.yaml'}:16: spec.load.locustfile: path '../secrets/evil.py' resolves "
        f"outside the experiment's folder {exp_dir.resolve()} (allow it with "
        "--chaos-allow-path)")


def test_outside_is_refused_before_existence_is_told(tmp_path: Path, good: str) -> None:
    """No probing: a path outside is refused the same whether the file exists or not."""
    exp_dir = _folder(tmp_path)
    with pytest.raises(ExperimentInvalid) as info:
        _load(exp_dir, good, MANIFEST, "    manifests: [/nonexistent/x.yaml]")
    assert "resolves outside the experiment's folder" in str(info.value)


def test_allowed_paths_admit_what_they_name_and_nothing_else(tmp_path: Path, good: str) -> None:
    exp_dir = _folder(tmp_path)
    outside = tmp_path / "project" / "secrets"
    exp = _load(exp_dir, good, MANIFEST, "    manifests: [../secrets/deploy.yaml]",
                allow_paths=[outside])
    assert exp.workload.manifests == (outside.resolve() / "deploy.yaml",)  # type: ignore[attr-defined]
    exp = _load(exp_dir, good, LOAD, LOAD + "    locustfile: ../secrets/evil.py\n",
                allow_paths=[str(outside)])
    assert exp.load.locustfile == outside.resolve() / "evil.py"  # type: ignore[attr-defined]
    # an allowed folder is not its parent, nor its sibling
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "deploy.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    with pytest.raises(ExperimentInvalid) as info:
        _load(exp_dir, good, MANIFEST, "    manifests: [../../elsewhere/deploy.yaml]",
              allow_paths=[outside])
    assert str(info.value).endswith(
        f"path '../../elsewhere/deploy.yaml' resolves outside the experiment's folder "
        f"{exp_dir.resolve()} or the allowed paths {outside.resolve()} (allow it with "
        "--chaos-allow-path)")


def test_paths_inside_the_folder_still_work(tmp_path: Path, good: str) -> None:
    """A symlink that stays inside, and a folder reached through a symlink, are fine; the path
    kept is the resolved one (what was checked is what is deployed)."""
    exp_dir = _folder(tmp_path)
    (exp_dir / "same.yaml").symlink_to(exp_dir / "workloads" / "httpd.yaml")
    exp = _load(exp_dir, good, MANIFEST, "    manifests: [same.yaml]")
    assert exp.workload.manifests == (  # type: ignore[attr-defined]
        (exp_dir / "workloads" / "httpd.yaml").resolve(),)
    via = tmp_path / "via"
    via.symlink_to(exp_dir, target_is_directory=True)
    exp = load_experiment(via / "x.yaml")
    assert exp.workload.manifests == ((exp_dir / "workloads" / "httpd.yaml").resolve(),)


def test_without_a_file_the_working_directory_is_the_folder(
        tmp_path: Path, good: str, monkeypatch: pytest.MonkeyPatch) -> None:
    exp_dir = _folder(tmp_path)
    monkeypatch.chdir(exp_dir)
    assert parse_experiment(good).workload.manifests == (
        (exp_dir / "workloads" / "httpd.yaml").resolve(),)
    with pytest.raises(ExperimentInvalid, match="resolves outside the experiment's folder"):
        parse_experiment(good.replace(MANIFEST, "    manifests: [../secrets/deploy.yaml]"))


def test_a_path_that_cannot_be_used_is_an_experiment_error(tmp_path: Path, good: str) -> None:
    exp_dir = _folder(tmp_path)
    with pytest.raises(ExperimentInvalid) as info:
        _load(exp_dir, good, MANIFEST, '    manifests: ["workloads/a\\0b.yaml"]')
    assert str(info.value).startswith(f"{exp_dir / 'x.yaml'}:8: spec.workload.manifests[0]: ")


# -- no error quotes a file's content -------------------------------------------------------------

def test_a_key_pointed_at_as_a_manifest_is_not_quoted(tmp_path: Path, good: str) -> None:
    exp_dir = _folder(tmp_path)
    (exp_dir / "workloads" / "id_rsa").write_text(PEM)
    with pytest.raises(ExperimentInvalid) as info:
        _load(exp_dir, good, MANIFEST, "    manifests: [workloads/id_rsa]")
    message = str(info.value)
    assert message.startswith(f"{exp_dir / 'workloads' / 'id_rsa'}:1: document: expected a "
                              "Kubernetes object (a mapping), got text (")
    _assert_no_secret(message)


@pytest.mark.parametrize(("content", "field"), [
    (f"TOKEN={TOKEN}\n", "document"),  # an .env file: one plain scalar
    (PEM + f"token: {TOKEN}\n", "token"),  # a key, then a token: not YAML
    (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  namespace: {TOKEN * 3}\n",
     "metadata.namespace"),
    (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: x}}\n---\n{PEM}", "document"),
    (f"apiVersion: v1\nkind: {TOKEN * 3}\nmetadata: {{}}\n", "metadata.name"),
    (f'apiVersion: v1\nkind: Secret\nmetadata: {{name: "{TOKEN}\\n{KEY_BODY}"}}\n'
     f"---\napiVersion: v1\nkind: Secret\nmetadata: {{name: \"{TOKEN}\\n{KEY_BODY}\"}}\n",
     "metadata.name"),
    (f"{TOKEN * 3}: [\n", "ghp_"),  # the field is the key: its first 40 characters
    (f"&{TOKEN * 3} a: *{TOKEN * 3}\nb: *{TOKEN * 2}\n", "b"),
])
def test_no_manifest_error_quotes_more_than_an_excerpt(
        tmp_path: Path, good: str, content: str, field: str) -> None:
    exp_dir = _folder(tmp_path)
    (exp_dir / "workloads" / "leak.yaml").write_text(content)
    with pytest.raises(ExperimentInvalid) as info:
        _load(exp_dir, good, MANIFEST, "    manifests: [workloads/leak.yaml]")
    err = info.value
    assert err.path == str((exp_dir / "workloads" / "leak.yaml").resolve())
    assert err.line is not None and err.line >= 1
    assert err.field is not None and err.field.startswith(field), err.field
    message = str(err)
    # a value that is wrong may be quoted, as one line of at most EXCERPT_CHARS: a key, a
    # second line, a third copy of the token never
    assert TOKEN * 2 not in message and "\n" not in message, message
    for part in SECRETS[:3]:
        assert part not in message, message
    if "TOKEN=" in content or "BEGIN" in content.split("\n")[0]:  # not YAML at all
        assert TOKEN not in message and TOKEN[4:28] not in message, message


def test_an_experiment_value_is_quoted_only_as_an_excerpt(tmp_path: Path, good: str) -> None:
    exp_dir = _folder(tmp_path)
    for old, new in (("  timeout: 180s", f"  timeout: {TOKEN * 3}"),
                     ("  expect: pass", f'  expect: "{TOKEN}\\n{KEY_BODY}"'),
                     ("    - type: pod-kill", f"    - type: {TOKEN * 3}"),
                     ("kind: Experiment", f"kind: {TOKEN * 3}")):
        with pytest.raises(ExperimentInvalid) as info:
            _load(exp_dir, good, old, new)
        message = str(info.value)
        assert TOKEN * 2 not in message and KEY_BODY[:20] not in message, message


def test_excerpt_is_one_escaped_line_of_at_most_the_limit() -> None:
    assert excerpt("web") == "'web'"
    assert excerpt(3) == "3"
    assert excerpt("a\tb") == "'a\\tb'"
    cut = excerpt("x" * 500)
    assert cut == f"{'x' * EXCERPT_CHARS!r}... (500 characters)"
    assert excerpt("first\nsecret") == "'first'... (12 characters)"
    assert excerpt("a\x1b[2Jb" + "c" * 100).startswith("'a\\x1b[2Jb")
    assert excerpt([1, "two"]) == "[1, 'two']"


def test_a_long_field_of_the_files_keys_is_bounded_and_escaped() -> None:
    err = ExperimentInvalid("bad", path="f.yaml", line=1, field="spec." + "k" * 1000 + "\x1b")
    assert err.field is not None and len(err.field) < 200 and "\x1b" not in str(err)
    assert ExperimentInvalid("bad", field="a\nb").field == "a\\nb"


def test_the_manifest_reader_alone_does_not_quote_a_key(tmp_path: Path) -> None:
    path = tmp_path / "id_rsa"
    path.write_text(PEM)
    with pytest.raises(ExperimentInvalid) as info:
        read_manifest(path)
    _assert_no_secret(str(info.value))
