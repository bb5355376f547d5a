"""The container and Kubernetes files agree with each other and with the real app.

Fast checks only: hadolint on the Dockerfile, the manifests against Kubernetes' own schemas,
and the paths, ports, user and build context they name checked against the app and the repo.
Building and running the image is `make image-test`.
"""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from starlette.routing import Route

from serving.app import create_app
from serving.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
MANIFESTS = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # an old, still common release: the manifests must not need newer


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
        else:
            joined.append(pending)
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in joined]


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage: the image that ships."""
    instructions = dockerfile_instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def image_env() -> dict[str, str]:
    """The ENV values the shipped image sets."""
    env = {}
    for name, args in runtime_stage():
        if name == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(args))
    return env


def context_sources() -> list[str]:
    """What the Dockerfile copies from the build context (not from another stage)."""
    sources = []
    for name, args in dockerfile_instructions():
        words = args.split()
        if name in ("COPY", "ADD") and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[:-1] if not w.startswith("--")]
    return sources


def manifest(name: str) -> dict:
    return yaml.safe_load((MANIFESTS / name).read_text())


def server_container() -> dict:
    (container,) = manifest("deployment.yaml")["spec"]["template"]["spec"]["containers"]
    return container


def get_routes() -> set[str]:
    """Paths the real app answers GET on (routes are declared before anything is loaded)."""
    app = create_app(Settings())
    return {r.path for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ())}


def dockerignore_excludes(path: str) -> bool:
    """Whether Docker leaves `path` out of the context: last matching line wins, `!` re-adds,
    and a pattern matching a parent directory matches everything below it."""
    excluded = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def test_hadolint_passes_the_dockerfile():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["deployment.yaml", "service.yaml", "hpa.yaml"])
def test_manifest_is_valid_kubernetes(name):
    """Strict: a misspelt field (e.g. `readinesProbe`) fails instead of being ignored."""
    kubernetes_validate.validate(manifest(name), KUBERNETES_VERSION, strict=True)


def test_image_ships_only_the_runtime_and_runs_as_non_root():
    sources = context_sources()
    # deploy/slim-venv.sh runs in the builder stage only; the runtime stage copies the rest.
    assert sorted(sources) == [
        "artifacts/",
        "deploy/slim-venv.sh",
        "feedback/",
        "pyproject.toml",
        "recognizer/",
        "serving/",
        "web/",
    ]
    runtime_copies = {args.split()[0] for name, args in runtime_stage() if name == "COPY"}
    assert "deploy/slim-venv.sh" not in runtime_copies
    (user,) = [args for name, args in runtime_stage() if name == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "Kubernetes' runAsNonRoot needs a numeric non-root USER"
    pod_security = manifest("deployment.yaml")["spec"]["template"]["spec"]["securityContext"]
    assert pod_security["runAsUser"] == int(uid)
    assert pod_security["runAsNonRoot"] is True


def test_base_image_and_python_version_agree():
    """One base for both stages, named once."""
    bases = {args.split()[0] for name, args in dockerfile_instructions() if name == "FROM"}
    (arg,) = [a for name, a in dockerfile_instructions() if name == "ARG" and "PYTHON_IMAGE" in a]
    assert bases == {"${PYTHON_IMAGE}"}
    assert arg == "PYTHON_IMAGE=python:3.11-slim"


def test_image_listens_on_all_interfaces_on_the_exposed_port():
    env = image_env()
    (exposed,) = [args for name, args in runtime_stage() if name == "EXPOSE"]
    assert env["HOST"] == "0.0.0.0"
    assert int(exposed) == int(env["PORT"]) == Settings().port


def test_image_paths_point_at_what_it_copies():
    env = image_env()
    workdir = [args for name, args in runtime_stage() if name == "WORKDIR"][-1]
    assert env["MODEL_PATH"] == f"{workdir}/artifacts/digit_cnn.onnx"
    assert env["WEB_DIR"] == f"{workdir}/web"


def test_healthcheck_uses_a_route_of_the_app():
    (healthcheck,) = [args for name, args in runtime_stage() if name == "HEALTHCHECK"]
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[0] == "python", "the slim base has no curl or wget"
    (path,) = re.findall(r"/health[/a-z]*", command[-1])
    assert path in get_routes()


def test_probes_use_routes_of_the_app_on_the_container_port():
    container = server_container()
    routes = get_routes()
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    env = {item["name"]: item.get("value") for item in container["env"]}
    for probe, path in [("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")]:
        assert container[probe]["httpGet"]["path"] == path
        assert path in routes
        port = container[probe]["httpGet"]["port"]
        assert port in ports or port in ports.values()
    (exposed,) = [args for name, args in runtime_stage() if name == "EXPOSE"]
    assert set(ports.values()) == {int(exposed)} == {int(env["PORT"])}


def test_probe_paths_answer_200_on_the_running_app(client):
    for probe in ("readinessProbe", "livenessProbe"):
        path = server_container()[probe]["httpGet"]["path"]
        assert client.get(path).status_code == 200, path


def test_image_test_fixture_is_recognised_by_the_committed_model(client):
    """`make image-test` expects this digit; a new model must still read it, or the fixture
    (or EXPECT) must change with it."""
    script = (ROOT / "deploy" / "image-test.sh").read_text()
    fixture = re.search(r"^FIXTURE=(\S+)$", script, re.MULTILINE).group(1)
    expect = int(re.search(r"^EXPECT=(\d)$", script, re.MULTILINE).group(1))
    png = (ROOT / fixture).read_bytes()
    answer = client.post("/predict", content=png, headers={"Content-Type": "image/png"}).json()
    assert answer["digit"] == expect, answer


def test_container_is_locked_down_and_sized():
    container = server_container()
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])


def test_feedback_has_a_writable_place_under_the_read_only_root():
    """Feedback is on by default: the image's FEEDBACK_DB directory is a volume in the pod,
    and the PostgreSQL URL and export token, which hold secrets, come from a Secret."""
    container = server_container()
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    sqlite_dir = str(Path(image_env()["FEEDBACK_DB"]).parent)
    assert sqlite_dir in mounts
    volumes = manifest("deployment.yaml")["spec"]["template"]["spec"]["volumes"]
    assert mounts[sqlite_dir] in {volume["name"] for volume in volumes}
    env = {item["name"]: item for item in container["env"]}
    for name in ("FEEDBACK_DB", "FEEDBACK_TOKEN"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_service_and_autoscaler_reach_the_deployment():
    deployment, service, hpa = (manifest(f"{n}.yaml") for n in ("deployment", "service", "hpa"))
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container_ports = {port["name"] for port in server_container()["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    replicas = deployment["spec"]["replicas"]
    assert hpa["spec"]["minReplicas"] <= replicas <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize(
    "path",
    [
        "training/train.py",
        "tests/test_api.py",
        ".venv/bin/python",
        ".git/HEAD",
        "runs/20261124/model.keras",
        "bench/digits.py",
        "serving/__pycache__/app.cpython-311.pyc",
        "README.md",
    ],
)
def test_dockerignore_keeps_out(path):
    assert dockerignore_excludes(path)


@pytest.mark.parametrize("source", context_sources())
def test_dockerignore_keeps_what_the_dockerfile_copies(source):
    probe = source + "x" if source.endswith("/") else source
    assert not dockerignore_excludes(probe)
