"""The node agent's namespace and pod as manifests (chaos.plan.agent), and the commands the
runner execs in it: privileged on exactly its node, named per node and session, the node's
commands wrapped in nsenter (their stdin handed over by the agent program)."""

from __future__ import annotations

import base64

from chaos.plan import agent

AGENT = ["/usr/bin/python3", "/opt/kube-chaos/agent_main.py"]  # the agent program


def test_the_namespace_is_labelled_for_privileged_pod_security() -> None:
    assert agent.namespace_manifest() == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "kube-chaos-agent",
                     "labels": {"pod-security.kubernetes.io/enforce": "privileged",
                                "app.kubernetes.io/managed-by": "kube-chaos"}},
    }


def test_the_pod_is_privileged_in_the_nodes_namespaces_on_exactly_that_node() -> None:
    name = agent.pod_name("kube-chaos-worker", "run-1")
    assert agent.pod_manifest("kube-chaos-worker", "run-1", "kube-chaos/node-agent:abc") == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "kube-chaos-agent",
            "labels": {"kube-chaos.io/node-agent": "true",
                       "kube-chaos.io/agent-node": "kube-chaos-worker",
                       "kube-chaos.io/agent-session": "run-1",
                       "app.kubernetes.io/managed-by": "kube-chaos"},
            "annotations": {"kube-chaos.io/node": "kube-chaos-worker",
                            "kube-chaos.io/session": "run-1"},
        },
        "spec": {
            "nodeName": "kube-chaos-worker",
            "hostPID": True, "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            "restartPolicy": "Always",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 2,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "agent", "image": "kube-chaos/node-agent:abc",
                "imagePullPolicy": "IfNotPresent",
                "command": [*AGENT, "serve"],
                "env": [{"name": "PYTHONUNBUFFERED", "value": "1"},
                        {"name": "PATH",
                         "value": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}],
                "securityContext": {"privileged": True, "runAsUser": 0},
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                              "limits": {"memory": "128Mi"}},
            }],
        },
    }


def test_pod_names_differ_per_node_and_per_session_and_stay_dns_labels() -> None:
    long_node = "ip-10-0-12-34.eu-west-1.compute.internal.example-with-a-long-suffix"
    names = {agent.pod_name(n, s) for n in ("w1", "w2", long_node) for s in ("a", "b")}
    assert len(names) == 6
    for name in names:
        assert len(name) <= 63 and name == name.lower()
        assert all(c.isalnum() or c == "-" for c in name) and name[0].isalpha()
    assert agent.pod_name("w1", "a") == agent.pod_name("w1", "a")


def test_a_label_value_that_fits_is_kept_and_one_that_does_not_is_shortened() -> None:
    assert agent.label_value("20261207-001500-42-gw0") == "20261207-001500-42-gw0"
    long = "x" * 80
    short = agent.label_value(long)
    assert short.startswith("x" * 50 + "-") and len(short) == 61
    assert agent.label_value("node/with:odd") != "node/with:odd"
    assert agent.label_value("node/with:odd").startswith("node-with-odd-")


def test_a_node_command_is_run_by_nsenter_into_pid_1s_namespaces() -> None:
    assert agent.exec_argv(("ctr", "-n", "k8s.io", "tasks", "ls"), None) == [
        "nsenter", "-t", "1", "-a", "--", "ctr", "-n", "k8s.io", "tasks", "ls"]


def test_a_command_with_stdin_goes_through_the_agent_program_with_it_in_base64() -> None:
    b64 = base64.b64encode(b"table inet t {}\n").decode()
    assert agent.exec_argv(["nft", "-f", "-"], b64) == [
        *AGENT, "exec", "--stdin-b64", b64, "--",
        "nft", "-f", "-"]


def test_the_switch_commands() -> None:
    assert agent.arm_argv("nft-netdev-t", ["nsenter", "-t", "7", "-n", "nft", "delete"], None) == [
        *AGENT, "arm", "nft-netdev-t", "--",
        "nsenter", "-t", "7", "-n", "nft", "delete"]
    assert agent.arm_argv("k", ["cat"], "aGk=") == [
        *AGENT, "arm", "k", "--stdin-b64", "aGk=", "--",
        "cat"]
    assert agent.disarm_argv("k") == [*AGENT, "disarm", "k"]
    assert agent.renew_argv(30.0) == [*AGENT, "renew", "30"]
    assert agent.renew_argv(2.5) == [*AGENT, "renew", "2.5"]
