"""What the network faults put into a pod's netns, as text: nft tables, tc arguments, and the
parsing of what nft and tc print back."""

from __future__ import annotations

import pytest

from chaos.model.netvalues import format_rate, parse_cidr, parse_rate
from chaos.plan import netrules as nr

PEERS = nr.Addresses.of(["10.244.2.7", "10.244.1.5", "fd00::5"])


def test_addresses_are_normalised_sorted_split_and_never_the_target_itself() -> None:
    a = nr.Addresses.of([" 10.244.2.7", "10.244.1.5/32", "10.0.0.9/8", "fd00::5", "10.244.1.5"],
                        exclude=["10.244.2.7"])
    assert a == nr.Addresses(("10.0.0.0/8", "10.244.1.5"), ("fd00::5",))
    assert a.all() == ["10.0.0.0/8", "10.244.1.5", "fd00::5"]
    assert not nr.Addresses.of(["10.1.1.1"], exclude=["10.1.1.1"])
    with pytest.raises(ValueError):
        nr.Addresses.of(["backend"])


def test_partition_drops_both_ways_on_the_pods_interface_per_address_family() -> None:
    table = nr.table_name("partition", "backend-7d9f-abcde")
    assert table == "kube_chaos_partition_backend_7d9f_abcde"
    assert nr.render(table, nr.partition_rules("both", PEERS, "eth0")) == (
        "table netdev kube_chaos_partition_backend_7d9f_abcde {\n"
        "  chain egress {\n"
        '    type filter hook egress device "eth0" priority -10; policy accept;\n'
        "    ip daddr { 10.244.1.5, 10.244.2.7 } counter drop\n"
        "    ip6 daddr { fd00::5 } counter drop\n"
        "  }\n"
        "  chain ingress {\n"
        '    type filter hook ingress device "eth0" priority -10; policy accept;\n'
        "    ip saddr { 10.244.1.5, 10.244.2.7 } counter drop\n"
        "    ip6 saddr { fd00::5 } counter drop\n"
        "  }\n"
        "}\n")


@pytest.mark.parametrize(("direction", "hooks"), [
    ("egress", ["egress"]), ("ingress", ["ingress"]), ("both", ["egress", "ingress"])])
def test_one_direction_is_one_hook(direction: nr.Direction, hooks: list[str]) -> None:
    rules = nr.partition_rules(direction, nr.Addresses.of(["10.0.0.1"]), "eth0")
    assert list(rules.chains) == hooks
    side = {"egress": "daddr", "ingress": "saddr"}
    for hook, body in rules.chains.items():
        assert body == (f"ip {side[hook]} {{ 10.0.0.1 }} counter drop",)


def test_a_partition_from_nobody_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one peer"):
        nr.partition_rules("both", nr.Addresses(), "eth0")


@pytest.mark.parametrize(("loss", "threshold"), [(30, 3000), (0.01, 1), (0.004, 1), (100, 10000),
                                                 (12.345, 1234)])
def test_loss_is_a_numgen_threshold_in_hundredths_of_a_percent(loss: float,
                                                               threshold: int) -> None:
    assert nr.loss_threshold(loss) == threshold


@pytest.mark.parametrize("loss", [0, -1, 100.5])
def test_impossible_loss_is_refused(loss: float) -> None:
    with pytest.raises(ValueError):
        nr.loss_threshold(loss)


def test_loss_counts_what_it_saw_then_what_it_dropped() -> None:
    rules = nr.loss_rules("egress", 30, nr.Addresses.of(["10.0.0.1"]), "eth0")
    assert rules.family == "netdev"
    assert rules.chains == {"egress": (
        "ip daddr { 10.0.0.1 } counter numgen random mod 10000 < 3000 counter drop",)}


def test_loss_without_a_peer_takes_every_ip_packet_but_not_arp() -> None:
    rules = nr.loss_rules("ingress", 5, None, "eth0")
    assert rules.chains == {"ingress": (
        "meta protocol { ip, ip6 } counter numgen random mod 10000 < 500 counter drop",)}
    with pytest.raises(ValueError, match="empty peer"):
        nr.loss_rules("both", 5, nr.Addresses(), "eth0")


