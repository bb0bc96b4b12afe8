"""Machines on one machine: a network namespace per role, joined by a bridge, each with
its own address and an /etc/hosts that names the others (``ip netns exec`` mounts
/etc/netns/<name>/hosts over /etc/hosts), so processes reach each other by service name
over distinct addresses, the way containers or hosts do.

Making namespaces needs root. Where the suite runs as root (here, and in CI) a failure
to make them fails the test; without root every role is 127.0.0.1, said in one line.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SUBNET = "10.231.{}.{}"
NETNS_ETC = Path("/etc/netns")


@dataclass(frozen=True)
class Host:
    role: str
    address: str
    namespace: str | None

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run on this host."""
        if self.namespace is None:
            return argv
        return ["ip", "netns", "exec", self.namespace, *argv]


@dataclass
class Network:
    """Hosts on one bridge (or all on 127.0.0.1 without root)."""

    roles: list[str]
    isolated: bool = field(init=False)
    hosts: dict[str, Host] = field(default_factory=dict)
    gateway: str = "127.0.0.1"
    """The test process's own address on the bridge (servers it runs bind here)."""
    _tag: str = field(default_factory=lambda: secrets.token_hex(2))

    def __post_init__(self) -> None:
        self.isolated = os.geteuid() == 0 and shutil.which("ip") is not None
        if not self.isolated:
            print("rehearsal: not root, so every role runs on 127.0.0.1 (no namespaces)")
            self.hosts = {role: Host(role, "127.0.0.1", None) for role in self.roles}

    def __enter__(self) -> Network:
        if self.isolated:
            try:
                self._build()
            except subprocess.CalledProcessError as exc:
                self.close()
                pytest.fail(f"cannot make network namespaces as root: {exc.stderr}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _bridge(self) -> str:
        return f"csbr{self._tag}"

    def _build(self) -> None:
        octet = int(self._tag, 16) % 200 + 20  # a /24 of its own per test network
        self.gateway = SUBNET.format(octet, 1)
        _ip("link", "add", self._bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/24", "dev", self._bridge)
        _ip("link", "set", self._bridge, "up")
        for index, role in enumerate(self.roles, start=10):
            namespace = f"cs{self._tag}-{role}"
            address = SUBNET.format(octet, index)
            outside, inside = f"cs{self._tag}o{index}", f"cs{self._tag}i{index}"
            _ip("netns", "add", namespace)
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", outside, "master", self._bridge)
            _ip("link", "set", outside, "up")
            _ip("link", "set", inside, "netns", namespace)
            inner = ["ip", "netns", "exec", namespace, "ip"]
            _run(*inner, "addr", "add", f"{address}/24", "dev", inside)
            _run(*inner, "link", "set", inside, "up")
            _run(*inner, "link", "set", "lo", "up")
            self.hosts[role] = Host(role, address, namespace)
        names = "".join(f"{host.address} {host.role}\n" for host in self.hosts.values())
        for host in self.hosts.values():
            assert host.namespace is not None
            folder = NETNS_ETC / host.namespace
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "hosts").write_text(f"127.0.0.1 localhost\n{names}")

    def close(self) -> None:
        if not self.isolated:
            return
        for host in self.hosts.values():
            subprocess.run(["ip", "netns", "delete", str(host.namespace)], capture_output=True)
            shutil.rmtree(NETNS_ETC / str(host.namespace), ignore_errors=True)
        subprocess.run(["ip", "link", "delete", self._bridge], capture_output=True)

    def name_of(self, role: str) -> str:
        """How a process on another host reaches ``role``: its name, or 127.0.0.1."""
        return role if self.isolated else "127.0.0.1"


def _ip(*args: str) -> None:
    _run("ip", *args)


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)
