"""deploy/compose.yaml's services as local processes: each service's own command and
environment (the image's ENV under it, the env file's secrets, ``${VAR}`` interpolated
as Compose does), with the image's paths mapped onto the checkout and the test's
folders. So the commands the manifests give are the ones the rehearsal runs."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.locust_runs import REPO

COMPOSE = REPO / "deploy" / "compose.yaml"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
BIN = Path(sys.executable).parent
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}")


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]


def image_env() -> dict[str, str]:
    """The final stage's ENV, as a container of the image starts with."""
    final = DOCKERFILE.read_text().split("\nFROM ")[-1].replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def service(
    name: str,
    secrets: Mapping[str, str],
    paths: Mapping[str, Path],
    hosts: Mapping[str, str] | None = None,
    ports: Mapping[str, str] | None = None,
) -> Service:
    """The compose service ``name`` as a local command. ``paths``: container path ->
    local path (longest first wins); ``hosts``/``ports``: service names and ports as this
    machine reaches them (every role on 127.0.0.1 without namespaces)."""
    spec = yaml.safe_load(COMPOSE.read_text())["services"][name]
    env = {k: v for k, v in image_env().items() if k != "PATH"} if "build" in spec else {}
    env.update(secrets)
    env.update({k: _interpolate(str(v), secrets) for k, v in spec.get("environment", {}).items()})
    program, *args = (_interpolate(arg, secrets) for arg in spec["command"])
    rewrite = _rewriter(paths, hosts or {}, ports or {})
    argv = [_executable(program), *map(rewrite, args)]  # the program is this machine's own
    return Service(name, argv, {k: rewrite(v) for k, v in env.items()})


def _interpolate(text: str, secrets: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: secrets[m.group(1)], text)


def _executable(program: str) -> str:
    if program == "python":
        return sys.executable
    if (BIN / program).exists():
        return str(BIN / program)
    found = shutil.which(program)
    assert found is not None, f"{program} is not installed"
    return found


def _rewriter(paths: Mapping[str, Path], hosts: Mapping[str, str], ports: Mapping[str, str]):
    ordered = sorted(paths.items(), key=lambda item: -len(item[0]))

    def rewrite(value: str) -> str:
        for inside, outside in ordered:
            if value == inside or value.startswith(inside + "/"):
                value = str(outside) + value[len(inside) :]
                break
        for name, address in hosts.items():
            value = re.sub(rf"(?<=[/@]){name}(?=[:/]|$)", address, value)
            if value == name:
                value = address
        for port, mapped in ports.items():
            value = re.sub(rf"(?<=:){port}\b", mapped, value)
            if value == port:
                value = mapped
        return value

    return rewrite
