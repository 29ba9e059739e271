"""Two network namespaces joined by one veth pair, for the peer benchmark:

    pb-janus   pbj0 198.18.0.1/30   the SFU under test (Janus, or parta)
    pb-client  pbc0 198.18.0.2/30   the publisher and the receivers

Neither has a default route and IPv6 is off in both: packets go between 198.18.0.1
and 198.18.0.2 (RFC 2544's benchmarking range) or to lo, nowhere else. Adapted from
../shared/peer-bench/netns.py (the same names, so its tools work on ours)."""

from __future__ import annotations

import subprocess

SERVER_NS, CLIENT_NS = "pb-janus", "pb-client"
SERVER_IF, CLIENT_IF = "pbj0", "pbc0"
SERVER_IP, CLIENT_IP = "198.18.0.1", "198.18.0.2"


def _ip(*args: str, check: bool = True) -> str:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True).stdout


def down() -> None:
    listed = _ip("netns", "list", check=False)
    for ns in (SERVER_NS, CLIENT_NS):
        if any(line.split()[:1] == [ns] for line in listed.splitlines()):
            _ip("netns", "delete", ns, check=False)
    for ifname in (SERVER_IF, CLIENT_IF):  # a half-made pair left in the root namespace
        _ip("link", "delete", ifname, check=False)


def up() -> None:
    down()
    for ns in (SERVER_NS, CLIENT_NS):
        _ip("netns", "add", ns)
        for key in ("all", "default"):
            _ip("netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
        _ip("-n", ns, "link", "set", "lo", "up")
    _ip("link", "add", SERVER_IF, "type", "veth", "peer", "name", CLIENT_IF)
    for ns, ifname, address in (
        (SERVER_NS, SERVER_IF, SERVER_IP),
        (CLIENT_NS, CLIENT_IF, CLIENT_IP),
    ):
        _ip("link", "set", ifname, "netns", ns)
        _ip("-n", ns, "addr", "add", f"{address}/30", "dev", ifname)
        _ip("-n", ns, "link", "set", ifname, "up")


def udp_counters(ns: str) -> dict[str, int]:
    """The namespace's /proc/net/snmp Udp line (RcvbufErrors, SndbufErrors, ...)."""
    text = subprocess.run(
        ["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"], capture_output=True, text=True
    ).stdout
    rows = [line.split()[1:] for line in text.splitlines() if line.startswith("Udp:")]
    return dict(zip(rows[0], map(int, rows[1]), strict=True)) if len(rows) >= 2 else {}