def test_dns_fail_rejects_in_the_pods_stack_and_block_drops_on_the_wire() -> None:
    fail = nr.dns_rules("fail", "eth0")
    assert (fail.family, fail.device) == ("inet", None)
    text = nr.render("t", fail)
    assert 'oifname "lo" accept' in text  # a local resolver on loopback is left alone
    assert "meta l4proto udp th dport 53 counter reject\n" in text
    assert "meta l4proto tcp th dport 53 counter reject with tcp reset\n" in text
    block = nr.dns_rules("block", "eth0")
    assert (block.family, block.device) == ("netdev", "eth0")
    assert block.chains == {"egress": ("meta l4proto { udp, tcp } th dport 53 counter drop",)}


def test_probe_block_is_an_inet_input_rule_from_the_nodes_addresses() -> None:
    text = nr.render("kube_chaos_probe_p", nr.probe_rules(8080, nr.Addresses.of(
        ["172.18.0.3", "10.244.1.1"])))
    assert text == (
        "table inet kube_chaos_probe_p {\n"
        "  chain input {\n"
        "    type filter hook input priority -10; policy accept;\n"
        '    iifname "lo" accept\n'
        "    ip saddr { 10.244.1.1, 172.18.0.3 } tcp dport 8080 counter drop\n"
        "  }\n"
        "}\n")


@pytest.mark.parametrize("device", [None, "", "eth0; flush ruleset", "a" * 16, 'eth"0'])
def test_a_netdev_table_needs_a_plain_interface_name(device: str | None) -> None:
    with pytest.raises(ValueError, match="interface name"):
        nr.Ruleset("netdev", {"egress": ("counter drop",)}, device)


def test_table_names_are_nft_identifiers_of_bounded_length() -> None:
    name = nr.table_name("loss", "a-very.long-pod-name-" + "x" * 80)
    assert name.startswith("kube_chaos_loss_a_very_long_pod_name_")
    assert len(name) == len("kube_chaos_loss_") + 48
    assert name.replace("_", "").isalnum()


LISTING = """table netdev kube_chaos_loss_b {
	chain egress {
		type filter hook egress device "eth0" priority filter - 10; policy accept;
		ip daddr { 10.244.1.5, 10.244.2.7 } counter packets 120 bytes 9000 numgen random mod 10000 < 3000 counter packets 37 bytes 2775 drop
	}
	chain ingress {
		type filter hook ingress device "eth0" priority filter - 10; policy accept;
		ip saddr { 10.244.1.5, 10.244.2.7 } counter packets 80 bytes 6000 numgen random mod 10000 < 3000 counter packets 23 bytes 1725 drop
		ip saddr 10.9.9.9 counter packets 5 bytes 300 accept
		udp dport 53 counter packets 4 bytes 240 reject
	}
}
"""  # noqa: E501 (nft prints a rule on one line)


def test_counters_sum_what_the_dropping_rules_saw_and_dropped() -> None:
    assert nr.counters(LISTING) == nr.Counters(matched=120 + 80 + 4, dropped=37 + 23 + 4)
    assert nr.counters("table inet t {\n}\n") == nr.Counters(0, 0)


def test_tbf_shapes_with_a_bucket_of_10ms_and_at_least_four_full_packets() -> None:
    assert nr.tbf_args(1_000_000) == ["tbf", "rate", "1000000bit", "burst", "6056", "latency",
                                      "200ms"]
    assert nr.tbf_args(1_000_000_000)[4] == "1250000"  # 10 ms of 1 gbit


def test_netem_args() -> None:
    assert nr.netem_args(0.1) == ["netem", "delay", "100ms"]
    assert nr.netem_args(0.0255, 0.005) == ["netem", "delay", "25.5ms", "5ms"]


@pytest.mark.parametrize(("show", "expected"), [
    ("qdisc noqueue 0: root refcnt 2 \n", nr.Qdisc("noqueue", "0:")),
    ("qdisc tbf 4b43: root refcnt 2 rate 1Mbit burst 6056b lat 200ms \n",
     nr.Qdisc("tbf", "4b43:")),
    ("qdisc htb 1: root refcnt 2 r2q 10 default 0\nqdisc fq_codel 8001: parent 1:10\n",
     nr.Qdisc("htb", "1:")),
    ("qdisc fq_codel 8001: parent 1:10 limit 10240p\n", None),
    ("", None),
])
def test_root_qdisc_is_read_from_tc_show(show: str, expected: nr.Qdisc | None) -> None:
    assert nr.root_qdisc(show) == expected


