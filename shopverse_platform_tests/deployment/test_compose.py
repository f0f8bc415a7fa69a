"""docker-compose.yml, its .env.example, Dockerfile and deploy/, checked offline (no Docker engine).

The compose schema itself is checked by check-jsonschema; everything else here is what the schema
cannot see: references between services, volumes and variables, pinned images, published ports,
secrets, and agreement between the compose file, the instance file and its local process twin.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from shopverse_platform.cli import stack
from shopverse_platform.lib.paths import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DEPLOY = PROJECT_ROOT / "deploy"
DAGSTER_SERVICES = ("code-location", "dagster-webserver", "dagster-daemon")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|WEBHOOK|API_KEY")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; "$$" is a literal "$".
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolations(text: str) -> list[tuple[str, str, str]]:
    """(name, operator, argument) of every variable reference in a compose file."""
    return [m.groups("") for m in INTERPOLATION.finditer(text.replace("$$", ""))]


def named_volumes(service: dict) -> list[str]:
    sources = []
    for mount in service.get("volumes", []):
        source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source", "")
        if source and not source.startswith((".", "/", "~")):
            sources.append(source)
    return sources


def test_compose_file_matches_the_compose_specification():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_has_every_service_of_the_platform(compose):
    images = {name: service.get("image", "") for name, service in compose["services"].items()}
    assert images["postgres"].startswith("postgres:")
    assert images["marquez"].startswith("marquezproject/marquez:")
    assert images["marquez-web"].startswith("marquezproject/marquez-web:")
    commands = {name: " ".join(service.get("command", [])) for name, service in compose["services"].items()}
    assert commands["code-location"].startswith("dagster api grpc -m shopverse_platform.definitions")
    assert commands["dagster-webserver"].startswith("dagster-webserver")
    assert commands["dagster-daemon"].startswith("dagster-daemon run")
    assert commands["mlflow"].startswith("mlflow server")
    for name in (*DAGSTER_SERVICES, "mlflow"):
        assert compose["services"][name]["build"]["dockerfile"] == "Dockerfile", name


def test_every_referenced_service_and_volume_is_defined(compose):
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    used_volumes = set()
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency} to be healthy: it needs a healthcheck"
        assert "healthcheck" in service, f"{name} has no healthcheck"
        for volume in named_volumes(service):
            assert volume in declared_volumes, f"{name} mounts undeclared volume {volume}"
            used_volumes.add(volume)
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).exists(), f"{name} bind-mounts missing {source}"
    assert declared_volumes == used_volumes, f"declared but unused: {declared_volumes - used_volumes}"


def test_every_variable_is_in_env_example_with_the_same_default(env_example):
    references = interpolations(COMPOSE.read_text())
    names = {name for name, _, _ in references}
    assert names - set(env_example) == set(), "variables used by docker-compose.yml but missing from .env.example"
    assert set(env_example) - names == set(), "variables in .env.example that docker-compose.yml never uses"
    for name, operator, argument in references:
        if operator == ":-":
            assert env_example[name] == argument, f"{name}: compose default {argument!r} != .env.example {env_example[name]!r}"
        elif operator == ":?":
            assert env_example[name] == "", f"{name} is required and secret: .env.example must leave it empty"
        else:
            pytest.fail(f"${{{name}}} without a default or a required marker")


def test_no_secret_in_the_repository(compose, env_example):
    for name, value in env_example.items():
        if SECRET_NAME.search(name):
            assert value == "", f".env.example holds a value for the secret {name}"
    for service_name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+:[?-][^}]*\}", str(value)), f"{service_name}.{key} is not read from .env"
        uri = (service.get("environment") or {}).get("MLFLOW_BACKEND_STORE_URI")
        if uri:
            assert "${MLFLOW_PG_PASSWORD:?" in uri
    # The instance and Marquez files take every credential from the environment.
    assert re.findall(r"password: (.*)", (DEPLOY / "dagster.yaml").read_text()) == ["{env: DAGSTER_PG_PASSWORD}"]
    assert re.findall(r"password: (.*)", (DEPLOY / "marquez" / "marquez.yml").read_text()) == ["${MARQUEZ_DB_PASSWORD}"]
    assert ".env" in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()  # not sent to the build context


def test_env_file_is_git_ignored():
    """.env is the filled-in copy of .env.example, with the passwords: it must never be committed."""
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=PROJECT_ROOT)
    assert ignored.returncode == 0, ".env is not git-ignored: add '.env' to .gitignore"


def test_images_are_pinned_to_versions(compose, env_example):
    for name, service in compose["services"].items():
        image = service["image"]
        for ref, _, default in interpolations(image):
            image = image.replace(next(m.group(0) for m in INTERPOLATION.finditer(image) if m.group(1) == ref), default)
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and re.search(r"\d", tag), f"{name}: image {image} is not pinned"
    project_version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert env_example["SHOPVERSE_IMAGE_TAG"] == project_version
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    python_image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", python_image), "the image's Python must match requires-python (3.11)"
    uv_version = re.search(r"^ARG UV_VERSION=(\S+)$", dockerfile, re.M).group(1)
    assert f'UV_VERSION="{uv_version}"' in (PROJECT_ROOT / "scripts" / "setup.sh").read_text(), "same uv as scripts/setup.sh"
    assert "uv sync --locked" in dockerfile


def test_ports_are_bound_to_localhost_by_default(compose, env_example):
    assert env_example["BIND_ADDRESS"] == "127.0.0.1"
    published = {}
    for name, service in compose["services"].items():
        assert service.get("network_mode") != "host", name
        for port in service.get("ports", []):
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name} publishes {port} on every interface"
            published[name] = port
    # Only the UIs and the OpenLineage endpoint are reachable from the host; PostgreSQL and gRPC stay inside.
    assert set(published) == {"dagster-webserver", "mlflow", "marquez", "marquez-web"}
    host_ports = [re.search(r":-(\d+)}:\d+$", p).group(1) for p in published.values()]
    assert len(host_ports) == len(set(host_ports)), "two services on the same host port"


def test_dagster_processes_get_every_setting_the_instance_reads(compose):
    """deploy/dagster.yaml and deploy/workspace.yaml read {env: X}; each Dagster container and the
    local process twin (scripts/stack/prod_local.sh) must set every X."""
    wanted = set()
    for name in ("dagster.yaml", "workspace.yaml"):
        wanted |= set(re.findall(r"\{env: ([A-Z_]+)\}", (DEPLOY / name).read_text()))
    assert {"DAGSTER_PG_PASSWORD", "DAGSTER_MAX_CONCURRENT_RUNS", "DAGSTER_GRPC_PORT"} <= wanted
    for name in DAGSTER_SERVICES:
        missing = wanted - set(compose["services"][name]["environment"])
        assert not missing, f"{name} lacks {missing}"
    local = stack.prod_stack({"PATH": "/usr/bin"})
    for service in local.services:
        if service.name in ("grpc", "webserver", "daemon"):
            assert wanted <= set(service.env), f"prod_local {service.name} lacks {wanted - set(service.env)}"


def test_instance_is_postgres_with_a_queued_run_coordinator():
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    assert set(instance["storage"]) == {"postgres"}
    assert instance["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert instance["run_queue"]["max_concurrent_runs"] == {"env": "DAGSTER_MAX_CONCURRENT_RUNS"}
    assert instance["run_queue"]["tag_concurrency_limits"], "backfills should queue behind each other"
    assert "run_coordinator" not in instance  # run_queue configures the QueuedRunCoordinator
    # The embedded instance's run limits hold in production too (the warehouse is the same DuckDB file).
    embedded = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    embedded_runs = (embedded.get("concurrency") or {}).get("runs") or embedded.get("run_queue") or {}
    for limit in embedded_runs.get("tag_concurrency_limits") or []:
        assert limit in instance["run_queue"]["tag_concurrency_limits"], limit
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    assert [list(entry) for entry in workspace["load_from"]] == [["grpc_server"]]


def test_marquez_and_postgres_get_every_variable_their_files_read(compose):
    services = compose["services"]
    marquez_config = "\n".join(line for line in (DEPLOY / "marquez" / "marquez.yml").read_text().splitlines()
                               if not line.lstrip().startswith("#"))
    marquez_vars = set(re.findall(r"\$\{([A-Z_]+)\}", marquez_config))
    assert marquez_vars <= set(services["marquez"]["environment"]), marquez_vars - set(services["marquez"]["environment"])
    assert services["marquez"]["environment"]["MARQUEZ_CONFIG"] == "/opt/marquez/marquez.yml"
    init_vars = set(re.findall(r'"\$([A-Z_]+)"', (DEPLOY / "postgres" / "init-databases.sh").read_text()))
    assert init_vars <= set(services["postgres"]["environment"]), init_vars - set(services["postgres"]["environment"])
    # Each service connects with the role and database the init script creates for it.
    env = {name: service.get("environment") or {} for name, service in services.items()}
    for dagster in DAGSTER_SERVICES:
        assert env[dagster]["DAGSTER_PG_USER"] == env["postgres"]["DAGSTER_PG_USER"]
        assert env[dagster]["DAGSTER_PG_DB"] == env["postgres"]["DAGSTER_PG_DB"]
    assert env["marquez"]["MARQUEZ_DB_USER"] == env["postgres"]["MARQUEZ_DB_USER"]
    lake = env["code-location"]["SHOPVERSE_WAREHOUSE"]  # the DuckLake catalog: the init script's database and role
    assert lake.startswith("ducklake:postgres:") and "host=postgres" in lake
    assert f"dbname={env['postgres']['SHOPVERSE_LAKE_PG_DB']}" in lake and f"user={env['postgres']['SHOPVERSE_LAKE_PG_USER']}" in lake
    assert env["code-location"]["PGPASSWORD"] == env["postgres"]["SHOPVERSE_LAKE_PG_PASSWORD"]
    uri = env["mlflow"]["MLFLOW_BACKEND_STORE_URI"]
    assert uri.startswith(f"postgresql+psycopg2://{env['postgres']['MLFLOW_PG_USER']}:")
    assert uri.endswith(f"@postgres:5432/{env['postgres']['MLFLOW_PG_DB']}")


def test_dockerfile_copies_only_files_the_build_context_keeps():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    ignored = [line.strip() for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith(("#", "!"))]
    sources = []
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += line.split()[1:-1]
    assert {"pyproject.toml", "uv.lock", "shopverse_platform", "deploy"} <= set(sources)
    for source in sources:
        assert (PROJECT_ROOT / source).exists(), f"Dockerfile copies missing {source}"
        assert not any(Path(source).match(pattern.lstrip("*/")) for pattern in ignored), f"{source} is excluded by .dockerignore"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_scripts_parse():
    for script in ("scripts/stack/prod_local.sh", "scripts/install_browser.sh", "deploy/postgres/init-databases.sh"):
        result = subprocess.run(["bash", "-n", script], cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert result.returncode == 0, f"{script}: {result.stderr}"
