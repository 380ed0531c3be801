"""Lint, render and validate the Helm chart offline (no helm binary, no cluster).

Run by deploy/validate.sh inside a throwaway venv that has helm-python-sdk
(Helm's own Go SDK through ctypes), PyYAML and kubernetes-validate. It:

1. runs `helm lint --strict` on the chart with the CI values;
2. renders the chart with several value sets (defaults, everything on,
   an existing Secret with the NATS URL in it, the NATS URL in the chart's
   Secret, one component disabled);
3. validates every built-in Kubernetes object against the OpenAPI schemas of
   the oldest supported and the newest Kubernetes, in strict mode (unknown
   fields are errors);
4. checks the invariants the deployment relies on (non-root, read-only root
   filesystem, native gRPC probes, PDBs, the gateway's targets, each
   component signing in to NATS with its own seed and the provisioner Job
   with the provisioner's, the placer Deployment with the migration Job's
   two logins and the services tenants are placed in, ...);
5. checks that values.schema.json rejects typical mistakes;
6. writes the PrometheusRule's groups to a file for `promtool check rules`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

from portico_common.dbsetup import placed_services

CHART = Path(__file__).resolve().parents[1] / "helm" / "portico"
KUBE_VERSIONS = ("1.27.0", "1.37.0")
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
GRPC_SERVICES = ("auth", "compat", "rollout", "security", "slo", "tenancy")
IDENTITIES_SECRET = "portico-nats-identities"  # noqa: S105 - a Secret's name
SECRETS = {
    "secret": {
        "databaseUrls": {
            svc: f"postgresql://portico_{svc}:x@db.example.internal:5432/portico"
            for svc in GRPC_SERVICES
        },
        "migratorDatabaseUrl": "postgresql://portico_migrator:x@db.example.internal:5432/portico",
        "authAdminClientSecret": "x",
        "authKeyEncryptionKey": "x",
        "serviceClientSecrets": {svc: f"client-{svc}" for svc in GRPC_SERVICES if svc != "auth"},
        "sloChannelSecretKey": "x",
        "tenancyKmsKey": "ab" * 32,
    },
    "nats": {"identitiesSecret": IDENTITIES_SECRET},
}
PROVISIONER_JOB = "portico-nats-provisioner"
# The placer's Deployment is no component: no Service, no NATS, no probes.
PLACER = "placer"


def component_deployments(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: dep
        for name, dep in by_kind(docs, "Deployment").items()
        if dep["metadata"]["labels"]["app.kubernetes.io/component"] != PLACER
    }


def load_values(name: str) -> dict[str, Any]:
    data = yaml.safe_load((CHART / "ci" / name).read_text())
    assert isinstance(data, dict)
    return data


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values)
        manifests = chart.render(values, name="portico", namespace="portico", is_install=True)
    docs: list[dict[str, Any]] = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("_source", path)
                docs.append(doc)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def validate_schemas(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        clean = {k: v for k, v in doc.items() if k != "_source"}
        if doc["kind"] in CRD_KINDS:
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(clean, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                raise SystemExit(
                    f"{doc['_source']}: {doc['kind']}/{doc['metadata']['name']} "
                    f"is invalid for Kubernetes {version}: {error.message} at {list(error.path)}"
                ) from error


def check_invariants(
    docs: list[dict[str, Any]], expect_components: set[str], *, expect_placer: bool
) -> None:
    deployments = component_deployments(docs)
    services = by_kind(docs, "Service")
    names = {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in deployments.values()}
    assert names == expect_components, f"components {sorted(names)} != {sorted(expect_components)}"
    for name, dep in deployments.items():
        component = dep["metadata"]["labels"]["app.kubernetes.io/component"]
        pod = dep["spec"]["template"]["spec"]
        assert name in services, f"no Service for {name}"
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", f"portico_{component}"], name
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, (
            name
        )
        assert sc["capabilities"]["drop"] == ["ALL"], name
        check_resilience(name, component, dep)
        env = {e["name"]: e for e in container["env"]}
        # The gateway holds no credentials; a service only its own database role.
        assert ("PORTICO_DATABASE_URL" in env) == (component != "gateway"), name
        if component != "gateway":
            key = env["PORTICO_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"]
            assert key == f"PORTICO_{component.upper()}_DATABASE_URL", (name, key)
        assert not [k for k in env if k.endswith("DATABASE_URL") and k != "PORTICO_DATABASE_URL"]
        # Behind PgBouncer the outbox relay LISTENs on its own service's direct URL, if given.
        assert ("PORTICO_DATABASE_LISTEN_URL" in env) == (component != "gateway"), name
        if component != "gateway":
            listen = env["PORTICO_DATABASE_LISTEN_URL"]["valueFrom"]["secretKeyRef"]
            assert listen["key"] == f"PORTICO_{component.upper()}_DATABASE_LISTEN_URL", name
            assert listen["optional"] is True, name
        check_credentials(name, component, env)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        metrics = {p["name"]: p for p in services[name]["spec"]["ports"]}["metrics"]
        if component == "gateway":
            # The gateway serves /metrics on its HTTP port.
            assert ports == {"http": 8080} and metrics["targetPort"] == "http", name
        else:
            assert ports == {"grpc": 50051, "metrics": 9100}, name
            assert metrics["targetPort"] == "metrics", name
        if component == "gateway":
            for svc in GRPC_SERVICES:
                if svc in expect_components:
                    target = env[f"PORTICO_GATEWAY_{svc.upper()}_TARGET"]["value"]
                    assert target == f"portico-{svc}.portico.svc:50051", target
        selector = dep["spec"]["selector"]["matchLabels"]
        assert services[name]["spec"]["selector"] == selector, name
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert all(labels[k] == v for k, v in selector.items()), name
    pdbs = by_kind(docs, "PodDisruptionBudget")
    assert set(pdbs) == set(deployments), "every component has a PodDisruptionBudget"
    check_db_setup(docs, expect_components - {"gateway"}, placer=expect_placer)
    check_placer(docs, expect_components, expect_placer=expect_placer)
    config = by_kind(docs, "ConfigMap")["portico-config"]
    assert config["data"]["PORTICO_GRPC_PORT"] == "50051"
    assert config["data"]["PORTICO_METRICS_PORT"] == "9100"


def check_resilience(name: str, component: str, dep: dict[str, Any]) -> None:
    """Probes on the right health names, resources, and replicas kept apart."""
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if component == "gateway":
            assert container[probe]["httpGet"]["path"] == "/healthz", (name, probe)
        else:
            assert container[probe]["grpc"]["port"] == 50051, (name, probe)
            # Liveness never follows the database: an outage must not restart pods.
            wanted = "portico.liveness" if probe == "livenessProbe" else ""
            assert container[probe]["grpc"]["service"] == wanted, (name, probe)
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"], name
    assert resources["limits"]["memory"], name
    anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    term = anti[0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname", name
    assert term["labelSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"], name


def check_credentials(name: str, component: str, env: dict[str, Any]) -> None:
    """A component's pod holds its own secrets and no one else's."""
    for auth_only in (
        "PORTICO_AUTH_ADMIN_CLIENT_SECRET",
        "PORTICO_AUTH_KEY_ENCRYPTION_KEY",
        "PORTICO_AUTH_SERVICE_CLIENT_SECRETS",
    ):
        assert (auth_only in env) == (component == "auth"), (name, auth_only)
    assert ("PORTICO_SLO_CHANNEL_SECRET_KEY" in env) == (component == "slo"), name
    # Only tenancy holds the KEK; the others learn where tenancy is from the ConfigMap.
    assert ("PORTICO_TENANCY_KMS_KEY" in env) == (component == "tenancy"), name
    # Every other service signs in to auth as its own client, with its own secret.
    calls_others = component not in ("auth", "gateway")
    assert ("PORTICO_AUTH_CLIENT_SECRET" in env) == calls_others, name
    if calls_others:
        assert env["PORTICO_AUTH_CLIENT_ID"]["value"] == f"svc-{component}", name
        key = env["PORTICO_AUTH_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["key"]
        assert key == f"PORTICO_{component.upper()}_CLIENT_SECRET", (name, key)


def check_listen_urls(docs: list[dict[str, Any]], values: dict[str, Any]) -> None:
    """The chart's Secret holds exactly the outbox LISTEN URLs the values give."""
    given = values.get("secret", {}).get("databaseListenUrls", {})
    wanted = {f"PORTICO_{svc.upper()}_DATABASE_LISTEN_URL": url for svc, url in given.items()}
    for secret in by_kind(docs, "Secret").values():
        data = secret.get("stringData", {})
        if any(key.endswith("_DATABASE_URL") for key in data):
            found = {k: v for k, v in data.items() if k.endswith("_DATABASE_LISTEN_URL")}
            assert found == wanted, (found, wanted)