def test_only_an_empty_default_or_our_own_root_may_be_replaced() -> None:
    assert nr.replaceable(None)
    assert nr.replaceable(nr.Qdisc("noqueue", "0:"))
    assert nr.replaceable(nr.Qdisc("tbf", nr.QDISC_HANDLE))
    assert not nr.replaceable(nr.Qdisc("htb", "1:"))
    assert nr.ours(nr.Qdisc("netem", "4b43:")) and not nr.ours(nr.Qdisc("tbf", "1:"))


def test_qdisc_stats_are_those_of_our_root() -> None:
    show = ("qdisc tbf 4b43: root refcnt 2 rate 1Mbit burst 6056b lat 200ms \n"
            " Sent 250380 bytes 190 pkt (dropped 3, overlimits 41 requeues 0) \n"
            " backlog 0b 0p requeues 0\n")
    assert nr.qdisc_stats(show) == nr.QdiscStats(250380, 190, 3, 41)
    assert nr.qdisc_stats(show.replace("4b43:", "1:")) is None


def test_default_route_device() -> None:
    assert nr.default_route_dev("default via 10.244.1.1 dev eth0 \n") == "eth0"
    assert nr.default_route_dev("10.244.1.0/24 dev eth0 proto kernel\n") is None


def test_netem_missing_is_recognised_in_tcs_words() -> None:
    assert nr.netem_missing("Error: Specified qdisc kind is unknown.\n")
    assert not nr.netem_missing("Error: Exclusivity flag on, cannot modify.\n")


@pytest.mark.parametrize(("text", "bps"), [("1mbit", 1_000_000), ("512kbit", 512_000),
                                           ("1.5gbit", 1_500_000_000), ("8000bit", 8000),
                                           (" 2 mbit ", 2_000_000)])
def test_rates_are_bits_per_second(text: str, bps: int) -> None:
    assert parse_rate(text) == bps


@pytest.mark.parametrize("text", ["1mbps", "1Mbit", "fast", "1", "7999bit", "101gbit", 5, True])
def test_ambiguous_or_impossible_rates_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


def test_format_rate_uses_the_largest_whole_unit() -> None:
    assert [format_rate(b) for b in (1_000_000, 1_500_000, 8_001, 2_000_000_000)] == [
        "1mbit", "1500kbit", "8001bit", "2gbit"]


def test_cidrs_are_normalised() -> None:
    assert parse_cidr("10.1.2.3/8") == "10.0.0.0/8"
    assert parse_cidr("192.0.2.1") == "192.0.2.1/32"
    with pytest.raises(ValueError):
        parse_cidr("10.0.0.0/33")


# -- refusals in full, and edges -----------------------------------------------------------------


def test_rule_refusals_say_why_in_full() -> None:
    empty = nr.Addresses()
    with pytest.raises(ValueError) as info:
        nr.partition_rules("both", empty, "eth0")
    assert str(info.value) == "a partition needs at least one peer address"
    with pytest.raises(ValueError) as info:
        nr.loss_rules("both", 10.0, empty, "eth0")
    assert str(info.value) == "an empty peer would make the loss apply to nothing"
    with pytest.raises(ValueError) as info:
        nr.loss_threshold(0)
    assert str(info.value) == "loss must be above 0 and at most 100 %, got 0"
    with pytest.raises(ValueError) as info:
        nr.probe_rules(8080, empty)
    assert str(info.value) == "a probe block needs the node's addresses"


def test_table_names_keep_upper_case_letters() -> None:
    assert nr.table_name("loss", "Web-1.x") == "kube_chaos_loss_Web_1_x"


def test_netem_delays_are_in_microsecond_steps() -> None:
    assert nr.netem_args(0.9) == ["netem", "delay", "900ms"]
    assert nr.netem_args(0.25, 0.0015) == ["netem", "delay", "250ms", "1.5ms"]


def test_qdisc_stats_are_read_from_the_two_lines_after_ours_only() -> None:
    show = ("qdisc tbf 4b43: root refcnt 2 rate 1Mbit burst 6056b lat 200ms \n"
            " backlog 0b 0p requeues 0\n"
            "qdisc netem 10: parent 4b43:1 limit 1000 delay 100ms\n"
            " Sent 250380 bytes 190 pkt (dropped 3, overlimits 41 requeues 0) \n")
    assert nr.qdisc_stats(show) is None
