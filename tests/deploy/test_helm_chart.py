"""The Helm chart (deploy/helm/alexandria): lint, render, validate, and check what it promises.

`helm lint --strict`, `helm template` with the default values and with values that switch every
option on, `kubeconform -strict` against the Kubernetes schemas (offline), and assertions on the
rendered objects: one Deployment per service running `python -m services.<name>`, settings from
the ConfigMap and secrets from a Secret, no secret in the ConfigMap, secure defaults on every
container, probes on the metrics port, the migration hook Job, and the optional monitoring
objects (ServiceMonitor, PrometheusRule, Grafana dashboard ConfigMap) reading only the metrics the
services export. kubeconform has no offline schema for the Prometheus Operator's kinds: they are
skipped there and checked against a hand-written subset of their CRDs here.

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
# Prometheus Operator kinds (monitoring.coreos.com/v1) the chart may render.
OPERATOR_KINDS = ("ServiceMonitor", "PrometheusRule")

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


def is_dashboard(obj: dict[str, Any]) -> bool:
    return obj["kind"] == "ConfigMap" and "grafana_dashboard" in obj["metadata"].get("labels", {})


def settings_config_maps(scenario: str, *, hooks: bool = False) -> list[dict[str, Any]]:
    """The ConfigMaps holding the settings (the release's, or with `hooks` every copy), not the
    optional Grafana dashboard's."""
    found = of_kind(scenario, "ConfigMap") if hooks else release_objects(scenario, "ConfigMap")
    return [obj for obj in found if not is_dashboard(obj)]


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
    # No schema offline for the Prometheus Operator's kinds: skipped here, and checked by
    # test_operator_objects_have_the_crd_shape instead.
    result = run(
        kubeconform(), "-strict", "-summary", "-kubernetes-version", version,
        "-schema-location", location, "-skip", ",".join(OPERATOR_KINDS), manifests,
    )  # fmt: skip
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"kubeconform ({scenario}, Kubernetes {version}):\n{report}"
    skipped = sum(len(of_kind(scenario, kind)) for kind in OPERATOR_KINDS)
    assert re.search(rf"Invalid: 0, Errors: 0, Skipped: {skipped}\b", report), report
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
    # The ServiceMonitor is optional (values-options.yaml switches it on; see below).
    assert bool(of_kind(scenario, "ServiceMonitor")) == (scenario == "options")
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


# --- monitoring: ServiceMonitor, PrometheusRule, Grafana dashboard (all optional) -------------

DASHBOARD = CHART / "dashboards" / "alexandria.json"
# The metrics the services export (shared/metrics.py), with the labels they carry: all the
# dashboard and the alerts may read.
METRICS = {
    "alexandria_events_total": {"service", "event", "outcome"},
    "alexandria_dead_letters_total": {"service"},
    "alexandria_handle_seconds": {"service"},  # a histogram
    "alexandria_last_commit_timestamp_seconds": {"service"},
    "alexandria_provider_calls_total": {"provider", "outcome"},
    "alexandria_consumer_lag": {"group", "topic", "partition"},
    "alexandria_quota_remaining": {"provider"},
    "alexandria_months": {"status"},
    "alexandria_books_total": {"outcome"},
    "alexandria_resolution_rate": set(),
}
HISTOGRAMS = {"alexandria_handle_seconds"}
SERIES = set(METRICS) | {f"{h}_{part}" for h in HISTOGRAMS for part in ("bucket", "sum", "count")}
PROMQL_WORDS = {
    # aggregations, functions and keywords the expressions may use
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile",
    "rate", "irate", "increase", "delta", "deriv", "time", "vector", "scalar", "abs",
    "clamp_min", "clamp_max", "histogram_quantile", "label_replace", "absent",
    "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset",
}  # fmt: skip
DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)  # the CRDs' pattern for durations


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers left once strings, label
    matchers, ranges, grouping label lists, numbers and PromQL's own words are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text)
    text = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?\b", "", text)
    return set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text)) - PROMQL_WORDS


