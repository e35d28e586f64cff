"""Where an experiment's files may be, through the plugin and the CLI (no cluster needed).

A manifest or locustfile outside the experiment's folder is a collection error unless
--chaos-allow-path (ini chaos_allow_path; `kube-chaos run/plan/rbac --allow-path`) names its
folder; a file that is not a manifest (a key, a token) is reported without its content.
"""

from __future__ import annotations

import pytest
from plugin_project import add_workload, experiment

from chaos.cli import build_parser, main

pytest_plugins = ["pytester"]

EXPERIMENT = experiment(manifest="MANIFEST")
KEY_BODY = "MIIEowIBAAKCAQEAfakeKEYbodyThatMustNotBePrintedXq3Jz0s1w2e3r4t5y6u7i8o9p0"
TOKEN = "ghp_FAKEtokenThatMustNotBePrinted0123456789abcdef"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n{KEY_BODY[::-1]}\n" \
      "-----END RSA PRIVATE KEY-----\n"


@pytest.fixture
def layout(pytester: pytest.Pytester) -> pytest.Pytester:
    """experiments/ beside deploy/, as README's "In your own project" lays them out."""
    add_workload(pytester.path / "deploy", "shop.yaml")
    (pytester.path / "experiments").mkdir()
    (pytester.path / "experiments" / "kill.yaml").write_text(
        EXPERIMENT.replace("MANIFEST", "../deploy/shop.yaml"))
    return pytester


def test_the_option_is_in_the_chaos_group(pytester: pytest.Pytester) -> None:
    out = pytester.runpytest("--help").stdout.str()
    assert "--chaos-allow-path" in out and "chaos_allow_path" in out


def test_a_manifest_outside_the_folder_is_a_collection_error(layout: pytest.Pytester) -> None:
    result = layout.runpytest("--collect-only", "-q", "experiments")
    out = result.stdout.str()
    folder = (layout.path / "experiments").resolve()
    assert (f"kill.yaml:6: spec.workload.manifests[0]: path '../deploy/shop.yaml' resolves "
            f"outside the experiment's folder {folder} (allow it with --chaos-allow-path)") in out
    assert result.ret == pytest.ExitCode.INTERRUPTED and "Traceback" not in out


def test_the_option_allows_a_folder(layout: pytest.Pytester) -> None:
    result = layout.runpytest("--collect-only", "-q", "experiments", "--chaos-allow-path=deploy")
    result.stdout.fnmatch_lines(["experiments/kill.yaml::kill-one"])
    assert result.ret == 0


def test_the_ini_option_allows_a_folder_relative_to_the_ini_file(
        layout: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    layout.makeini("[pytest]\nchaos_allow_path = deploy\n")
    monkeypatch.chdir(layout.path / "experiments")  # not where the ini is
    result = layout.runpytest("--collect-only", "-q", ".")
    result.stdout.fnmatch_lines(["*kill.yaml::kill-one"])
    assert result.ret == 0


def test_allowing_another_folder_does_not_allow_this_one(layout: pytest.Pytester) -> None:
    (layout.path / "other").mkdir()
    result = layout.runpytest("--collect-only", "-q", "experiments", "--chaos-allow-path=other")
    assert "resolves outside the experiment's folder" in result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_a_symlink_pointing_out_is_refused(layout: pytest.Pytester) -> None:
    (layout.path / "experiments" / "shop.yaml").symlink_to(layout.path / "deploy" / "shop.yaml")
    (layout.path / "experiments" / "kill.yaml").write_text(
        EXPERIMENT.replace("MANIFEST", "shop.yaml"))
    result = layout.runpytest("--collect-only", "-q", "experiments")
    assert "path 'shop.yaml' resolves outside the experiment's folder" in result.stdout.str()


def test_collect_only_never_prints_a_key_or_token_a_manifest_entry_points_at(
        layout: pytest.Pytester) -> None:
    """The reported incident: `pytest --collect-only` printed a private key and a token in
    full when a manifest path pointed at a file that is not YAML."""
    exp = layout.path / "experiments"
    (exp / "creds").write_text(PEM + f"token: {TOKEN}\n")
    (exp / "id_rsa").write_text(PEM)
    (exp / ".env").write_text(f"GITHUB_TOKEN={TOKEN}\n")
    for name in ("creds", "id_rsa", ".env"):
        (exp / f"{name.strip('.')}.yaml").write_text(EXPERIMENT.replace("MANIFEST", name))
    (exp / "kill.yaml").unlink()
    result = layout.runpytest("--collect-only", "experiments")
    out = result.stdout.str() + result.stderr.str()
    for name, line, field in (("creds", 5, "token"), ("id_rsa", 1, "document"),
                              (".env", 1, "document")):
        assert f"{(exp / name).resolve()}:{line}: {field}: " in out, out
    for secret in (KEY_BODY, KEY_BODY[:20], KEY_BODY[-20:], KEY_BODY[::-1][:20], TOKEN,
                   TOKEN[4:24]):
        assert secret not in out, out
    assert "3 errors" in out


def test_kube_chaos_run_passes_allow_path_to_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(pytest, "main", lambda argv: seen.append(list(argv)) or 0)
    assert main(["run", "experiments", "--allow-path", "deploy", "--allow-path", "/srv/w"]) == 0
    (argv,) = seen
    assert "--chaos-allow-path=deploy" in argv and "--chaos-allow-path=/srv/w" in argv


def test_a_rerun_keeps_the_allowed_paths(pytester: pytest.Pytester) -> None:
    """The recorded rerun command must parse its experiment as the run did."""
    from chaos.plugin.options import rerun_options

    pytester.makeini("[pytest]\nchaos_allow_path = deploy\n")
    config = pytester.parseconfig()
    options = rerun_options(config)
    assert options == (f"--allow-path={(pytester.path / 'deploy').resolve()}",)
    args = build_parser().parse_args(["run", "exp.yaml", *options])
    assert args.allow_path == [str((pytester.path / "deploy").resolve())]


def test_kube_chaos_rbac_and_plan_refuse_outside_unless_allowed(
        layout: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    exp = str(layout.path / "experiments" / "kill.yaml")
    assert main(["rbac", exp]) == 2
    assert "resolves outside the experiment's folder" in capsys.readouterr().err
    assert main(["plan", exp, "--kubeconfig", "/nonexistent"]) == 2  # refused before connecting
    assert "resolves outside the experiment's folder" in capsys.readouterr().err
    assert main(["rbac", exp, "--allow-path", str(layout.path / "deploy")]) == 0
    assert "kind: ClusterRole" in capsys.readouterr().out
