"""deploy/, checked without a container runtime: the Dockerfile passes hadolint and builds
the image a fleet needs, the compose file follows the Compose Specification and gates
start order on health, and every Kubernetes object the kustomizations render validates
against the Kubernetes schemas and keeps to the rules the README promises."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from harness.options import Option
from harness.runtime.options import GROUPS
from harness.transport.registry import TRANSPORTS

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl")


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)


def _rendered(kustomization: str) -> list[dict]:
    if KUBECTL is None:
        pytest.fail("kubectl is missing: install it (kubectl kustomize renders deploy/k8s)")
    done = _run(KUBECTL, "kustomize", "--load-restrictor", "LoadRestrictionsNone", kustomization)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _containers(objects: list[dict]) -> list[tuple[dict, dict, dict]]:
    """(object, pod spec, container) for every workload's container."""
    found = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            pod = obj["spec"]["template"]["spec"]
            found.extend((obj, pod, container) for container in pod["containers"])
    return found


def _env(container: dict) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


def _locust_settings() -> set[str]:
    """Every environment variable Locust reads, and every one chatstorm's options read."""
    spec = importlib.util.find_spec("locust")  # found, not imported: Locust stays out
    assert spec is not None and spec.origin is not None
    text = (Path(spec.origin).parent / "argument_parser.py").read_text()
    names = set(re.findall(r'env_var="(LOCUST_[A-Z_]+)"', text))
    groups = [*GROUPS, *(kind.options for kind in TRANSPORTS.values())]
    options: list[Option] = [o for g in groups if g is not None for o in g.options]
    return names | {o.env for o in options if o.env}


def test_the_dockerfile_passes_hadolint():
    done = _run(str(BIN / "hadolint"), "deploy/docker/Dockerfile")
    assert done.returncode == 0 and done.stdout == "", done.stdout


def test_the_image_is_slim_non_root_with_an_init_and_a_health_check_per_role():
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) == 2 and all("slim" in s or "PYTHON_IMAGE" in s for s in stages)
    final = text.split("\nFROM ")[-1]
    assert "gcc" not in final and "pip install" not in final  # built in the first stage
    assert re.search(r"^USER 10001:10001$", final, re.M)
    assert 'ENTRYPOINT ["/usr/bin/tini", "--"]' in final
    assert re.search(r'^HEALTHCHECK .* CMD \["harness", "health"\]$', final, re.M)
    assert "PIP_NO_CACHE_DIR=1" in text
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :][:1] == ["*"]  # everything out, then what is needed


def test_the_compose_file_follows_the_compose_specification():
    done = _run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        "deploy/compose.yaml",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_starts_each_service_once_what_it_needs_is_healthy():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    image_checks = "HEALTHCHECK" in (DEPLOY / "docker" / "Dockerfile").read_text()
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, needed)
            has_check = "healthcheck" in services[needed] or (
                image_checks and "build" in services[needed]
            )
            assert has_check, f"{name} waits on {needed}, which has no health check"
        assert service.get("cap_drop") == ["ALL"], name
        assert service.get("read_only") is True, name
    assert services["bot"]["profiles"] == ["demo"]
    assert services["master"]["environment"]["LOCUST_EXPECT_WORKERS_MAX_WAIT"]


def test_compose_secrets_come_from_a_git_ignored_env_file_with_a_committed_example():
    text = (DEPLOY / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text)) - {"CHATSTORM_IMAGE"}
    example = (DEPLOY / ".env.example").read_text()
    assert used <= set(re.findall(r"^([A-Z_]+)=", example, re.M))
    assert "deploy/.env" in (REPO / ".gitignore").read_text().splitlines()
    check = _run("git", "check-ignore", "-q", "deploy/.env")
    assert check.returncode == 0


def test_compose_and_kubernetes_use_real_locust_and_chatstorm_settings():
    known = _locust_settings()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    names = {n for s in compose["services"].values() for n in s.get("environment", {})}
    for kustomization in ("deploy/k8s/base", "deploy/k8s/overlays/ci"):
        names |= {n for _, _, c in _containers(_rendered(kustomization)) for n in _env(c)}
    settings = {n for n in names if n.startswith(("LOCUST_", "CHATSTORM_BOT"))}
    assert settings and settings <= known, settings - known


@pytest.mark.parametrize("kustomization", ["deploy/k8s/base", "deploy/k8s/overlays/ci"])
def test_every_kubernetes_object_validates_against_the_schemas(kustomization):
    objects = _rendered(kustomization)
    assert {"Service", "Deployment", "ConfigMap"} <= {o["kind"] for o in objects}
    for obj in objects:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)


@pytest.mark.parametrize("kustomization", ["deploy/k8s/base", "deploy/k8s/overlays/ci"])
def test_every_container_runs_locked_down_and_sized(kustomization):
    for obj, pod, container in _containers(_rendered(kustomization)):
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert isinstance(pod["securityContext"]["runAsUser"], int), where
        context = container["securityContext"]
        assert context["capabilities"]["drop"] == ["ALL"], where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["allowPrivilegeEscalation"] is False, where
        assert container["resources"]["requests"]["cpu"], where
        assert pod["automountServiceAccountToken"] is False, where


def test_the_ci_run_is_a_job_that_ends_and_stays_ended():
    objects = _rendered("deploy/k8s/overlays/ci")
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("Job", "master") in kinds and ("Deployment", "master") not in kinds
    assert ("Job", "worker") in kinds and ("Deployment", "worker") not in kinds
    master = next(o for o in objects if o["kind"] == "Job" and o["metadata"]["name"] == "master")
    spec = master["spec"]
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and len(pod["containers"]) == 1  # no sidecar
    env = _env(pod["containers"][0])
    assert env["LOCUST_HEADLESS"] == "true" and int(env["LOCUST_EXPECT_WORKERS"]) > 0
    assert int(env["LOCUST_EXPECT_WORKERS_MAX_WAIT"]) > 0
    assert "--report-dir" in pod["containers"][0]["args"]
    service = next(
        o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "master"
    )
    labels = spec["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()  # workers reach the Job


def test_every_master_sets_how_long_to_wait_for_its_workers():
    for kustomization in ("deploy/k8s/base", "deploy/k8s/overlays/ci"):
        for obj, _, container in _containers(_rendered(kustomization)):
            if obj["metadata"]["name"] == "master":
                assert _env(container).get("LOCUST_EXPECT_WORKERS_MAX_WAIT"), kustomization
