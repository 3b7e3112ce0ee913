"""The Helm chart (deploy/helm/alexandria): lint, render, validate, and check what it promises.

`helm lint --strict`, `helm template` with the default values and with values that switch every
option on, `kubeconform -strict` against the Kubernetes schemas (offline), and assertions on the
rendered objects: one Deployment per service running `python -m services.<name>`, settings from
the ConfigMap and secrets from a Secret, no secret in the ConfigMap, secure defaults on every
container, probes on the metrics port, the migration hook Job.

The tools live in <repo>/.tools, installed by deploy/tools/install-helm.sh; when they are missing
these tests fail (never skip) and say so.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    import yaml
except ModuleNotFoundError:  # reported by the tests that need it, not at collection
    yaml = None

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "alexandria"
INSTALL_SCRIPT = REPO / "deploy" / "tools" / "install-helm.sh"
TOOLS = REPO / ".tools"
HELM = TOOLS / "bin" / "helm"
KUBECONFORM = TOOLS / "bin" / "kubeconform"
SCHEMAS = TOOLS / "kubernetes-json-schema"
OPTIONS = Path(__file__).with_name("values-options.yaml")

SERVICES = ("scheduler", "generator", "resolver", "enricher", "projector")
RELEASE = "books"
METRICS_PORT = 9100
UID = 10001
SECRET_FIELD = re.compile(r"(API_KEY|PASSWORD|DATABASE_URL)$")

# Secret values that must end up in the Secret and nowhere else.
SENTINELS = {
    "secret.databaseUrl": "postgresql://alexandria:sentinel-db-pw@pg-rw:5432/alexandria",
    "secret.kafkaSaslPassword": "sentinel-sasl-password",
    "secret.apiKeys.isbndb": "sentinel-isbndb-key",
    "secret.apiKeys.googleBooks": "sentinel-google-key",
    "secret.apiKeys.gemini": "sentinel-gemini-key",
    "secret.apiKeys.xai": "sentinel-xai-key",
    "secret.apiKeys.openaiCompat": "sentinel-openai-compat-key",
}
SCENARIOS: dict[str, list[str]] = {
    "default": [],
    "options": ["--values", str(OPTIONS)],
    # The chart's own Secret filled in, the database URL from it rather than CloudNativePG's.
    "inline-secrets": ["--set-string", "database.urlSecret.name="]
    + [arg for key, value in SENTINELS.items() for arg in ("--set-string", f"{key}={value}")],
}


# --- tools ------------------------------------------------------------------------------------


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.fail(
            f"{what} not found at {path.relative_to(REPO)}: run deploy/tools/install-helm.sh "
            "(`make tools`) to install it",
            pytrace=False,
        )
    return path


def helm() -> Path:
    return _require(HELM, "helm")


def kubeconform() -> Path:
    return _require(KUBECONFORM, "kubeconform")


def kubernetes_versions() -> list[str]:
    """The Kubernetes versions install-helm.sh fetched schemas for (its KUBERNETES_VERSIONS)."""
    found = re.search(r'^KUBERNETES_VERSIONS="([^"]+)"', INSTALL_SCRIPT.read_text(), re.M)
    assert found, f"no KUBERNETES_VERSIONS line in {INSTALL_SCRIPT}"
    return found.group(1).split()


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=120, check=False
    )


def _yaml() -> Any:
    if yaml is None:
        pytest.fail(
            "PyYAML is not installed: add `PyYAML>=6` to the dev extras in pyproject.toml "
            "and run `make setup`",
            pytrace=False,
        )
    return yaml


@functools.cache
def _template(scenario: str) -> subprocess.CompletedProcess[str]:
    return run(helm(), "template", RELEASE, CHART, "--namespace", "books", *SCENARIOS[scenario])


def rendered(scenario: str) -> str:
    result = _template(scenario)
    assert result.returncode == 0, f"helm template ({scenario}) failed:\n{result.stderr}"
    return result.stdout


def objects(scenario: str) -> list[dict[str, Any]]:
    return [doc for doc in _yaml().safe_load_all(rendered(scenario)) if doc]


def of_kind(scenario: str, kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects(scenario) if obj["kind"] == kind]


def one(scenario: str, kind: str, name: str) -> dict[str, Any]:
    matches = [obj for obj in of_kind(scenario, kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_specs(scenario: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects(scenario):
        if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return pod.get("initContainers", []) + pod["containers"]


def hook_events(obj: dict[str, Any]) -> set[str]:
    hook = obj["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    return set(filter(None, hook.split(",")))


def release_objects(scenario: str, kind: str) -> list[dict[str, Any]]:
    """Objects of the release proper, not Helm hooks."""
    return [obj for obj in of_kind(scenario, kind) if not hook_events(obj)]


def deployment(scenario: str, service: str) -> dict[str, Any]:
    return one(scenario, "Deployment", f"{RELEASE}-alexandria-{service}")


def load_values(scenario: str) -> dict[str, Any]:
    values = _yaml().safe_load((CHART / "values.yaml").read_text())
    if scenario == "options":
        values = _merge(values, _yaml().safe_load(OPTIONS.read_text()))
    return values


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --- lint and schema validation -------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_strict(scenario: str) -> None:
    result = run(helm(), "lint", "--strict", CHART, *SCENARIOS[scenario])
    assert result.returncode == 0, (
        f"helm lint --strict ({scenario}):\n{result.stdout}{result.stderr}"
    )


@pytest.mark.parametrize("version", kubernetes_versions())
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_manifests_validate_against_kubernetes_schemas(
    scenario: str, version: str, tmp_path: Path
) -> None:
    schema_dir = _require(SCHEMAS / f"v{version}-local-strict", f"Kubernetes {version} schemas")
    manifests = tmp_path / f"{scenario}.yaml"
    manifests.write_text(rendered(scenario))
    location = f"{schema_dir}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json"
    result = run(
        kubeconform(), "-strict", "-summary", "-kubernetes-version", version,
        "-schema-location", location, manifests,
    )  # fmt: skip
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"kubeconform ({scenario}, Kubernetes {version}):\n{report}"
    assert re.search(r"Invalid: 0, Errors: 0, Skipped: 0", report), report
    assert not re.search(r"Summary: 0 resource", report), report


def test_render_fails_on_a_secret_in_extra_config() -> None:
    result = run(helm(), "template", RELEASE, CHART, "--set-string", "extraConfig.XAI_API_KEY=oops")
    assert result.returncode != 0
    assert "extraConfig.XAI_API_KEY is a secret" in result.stderr


def test_render_fails_on_a_shared_instance_id() -> None:
    result = run(helm(), "template", RELEASE, CHART, "--set-string", "extraConfig.INSTANCE_ID=a")
    assert result.returncode != 0
    assert "INSTANCE_ID" in result.stderr


def test_render_fails_without_a_database() -> None:
    result = run(helm(), "template", RELEASE, CHART, "--set-string", "database.urlSecret.name=")
    assert result.returncode != 0
    assert "no database URL" in result.stderr


# --- the services -----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_deployment_per_service_from_one_image(scenario: str) -> None:
    values = load_values(scenario)
    image = f"{values['image']['repository']}:{values['image']['tag'] or '0.1.0'}"
    names = sorted(obj["metadata"]["name"] for obj in of_kind(scenario, "Deployment"))
    assert names == sorted(f"{RELEASE}-alexandria-{service}" for service in SERVICES)
    for service in SERVICES:
        spec = deployment(scenario, service)["spec"]
        assert spec["replicas"] == values["services"][service]["replicas"]
        (container,) = spec["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", f"services.{service}"]
        assert container["image"] == image
        assert container["imagePullPolicy"] == values["image"]["pullPolicy"]


def test_options_replicas_and_per_service_resources() -> None:
    replicas = {s: deployment("options", s)["spec"]["replicas"] for s in SERVICES}
    assert replicas == {
        "scheduler": 2,
        "generator": 3,
        "resolver": 4,
        "enricher": 5,
        "projector": 6,
    }
    (resolver,) = deployment("options", "resolver")["spec"]["template"]["spec"]["containers"]
    assert resolver["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    (enricher,) = deployment("options", "enricher")["spec"]["template"]["spec"]["containers"]
    assert enricher["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_security_defaults_on_every_container(scenario: str) -> None:
    specs = list(pod_specs(scenario))
    assert len(specs) == len(SERVICES) + 1  # the Deployments and the migration Job
    for where, pod in specs:
        assert pod.get("automountServiceAccountToken") is False, where
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(flag), f"{where}: {flag}"
        pod_context = pod.get("securityContext", {})
        volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
        for container in containers(pod):
            at = f"{where} container {container['name']}"
            context = {**pod_context, **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") is True, at
            assert context.get("runAsUser") == UID, at
            assert context.get("seccompProfile") == {"type": "RuntimeDefault"}, at
            own = container.get("securityContext", {})
            assert own.get("readOnlyRootFilesystem") is True, at
            assert own.get("allowPrivilegeEscalation") is False, at
            assert not own.get("privileged"), at
            assert own.get("capabilities", {}).get("drop") == ["ALL"], at
            assert not own.get("capabilities", {}).get("add"), at
            for bound in ("requests", "limits"):
                assert set(container.get("resources", {}).get(bound, {})) >= {"cpu", "memory"}, (
                    f"{at}: resources.{bound}"
                )
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert len(tmp) == 1, f"{at}: no /tmp mount"
            assert "emptyDir" in volumes[tmp[0]["name"]], f"{at}: /tmp is not an emptyDir"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_probes_use_the_metrics_endpoint(scenario: str) -> None:
    for service in SERVICES:
        (container,) = deployment(scenario, service)["spec"]["template"]["spec"]["containers"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports == {"metrics": METRICS_PORT}
        for probe in ("livenessProbe", "readinessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] == "/metrics", f"{service} {probe}"
            assert ports.get(get["port"], get["port"]) == METRICS_PORT, f"{service} {probe}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_metrics_service_per_service_annotated_for_prometheus(scenario: str) -> None:
    assert not of_kind(scenario, "ServiceMonitor")
    services = {obj["metadata"]["name"]: obj for obj in of_kind(scenario, "Service")}
    assert sorted(services) == sorted(f"{RELEASE}-alexandria-{s}" for s in SERVICES)
    for service in SERVICES:
        svc = services[f"{RELEASE}-alexandria-{service}"]
        assert svc["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(METRICS_PORT),
            "prometheus.io/path": "/metrics",
        }
        (port,) = svc["spec"]["ports"]
        assert (port["port"], port["targetPort"]) == (METRICS_PORT, "metrics")
        pod_labels = deployment(scenario, service)["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= pod_labels.items()
        assert svc["spec"]["selector"]["app.kubernetes.io/component"] == service


def test_pod_disruption_budgets_are_optional() -> None:
    assert not of_kind("default", "PodDisruptionBudget")
    budgets = {obj["metadata"]["name"]: obj for obj in of_kind("options", "PodDisruptionBudget")}
    assert sorted(budgets) == sorted(f"{RELEASE}-alexandria-{s}" for s in SERVICES)
    for service in SERVICES:
        spec = budgets[f"{RELEASE}-alexandria-{service}"]["spec"]
        pod_labels = deployment("options", service)["spec"]["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
        assert spec["maxUnavailable"] == 1


def test_service_account_has_no_token() -> None:
    (account,) = of_kind("default", "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    for service in SERVICES:
        pod = deployment("default", service)["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert not of_kind("options", "ServiceAccount")
    for service in SERVICES:
        pod = deployment("options", service)["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "alexandria-runner"


# --- configuration and secrets ----------------------------------------------------------------


def env_sources(container: dict[str, Any]) -> tuple[list[str], list[str]]:
    config_maps = [e["configMapRef"]["name"] for e in container["envFrom"] if "configMapRef" in e]
    secrets = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
    return config_maps, secrets


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_services_take_config_from_the_configmap_and_secrets_from_the_secret(
    scenario: str,
) -> None:
    (config_map,) = release_objects(scenario, "ConfigMap")
    chart_secrets = release_objects(scenario, "Secret")
    if scenario == "options":
        assert not chart_secrets, "an existingSecret replaces the chart's Secret"
        secret_name = "alexandria-api-keys"
    else:
        (secret,) = chart_secrets
        secret_name = secret["metadata"]["name"]
    for service in SERVICES:
        (container,) = deployment(scenario, service)["spec"]["template"]["spec"]["containers"]
        assert env_sources(container) == ([config_map["metadata"]["name"]], [secret_name])


def test_operator_secrets_are_referenced_by_key() -> None:
    """CloudNativePG's <cluster>-app `uri` and Strimzi's KafkaUser `password` and cluster CA."""
    for service in SERVICES:
        pod = deployment("options", service)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
        assert refs == {
            "ALEXANDRIA_DATABASE_URL": {"name": "books-db-app", "key": "uri"},
            "ALEXANDRIA_KAFKA_SASL_PASSWORD": {"name": "alexandria", "key": "password"},
        }
        ca = [v for v in pod["volumes"] if v["name"] == "kafka-ca"]
        assert ca and ca[0]["secret"]["secretName"] == "my-cluster-cluster-ca-cert"
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["kafka-ca"]["readOnly"] is True
    data = release_objects("options", "ConfigMap")[0]["data"]
    assert data["ALEXANDRIA_KAFKA_SSL_CAFILE"] == "/etc/alexandria/kafka-ca/ca.crt"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_configmap_holds_known_settings_and_no_secret(scenario: str) -> None:
    from shared.settings import FLAT_NAMES

    for config_map in of_kind(scenario, "ConfigMap"):
        for key in config_map["data"]:
            assert key.startswith("ALEXANDRIA_"), key
            field = key.removeprefix("ALEXANDRIA_").lower()
            assert field in FLAT_NAMES, f"{key} is not a setting of shared/settings.py"
            assert not SECRET_FIELD.search(key), f"{key} is a secret, in a ConfigMap"
            assert key != "ALEXANDRIA_INSTANCE_ID"
    data = release_objects(scenario, "ConfigMap")[0]["data"]
    assert data["ALEXANDRIA_METRICS_PORT"] == str(METRICS_PORT)
    assert data["ALEXANDRIA_METRICS_HOST"] == "0.0.0.0"


def test_secret_values_are_in_the_secret_only() -> None:
    text = rendered("inline-secrets")
    for value in SENTINELS.values():
        assert value not in text, "a secret value appears in clear text"
    for secret in of_kind("inline-secrets", "Secret"):  # the release's and the hook's copy
        decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert decoded == {
            "ALEXANDRIA_DATABASE_URL": SENTINELS["secret.databaseUrl"],
            "ALEXANDRIA_KAFKA_SASL_PASSWORD": SENTINELS["secret.kafkaSaslPassword"],
            "ALEXANDRIA_ISBNDB_API_KEY": SENTINELS["secret.apiKeys.isbndb"],
            "ALEXANDRIA_GOOGLE_BOOKS_API_KEY": SENTINELS["secret.apiKeys.googleBooks"],
            "ALEXANDRIA_GEMINI_API_KEY": SENTINELS["secret.apiKeys.gemini"],
            "ALEXANDRIA_XAI_API_KEY": SENTINELS["secret.apiKeys.xai"],
            "ALEXANDRIA_OPENAI_COMPAT_API_KEY": SENTINELS["secret.apiKeys.openaiCompat"],
        }
    encoded = {base64.b64encode(v.encode()).decode() for v in SENTINELS.values()}
    for obj in objects("inline-secrets"):
        if obj["kind"] != "Secret":
            dumped = yaml.safe_dump(obj) if yaml else ""
            assert not any(value in dumped for value in encoded), obj["metadata"]["name"]


def clear_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ALEXANDRIA_"):
            monkeypatch.delenv(name)


def settings_from(scenario: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The services' settings as a pod of `scenario` would load them."""
    from shared.settings import load_settings

    clear_settings_env(monkeypatch)
    for key, value in release_objects(scenario, "ConfigMap")[0]["data"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ALEXANDRIA_DATABASE_URL", "postgresql://app:pw@books-db-rw:5432/app")
    return load_settings()


@pytest.mark.parametrize("scenario", ["default", "options"])
def test_the_services_accept_the_rendered_settings(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(scenario, monkeypatch)
    assert settings.telemetry.metrics_port == METRICS_PORT
    assert settings.telemetry.metrics_host == "0.0.0.0"
    if scenario == "options":
        assert settings.telemetry.otlp_endpoint == "http://jaeger-collector.observability:4318"
        assert settings.isbndb.daily_quota == 1_000_000  # not "1e+06"
        assert settings.http.backoff_max_s == 60
        assert settings.wikidata.timeout_s == 90.5
        assert settings.kafka.security_protocol == "SASL_SSL"
        assert settings.topics.prefix == "books-prod"
    else:
        assert settings.telemetry.otlp_endpoint is None


# Where the chart deliberately differs from shared/settings.py's defaults (which suit the
# local stack): the cluster's broker, replicated topics, metrics served to the cluster.
CLUSTER_DEFAULTS = {
    "kafka_bootstrap_servers",
    "topic_replication_factor",
    "metrics_port",
    "metrics_host",
}


def test_chart_defaults_match_the_services_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import Settings

    chart = settings_from("default", monkeypatch)
    clear_settings_env(monkeypatch)
    services = Settings()
    data = release_objects("default", "ConfigMap")[0]["data"]
    drifted = {
        field: (chart.setting(field), services.setting(field))
        for field in (key.removeprefix("ALEXANDRIA_").lower() for key in data)
        if field not in CLUSTER_DEFAULTS and chart.setting(field) != services.setting(field)
    }
    assert not drifted, f"values.yaml differs from shared/settings.py (chart, services): {drifted}"


# --- the migration Job ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_migration_job_runs_before_install_and_upgrade(scenario: str) -> None:
    (job,) = of_kind(scenario, "Job")
    assert hook_events(job) == {"pre-install", "pre-upgrade"}
    pod = job["spec"]["template"]["spec"]
    steps = [c["command"] for c in containers(pod)]
    assert steps == [["alexandria", "db", "migrate"], ["alexandria", "topics", "create"]]
    assert pod["restartPolicy"] == "Never"
    # Hooks run before the release's objects exist: the Job's ConfigMap (and the chart-managed
    # Secret) are hook copies created before it; others' Secrets are used directly.
    weight = int(job["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
    hook_config_maps = {
        obj["metadata"]["name"]: obj for obj in of_kind(scenario, "ConfigMap") if hook_events(obj)
    }
    hook_secrets = {
        obj["metadata"]["name"]: obj for obj in of_kind(scenario, "Secret") if hook_events(obj)
    }
    for container in containers(pod):
        (config_map,), (secret,) = env_sources(container)
        assert hook_events(hook_config_maps[config_map]) >= hook_events(job)
        before = int(hook_config_maps[config_map]["metadata"]["annotations"]["helm.sh/hook-weight"])
        assert before < weight
        if scenario == "options":
            assert secret == "alexandria-api-keys" and not hook_secrets
        else:
            assert hook_events(hook_secrets[secret]) >= hook_events(job)
    assert hook_config_maps[config_map]["data"] == release_objects(scenario, "ConfigMap")[0]["data"]
    if scenario == "default":
        # The chart's ServiceAccount does not exist yet either.
        assert "serviceAccountName" not in pod


def test_dockerfile_builds_a_non_root_image() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert re.search(r"pip install --no-cache-dir .*\.", dockerfile)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] == str(UID)
    # Every package the project installs is in the image (the CLI lives in ops/).
    pyproject = (REPO / "pyproject.toml").read_text()
    packages = re.search(r"^include = \[(.*)\]", pyproject, re.M)
    assert packages is not None
    for package in re.findall(r'"(\w+)\*"', packages.group(1)):
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.M), package