def secret_refs(node: Any) -> list[tuple[str, str]]:
    """(Secret, key) of every secretKeyRef under `node`; key "*" for a whole-Secret reference."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        ref = node.get("secretKeyRef")
        if isinstance(ref, dict):
            found.append((ref["name"], ref["key"]))
        whole = node.get("secretRef") or node.get("secret")
        if isinstance(whole, dict):
            found.append((whole.get("name") or whole.get("secretName", ""), "*"))
        for value in node.values():
            found += secret_refs(value)
    elif isinstance(node, list):
        for value in node:
            found += secret_refs(value)
    return found


def identity_refs(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(variable, key) for each environment variable read from the NATS identities Secret."""
    containers = doc["spec"]["template"]["spec"]["containers"]
    return [
        (env["name"], env["valueFrom"]["secretKeyRef"]["key"])
        for container in containers
        for env in container.get("env", [])
        if env.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == IDENTITIES_SECRET
    ]


def check_nats_identities(docs: list[dict[str, Any]], expect_components: set[str]) -> None:
    """Every component signs in with its own seed only; the provisioner Job with its own."""
    deployments = component_deployments(docs)
    for name, dep in deployments.items():
        component = dep["metadata"]["labels"]["app.kubernetes.io/component"]
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        if component == "gateway":
            # The gateway never touches the bus.
            assert identity_refs(dep) == [], name
            assert not [k for k in env if k.startswith("PORTICO_NATS_")], name
        else:
            assert identity_refs(dep) == [("PORTICO_NATS_NKEY_SEED", component)], (
                name,
                identity_refs(dep),
            )
            assert env["PORTICO_NATS_PROVISIONED"]["value"] == "true", name
    seeded = {
        dep["metadata"]["labels"]["app.kubernetes.io/component"]
        for dep in deployments.values()
        if identity_refs(dep)
    }
    assert seeded == expect_components - {"gateway"}, seeded

    jobs = by_kind(docs, "Job")
    assert PROVISIONER_JOB in jobs, sorted(jobs)
    job = jobs[PROVISIONER_JOB]
    hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
    assert hooks == {"pre-install", "pre-upgrade"}, hooks
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "portico_common.events.provision"]
    images = {
        c["image"]
        for d in deployments.values()
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {container["image"]}, (images, container["image"])
    assert identity_refs(job) == [("PORTICO_NATS_NKEY_SEED", "provisioner")], identity_refs(job)
    env = {e["name"]: e for e in container["env"]}
    assert "PORTICO_NATS_PROVISIONED" not in env, "the provisioner creates; it does not only bind"
    assert "PORTICO_NATS_URL" in env
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Hooks run before the release's own objects exist: the Job may name none of them
    # (the chart's Secret or ConfigMap or ServiceAccount), only hooks that run before it.
    release_objects = {
        (d["kind"], d["metadata"]["name"])
        for d in docs
        if "helm.sh/hook" not in d["metadata"].get("annotations", {})
    }
    weight = int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    for secret, _ in secret_refs(job):
        assert ("Secret", secret) not in release_objects, f"the Job reads Secret {secret}"
        hook = by_kind(docs, "Secret").get(secret)
        if hook is not None:
            assert int(hook["metadata"]["annotations"]["helm.sh/hook-weight"]) < weight, secret
    assert "envFrom" not in container, "the ConfigMap does not exist yet at pre-install"
    assert ("ServiceAccount", pod.get("serviceAccountName")) not in release_objects

    # Nothing else in the release may read a seed (the placer, the helm test Pod, ...).
    for doc in docs:
        if (doc["kind"] == "Deployment" and doc["metadata"]["name"] in deployments) or doc is job:
            continue
        refs = [ref for ref in secret_refs(doc) if ref[0] == IDENTITIES_SECRET]
        assert refs == [], (doc["kind"], doc["metadata"]["name"], refs)


def check_db_setup(docs: list[dict[str, Any]], services: set[str], *, placer: bool) -> None:
    """The migration Job: a hook before the pods, the migrator's login, every enabled schema."""
    (job,) = [
        j
        for j in by_kind(docs, "Job").values()
        if j["spec"]["template"]["spec"]["containers"][0]["command"][2:3]
        == ["portico_common.dbsetup"]
    ]
    hooks = job["metadata"]["annotations"]["helm.sh/hook"]
    assert hooks == "pre-install,pre-upgrade", hooks
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    command = container["command"]
    assert command[:3] == ["python", "-m", "portico_common.dbsetup"], command
    assert set(command[command.index("--service") :][1::2]) == services, command
    env = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]}
    assert env["PORTICO_MIGRATOR_DATABASE_URL"] == "PORTICO_MIGRATOR_DATABASE_URL"
    provisions = "provision" in command
    assert ("PORTICO_ADMIN_DATABASE_URL" in env) == provisions, env
    # The service roles' URLs only to provision (their passwords), never otherwise.
    service_urls = {
        k for k in env if k not in {"PORTICO_MIGRATOR_DATABASE_URL", "PORTICO_ADMIN_DATABASE_URL"}
    }
    assert service_urls == (
        {f"PORTICO_{s.upper()}_DATABASE_URL" for s in services} if provisions else set()
    )
    # The chart's database Secret (other hook Secrets, such as the NATS URL's, hold no URLs).
    secrets = {
        name: secret
        for name, secret in by_kind(docs, "Secret").items()
        if any(key.endswith("_DATABASE_URL") for key in secret.get("stringData", {}))
    }
    for secret in secrets.values():
        # Rendered by the chart: created before the Job, which reads it.
        assert secret["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"
        keys = set(secret["stringData"])
        assert {f"PORTICO_{s.upper()}_DATABASE_URL" for s in services} <= keys, keys
        listen = {k for k in keys if k.endswith("_DATABASE_LISTEN_URL")}
        assert listen <= {f"PORTICO_{s.upper()}_DATABASE_LISTEN_URL" for s in services}, listen
        # The administrator's login only for those who use it.
        assert ("PORTICO_ADMIN_DATABASE_URL" in keys) == (provisions or placer), keys
        # auth's list of service clients is exactly the services' own secrets.
        clients = json.loads(secret["stringData"]["PORTICO_AUTH_SERVICE_CLIENT_SECRETS"])
        assert set(clients) == services - {"auth"}, clients
        for svc, value in clients.items():
            assert secret["stringData"][f"PORTICO_{svc.upper()}_CLIENT_SECRET"] == value, svc


def check_placer(docs: list[dict[str, Any]], components: set[str], *, expect_placer: bool) -> None:
    """The placer: the migration Job's two logins from its Secret, nothing else, and the
    enabled services a tenant is placed in (as `dbsetup place-pending` places by default)."""
    placers = [
        dep
        for dep in by_kind(docs, "Deployment").values()
        if dep["metadata"]["labels"]["app.kubernetes.io/component"] == PLACER
    ]
    assert len(placers) == int(expect_placer), [d["metadata"]["name"] for d in placers]
    if not placers:
        return
    (placer,) = placers
    assert placer["spec"]["replicas"] >= 1
    pod = placer["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "ports" not in container and "envFrom" not in container, container
    command = container["command"]
    assert command[:6] == [
        "python",
        "-m",
        "portico_common.dbsetup",
        "place-pending",
        "--watch",
        command[5],
    ], command
    assert float(command[5]) > 0, command
    placed = command[6:]
    assert placed[::2] == ["--service"] * (len(placed) // 2), command
    assert set(placed[1::2]) == set(placed_services()) & components, command
    (job,) = [
        j
        for j in by_kind(docs, "Job").values()
        if j["spec"]["template"]["spec"]["containers"][0]["command"][2:3]
        == ["portico_common.dbsetup"]
    ]
    (job_secret,) = {ref for ref, _ in secret_refs(job)}
    assert secret_refs(placer) == [
        (job_secret, "PORTICO_MIGRATOR_DATABASE_URL"),
        (job_secret, "PORTICO_ADMIN_DATABASE_URL"),
    ], secret_refs(placer)
    env = {e["name"] for e in container["env"]}
    assert env == {
        "PORTICO_MIGRATOR_DATABASE_URL",
        "PORTICO_ADMIN_DATABASE_URL",
        "PORTICO_LOG_LEVEL",
        "PORTICO_LOG_FORMAT",
    }, env
    # No other object but the migration Job holds the administrator's login.
    for doc in docs:
        if doc is placer or doc is job or doc["kind"] == "Secret":
            continue
        refs = [ref for ref in secret_refs(doc) if ref[1] == "PORTICO_ADMIN_DATABASE_URL"]
        assert refs == [], (doc["kind"], doc["metadata"]["name"], refs)


def check_refusals() -> None:
    """The chart refuses to render without the credentials its objects need."""
    # The missing-secret guard must fire.
    try:
        render({})
    except helm.HelmError as error:
        assert "secret.databaseUrls.auth" in str(error), error
        print("render [no values]: refused as expected (secret.databaseUrls.auth is required)")
    else:
        raise SystemExit("rendering without a database URL should fail")

    # ... and so must the one for the NATS identities: no component runs without its seed.
    try:
        render({"secret": SECRETS["secret"]})
    except helm.HelmError as error:
        assert "nats.identitiesSecret" in str(error), error
        print("render [no nats.identitiesSecret]: refused as expected (it is required)")
    else:
        raise SystemExit("rendering without nats.identitiesSecret should fail")

    # ... and the placer's, which cannot work without the administrator's login.
    try:
        render({**SECRETS, "placer": {"enabled": True}})
    except helm.HelmError as error:
        assert "secret.adminDatabaseUrl" in str(error), error
        print("render [placer without secret.adminDatabaseUrl]: refused as expected")
    else:
        raise SystemExit("rendering the placer without the administrator's URL should fail")


def main() -> int:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/portico-chart-render")
    out_dir.mkdir(parents=True, exist_ok=True)
    ci_values = load_values("test-values.yaml")

    report = helm.lint(CHART, ci_values, strict=True, kube_version="v1.27.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    for message in report["messages"]:
        print(f"  lint: severity {message['severity']}: {message['path']}: {message['error']}")
    if problems:
        raise SystemExit(f"helm lint --strict failed: {problems}")
    print("helm lint --strict (CI values, kube 1.27): ok")

    all_on = set(GRPC_SERVICES) | {"gateway"}
    cases: list[tuple[str, dict[str, Any], set[str]]] = [
        ("defaults + required secrets", SECRETS, all_on),
        ("ci/test-values.yaml (every option on)", ci_values, all_on),
        (
            "existingSecret, NATS URL from the Secret",
            {
                "secret": {"existingSecret": "portico-managed"},
                "nats": {"url": "", "identitiesSecret": IDENTITIES_SECRET},
            },
            all_on,
        ),
        (
            "NATS URL in the chart's Secret",
            {
                "secret": {**SECRETS["secret"], "natsUrl": "nats://nats.example.internal:4222"},
                "nats": {"url": "", "identitiesSecret": IDENTITIES_SECRET},
            },
            all_on,
        ),
        (
            "compat disabled, image by digest",
            {
                **SECRETS,
                "components": {"compat": {"enabled": False}},
                "image": {"digest": "sha256:" + "0" * 64},
            },
            all_on - {"compat"},
        ),
        (
            "placer on, compat disabled",
            {
                **SECRETS,
                "secret": {
                    **SECRETS["secret"],
                    "adminDatabaseUrl": "postgresql://admin:x@db.example.internal:5432/portico",
                },
                "placer": {"enabled": True},
                "components": {"compat": {"enabled": False}},
            },
            all_on - {"compat"},
        ),
    ]
    for title, values, components in cases:
        docs = render(values)
        validate_schemas(docs)
        check_invariants(
            docs, components, expect_placer=bool(values.get("placer", {}).get("enabled"))
        )
        check_nats_identities(docs, components)
        check_listen_urls(docs, values)
        kinds = sorted({d["kind"] for d in docs})
        print(
            f"render [{title}]: {len(docs)} objects ({', '.join(kinds)}): valid for "
            f"Kubernetes {' and '.join(KUBE_VERSIONS)} (strict), invariants hold"
        )
        slug = "".join(ch if ch.isalnum() else "-" for ch in title).strip("-")[:40]
        (out_dir / f"{slug}.yaml").write_text(
            yaml.safe_dump_all(
                [{k: v for k, v in d.items() if k != "_source"} for d in docs], sort_keys=False
            )
        )

    # values.schema.json catches typos and mismatches before anything renders.
    with helm.Chart.load(CHART) as chart:
        for bad in (
            {"components": {"rollout": {"replica": 3}}},
            {"components": {"rollout": {"module": "portico_slo"}}},
            {"componentDefaults": {"kind": "tcp"}},
            {"config": {"natsStreamReplicas": 2}},
            {"nats": {"identitiesSecret": "Portico_Seeds"}},
            {"nats": {"seeds": {"auth": "SU-not-in-values"}}},
            {"placer": {"watch": 2}},
        ):
            try:
                chart.validate_schema(bad)
            except helm.HelmValuesError:
                continue
            raise SystemExit(f"values.schema.json accepted {bad}")
    print(
        "values.schema.json: rejects a misspelt key, a wrong module, an unknown kind, R2 streams,"
        " an invalid Secret name, seeds in values and a misspelt placer setting"
    )

    check_refusals()

    docs = render(ci_values)
    (rule,) = by_kind(docs, "PrometheusRule").values()
    (out_dir / "prometheusrule-groups.yml").write_text(
        yaml.safe_dump({"groups": rule["spec"]["groups"]})
    )
    dashboards = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")
    ]
    (dashboard,) = dashboards
    json.loads(dashboard["data"]["portico-overview.json"])
    print(
        f"PrometheusRule groups written to {out_dir / 'prometheusrule-groups.yml'}; dashboard ConfigMap holds valid JSON"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