def test_metric_names_sees_every_metric_and_only_metrics() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (service, le) (rate(alexandria_handle_seconds_bucket"
        '{namespace=~"$namespace"}[$__rate_interval]))) and on (service) up > 0'
    )
    assert metric_names(expr) == {"alexandria_handle_seconds_bucket", "up"}
    assert metric_names('label_replace(x, "service", "$1", "group", ".*")') == {"x"}


def check_expr(expr: str, where: str) -> None:
    names = metric_names(expr)
    assert names, f"{where}: reads no metric: {expr}"
    assert names <= SERIES, f"{where}: unknown metrics {sorted(names - SERIES)} in {expr}"


def dashboard_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # inside collapsed rows


def test_dashboard_is_a_grafana_dashboard() -> None:
    import json

    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] == "alexandria-backfill"
    assert len(dashboard["uid"]) <= 40 and isinstance(dashboard["schemaVersion"], int)
    panels = list(dashboard_panels(dashboard))
    ids = [panel["id"] for panel in panels]
    assert all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids)), ids
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    rows = [panel["title"] for panel in panels if panel["type"] == "row"]
    assert rows == [
        "Pipeline progress", "Throughput", "Latency", "Consumer lag", "Providers", "Dead letters"
    ]  # fmt: skip
    used: set[str] = set()
    for panel in panels:
        where = f"panel {panel['id']} {panel['title']!r}"
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["targets"], where
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), where
        for target in panel["targets"]:
            check_expr(target["expr"], where)
            assert 'namespace=~"$namespace"' in target["expr"], where
            used |= metric_names(target["expr"])
    # Every metric is pictured somewhere (the histogram through its buckets).
    assert {name.removesuffix("_bucket") for name in used} >= set(METRICS)
    # No two panels overlap.
    cells = [
        (x, y)
        for panel in panels
        for x in range(panel["gridPos"]["x"], panel["gridPos"]["x"] + panel["gridPos"]["w"])
        for y in range(panel["gridPos"]["y"], panel["gridPos"]["y"] + panel["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells))


def test_dashboard_panels_group_by_labels_the_metrics_have() -> None:
    import json

    dashboard = json.loads(DASHBOARD.read_text())
    labels = set().union(*METRICS.values()) | {"le", "namespace"}
    for panel in dashboard_panels(dashboard):
        for target in panel.get("targets", []):
            for group in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", target["expr"]):
                assert {g.strip() for g in group.split(",")} <= labels, target["expr"]


@pytest.mark.parametrize("scenario", ["default", "inline-secrets"])
def test_monitoring_objects_are_off_by_default(scenario: str) -> None:
    for kind in OPERATOR_KINDS:
        assert not of_kind(scenario, kind), kind
    assert not [obj for obj in of_kind(scenario, "ConfigMap") if is_dashboard(obj)]
    values = _yaml().safe_load((CHART / "values.yaml").read_text())["metrics"]
    assert not values["serviceMonitor"]["enabled"]
    assert not values["prometheusRule"]["enabled"]
    assert not values["dashboard"]["enabled"]


def test_dashboard_configmap_for_the_grafana_sidecar() -> None:
    import json

    (config_map,) = [obj for obj in of_kind("options", "ConfigMap") if is_dashboard(obj)]
    metadata = config_map["metadata"]
    assert metadata["labels"]["grafana_dashboard"] == "1"
    assert metadata["namespace"] == "monitoring"
    assert metadata["annotations"] == {"grafana_folder": "Alexandria"}
    assert not hook_events(config_map)
    (key,) = config_map["data"]
    assert key.endswith(".json")
    assert json.loads(config_map["data"][key]) == json.loads(DASHBOARD.read_text())


def test_service_monitor_scrapes_every_metrics_service() -> None:
    (monitor,) = of_kind("options", "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "books"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["books"]}
    selector = spec["selector"]

    def selects(labels: dict[str, str]) -> bool:
        if not selector["matchLabels"].items() <= labels.items():
            return False
        for expression in selector.get("matchExpressions", []):
            assert expression["operator"] == "In"
            if labels.get(expression["key"]) not in expression["values"]:
                return False
        return True

    services = of_kind("options", "Service")
    selected = sorted(
        svc["metadata"]["name"] for svc in services if selects(svc["metadata"]["labels"])
    )
    assert selected == sorted(f"{RELEASE}-alexandria-{s}" for s in SERVICES)
    (endpoint,) = spec["endpoints"]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == (
        "metrics",
        "/metrics",
        "15s",
    )
    # The metrics' own `service` label (scheduler, ...) wins over the Service-name target label.
    assert endpoint["honorLabels"] is True
    for svc in services:
        assert "metrics" in {port["name"] for port in svc["spec"]["ports"]}


def test_service_monitor_needs_the_metrics_services() -> None:
    result = run(
        helm(), "template", RELEASE, CHART, "--set", "metrics.serviceMonitor.enabled=true",
        "--set", "metrics.service.enabled=false",
    )  # fmt: skip
    assert result.returncode != 0
    assert "metrics.serviceMonitor.enabled needs metrics.service.enabled" in result.stderr


def test_service_monitor_leaves_out_a_disabled_service() -> None:
    result = run(
        helm(), "template", RELEASE, CHART, "--set", "metrics.serviceMonitor.enabled=true",
        "--set", "services.projector.enabled=false",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (monitor,) = [
        o for o in _yaml().safe_load_all(result.stdout) if o and o["kind"] == "ServiceMonitor"
    ]
    (expression,) = monitor["spec"]["selector"]["matchExpressions"]
    assert expression["values"] == sorted(s for s in SERVICES if s != "projector")


def alerts(scenario: str) -> dict[str, dict[str, Any]]:
    (rule,) = of_kind(scenario, "PrometheusRule")
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}


def test_prometheus_rule_alerts_on_stalls_lag_and_dead_letters() -> None:
    (rule,) = of_kind("options", "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    found = alerts("options")
    assert sorted(found) == [
        "AlexandriaConsumerLagHigh", "AlexandriaDeadLetters", "AlexandriaServiceStalled"
    ]  # fmt: skip
    for name, alert in found.items():
        check_expr(alert["expr"], name)
        assert alert["labels"]["team"] == "books", name
        assert alert["labels"]["severity"] in ("warning", "critical"), name
        assert DURATION.match(alert["for"]), name
        # Prometheus's own templating reaches the rule: Helm left it alone.
        assert "{{ $labels." in alert["annotations"]["summary"], name
    stall = " ".join(found["AlexandriaServiceStalled"]["expr"].split())
    assert (
        "time() - max by (namespace, service) (alexandria_last_commit_timestamp_seconds)" in stall
    )
    assert re.search(r"> 900 and on \(namespace, service\)", stall), stall
    assert "alexandria_consumer_lag" in stall and stall.endswith("> 0")
    lag = found["AlexandriaConsumerLagHigh"]
    assert " ".join(lag["expr"].split()).endswith("> 50000") and lag["for"] == "1h"
    dead = found["AlexandriaDeadLetters"]
    assert "increase(alexandria_dead_letters_total[15m])" in dead["expr"]
    assert dead["expr"].endswith("> 0")


def test_prometheus_rule_alerts_can_be_switched_off_one_by_one() -> None:
    result = run(
        helm(), "template", RELEASE, CHART, "--set", "metrics.prometheusRule.enabled=true",
        "--set", "metrics.prometheusRule.rules.consumerLag.enabled=false",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (rule,) = [
        o for o in _yaml().safe_load_all(result.stdout) if o and o["kind"] == "PrometheusRule"
    ]
    names = [r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]]
    assert names == ["AlexandriaServiceStalled", "AlexandriaDeadLetters"]


def _only_keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    assert isinstance(obj, dict), where
    assert set(obj) <= allowed, f"{where}: unknown fields {sorted(set(obj) - allowed)}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_operator_objects_have_the_crd_shape(scenario: str) -> None:
    """What kubeconform cannot check offline: the fields of the monitoring.coreos.com/v1 CRDs
    the chart uses, by hand (a subset of the Prometheus Operator's schemas)."""
    for obj in [o for kind in OPERATOR_KINDS for o in of_kind(scenario, kind)]:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert obj["apiVersion"] == "monitoring.coreos.com/v1", where
        _only_keys(obj, {"apiVersion", "kind", "metadata", "spec"}, where)
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", obj["metadata"]["name"]), where
        for field in ("labels", "annotations"):
            values = obj["metadata"].get(field, {})
            assert all(isinstance(v, str) for v in values.values()), f"{where}: {field}"
        spec = obj["spec"]
        if obj["kind"] == "ServiceMonitor":
            _only_keys(spec, {"jobLabel", "namespaceSelector", "selector", "endpoints"}, where)
            _only_keys(spec["selector"], {"matchLabels", "matchExpressions"}, where)
            _only_keys(spec["namespaceSelector"], {"matchNames", "any"}, where)
            for expression in spec["selector"].get("matchExpressions", []):
                _only_keys(expression, {"key", "operator", "values"}, where)
                assert expression["operator"] in ("In", "NotIn", "Exists", "DoesNotExist")
            assert spec["endpoints"], where
            for endpoint in spec["endpoints"]:
                _only_keys(
                    endpoint,
                    {"port", "path", "scheme", "interval", "scrapeTimeout", "honorLabels",
                     "relabelings", "metricRelabelings"},
                    where,
                )  # fmt: skip
                assert isinstance(endpoint["port"], str) and endpoint["path"].startswith("/")
                assert endpoint["scheme"] in ("http", "https")
                for duration in ("interval", "scrapeTimeout"):
                    if duration in endpoint:
                        assert DURATION.match(endpoint[duration]), f"{where}: {duration}"
                assert isinstance(endpoint["honorLabels"], bool)
        else:
            _only_keys(spec, {"groups"}, where)
            for group in spec["groups"]:
                _only_keys(group, {"name", "interval", "rules"}, where)
                assert group["name"] and group["rules"], where
                for rule in group["rules"]:
                    _only_keys(
                        rule, {"alert", "record", "expr", "for", "labels", "annotations"}, where
                    )
                    assert ("alert" in rule) != ("record" in rule), where
                    assert isinstance(rule["expr"], str) and rule["expr"].strip(), where
                    assert DURATION.match(rule.get("for", "0")), where
                    for field in ("labels", "annotations"):
                        assert all(isinstance(v, str) for v in rule.get(field, {}).values())


# --- configuration and secrets ----------------------------------------------------------------


def env_sources(container: dict[str, Any]) -> tuple[list[str], list[str]]:
    config_maps = [e["configMapRef"]["name"] for e in container["envFrom"] if "configMapRef" in e]
    secrets = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
    return config_maps, secrets


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_services_take_config_from_the_configmap_and_secrets_from_the_secret(
    scenario: str,
) -> None:
    (config_map,) = settings_config_maps(scenario)
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
    data = settings_config_maps("options")[0]["data"]
    assert data["ALEXANDRIA_KAFKA_SSL_CAFILE"] == "/etc/alexandria/kafka-ca/ca.crt"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_configmap_holds_known_settings_and_no_secret(scenario: str) -> None:
    from shared.settings import FLAT_NAMES

    for config_map in settings_config_maps(scenario, hooks=True):
        for key in config_map["data"]:
            assert key.startswith("ALEXANDRIA_"), key
            field = key.removeprefix("ALEXANDRIA_").lower()
            assert field in FLAT_NAMES, f"{key} is not a setting of shared/settings.py"
            assert not SECRET_FIELD.search(key), f"{key} is a secret, in a ConfigMap"
            assert key != "ALEXANDRIA_INSTANCE_ID"
    data = settings_config_maps(scenario)[0]["data"]
    assert data["ALEXANDRIA_METRICS_PORT"] == str(METRICS_PORT)
    assert data["ALEXANDRIA_METRICS_HOST"] == "0.0.0.0"
    rates = {k: v for k, v in data.items() if k.endswith("_RATE_PER_S")}
    assert len(rates) == 8, rates  # every provider's rate limit, 0 included
    assert rates["ALEXANDRIA_ISBNDB_RATE_PER_S"] == ("5" if scenario == "options" else "1")


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
    for key, value in settings_config_maps(scenario)[0]["data"].items():
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
    data = settings_config_maps("default")[0]["data"]
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
        obj["metadata"]["name"]: obj
        for obj in settings_config_maps(scenario, hooks=True)
        if hook_events(obj)
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
    assert hook_config_maps[config_map]["data"] == settings_config_maps(scenario)[0]["data"]
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
