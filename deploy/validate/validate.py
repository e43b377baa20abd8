"""Checks the deployment files without Docker and without a cluster.

Run by deploy/validate.sh (make validate) with the repository root as the
working directory. Each check prints one line; the exit code is the number
of failed checks (capped), so CI stops on the first broken file.

compose   deploy/docker-compose.yml against the workspace, the Dockerfile
          and deploy/.env.example
env       every variable the services read is documented in .env.example
k8s       every overlay rendered (kustomize.py) and each object validated
          against the Kubernetes JSON schemas (kubernetes-validate, offline),
          KEDA objects against keda.schema.json, then the references
          between objects, the probes, the egress labels, the FreeCAD sizing
          and the queues KEDA watches against platform::bus::TOPOLOGY
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import jsonschema
import kubernetes_validate
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import kustomize  # noqa: E402

ROOT = Path.cwd()
COMPOSE = ROOT / "deploy/docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy/.env.example"
DOCKERFILE = ROOT / "deploy/docker/Dockerfile"
K8S = ROOT / "k8s"
OVERLAYS = ["local", "production", "aws"]
# Oldest and newest Kubernetes minor versions the manifests must fit.
K8S_VERSIONS = ["1.29", "1.33"]
STORES = {"mongo", "rabbitmq", "minio", "minio-init"}
# What each service reaches (docs/OPERATIONS.md, networkpolicies.yaml).
EGRESS = {
    "gateway": {"mongodb", "s3", "rabbitmq", "monitoring"},
    "ai-generator": {"mongodb", "s3", "rabbitmq", "llm"},
    "script-store": {"mongodb", "s3", "rabbitmq"},
    "freecad-worker": {"mongodb", "s3", "rabbitmq"},
    "output-watcher": {"mongodb", "s3", "rabbitmq"},
    "monitoring": {"mongodb", "s3", "rabbitmq"},
}
# Read by code but not configuration: tooling and the process environment.
NOT_CONFIGURATION = {"PATH", "HOME", "TMPDIR", "CARGO_TARGET_DIR", "CARGO_MANIFEST_DIR", "CI"}

failures: list[str] = []


def check(name: str, fn: Callable[[], list[str] | None]) -> None:
    try:
        problems = fn() or []
    except Exception as e:  # a crash in a check is a failure of that check
        problems = [f"{type(e).__name__}: {e}"]
    if problems:
        failures.append(name)
        print(f"FAIL {name}")
        for p in problems:
            print(f"     - {p}")
    else:
        print(f"ok   {name}")


# --- the workspace -----------------------------------------------------------------------
def workspace_services() -> set[str]:
    cargo = (ROOT / "Cargo.toml").read_text()
    return set(re.findall(r'"services/([a-z0-9-]+)"', cargo))


def topology() -> dict[str, set[str]]:
    """platform::bus::TOPOLOGY, read from its source: service -> routing keys."""
    src = (ROOT / "crates/platform/src/bus/mod.rs").read_text()
    block = re.search(r"pub const TOPOLOGY[^=]*=\s*&\[(.*?)\n\];", src, re.S)
    if not block:
        raise ValueError("TOPOLOGY not found in crates/platform/src/bus/mod.rs")
    messages = (ROOT / "crates/domain/src/messages.rs").read_text()
    keys = dict(re.findall(r"Self::(\w+)\s*=>\s*\"([a-z]+\.[a-z]+)\"", messages))
    out: dict[str, set[str]] = {}
    for service, variants in re.findall(r'\(\s*"([a-z0-9-]+)"\s*,\s*&\[([^\]]*)\]\s*,?\s*\)', block.group(1)):
        out[service] = {keys[v] for v in re.findall(r"MessageType::(\w+)", variants)}
    if not out:
        raise ValueError("TOPOLOGY has no entries that this check can read")
    return out


def env_example_names() -> set[str]:
    """Variables of .env.example, set (`NAME=`) or documented (`# NAME=`)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))


def service_source_dirs() -> list[Path]:
    """The services and the workspace crates they depend on, transitively:
    the code whose environment variables are deployment configuration (a
    client tool or a test driver in crates/ is not)."""
    cargo = (ROOT / "Cargo.toml").read_text()
    path_deps = dict(re.findall(r'^([a-z0-9_-]+)\s*=\s*\{[^}]*path\s*=\s*"([^"]+)"', cargo, re.M))
    todo = [ROOT / "services" / s for s in sorted(workspace_services())]
    seen: list[Path] = []
    while todo:
        crate = todo.pop()
        if crate in seen:
            continue
        seen.append(crate)
        manifest = (crate / "Cargo.toml").read_text().split("[dev-dependencies]")[0]
        for dep, path in path_deps.items():
            if re.search(rf"^{re.escape(dep)}(\.workspace|\s*=)", manifest, re.M):
                todo.append(ROOT / path)
    return seen


def variables_read_by_code() -> dict[str, str]:
    """Every environment variable the services read -> the first file reading it."""
    found: dict[str, str] = {}
    sources = [
        path
        for crate in service_source_dirs()
        for path in (crate / "src").glob("**/*.rs")
        # Test helpers and side tools (src/bin), not the services.
        if path.name != "testkit.rs" and "bin" not in path.relative_to(crate / "src").parts[:-1]
    ]
    for path in sorted(sources):
        rel = path.relative_to(ROOT)
        text = path.read_text()
        # Drop unit tests: their fixtures are not configuration.
        text = text.split("#[cfg(test)]")[0]
        names = re.findall(r'\benv\b[^;]*?"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,})"', text)
        names += re.findall(r'env::var(?:_os)?\(\s*"([A-Z][A-Z0-9_]+)"', text)
        names += re.findall(r'Some\("([A-Z][A-Z0-9]*_API_KEY)"\)', text)
        for n in names:
            if n not in NOT_CONFIGURATION and not n.startswith("CARGO_"):
                found.setdefault(n, str(rel))
    return found


# --- compose ---------------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def dockerfile_targets() -> set[str]:
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+([a-z0-9-]+)\s*$", DOCKERFILE.read_text(), re.M | re.I))


def check_compose_services() -> list[str]:
    problems = []
    services = compose()["services"]
    workspace = workspace_services()
    targets = dockerfile_targets()
    built = {}
    for name, svc in services.items():
        if "build" in svc:
            target = svc["build"].get("target")
            built[name] = target
            if target != name:
                problems.append(f"{name}: builds target {target!r}, not its own name")
            if target not in workspace:
                problems.append(f"{name}: no services/{target} in the workspace")
            if target not in targets:
                problems.append(f"{name}: deploy/docker/Dockerfile has no stage `AS {target}`")
            if svc["build"].get("dockerfile") != "deploy/docker/Dockerfile" or svc["build"].get("context") != "..":
                problems.append(f"{name}: build from context .. with deploy/docker/Dockerfile")
        elif name not in STORES:
            problems.append(f"{name}: neither a store nor built from this repository")
    for missing in sorted(workspace - set(built)):
        problems.append(f"services/{missing} has no compose service")
    return problems


def check_compose_health_and_order() -> list[str]:
    problems = []
    services = compose()["services"]
    for name, svc in services.items():
        if name != "minio-init" and "healthcheck" not in svc:
            problems.append(f"{name}: no healthcheck")
        hc = svc.get("healthcheck", {}).get("test", [])
        if name not in STORES and "/healthz" not in " ".join(hc):
            problems.append(f"{name}: the healthcheck does not probe /healthz")
        for dep, cond in (svc.get("depends_on") or {}).items():
            if dep not in services:
                problems.append(f"{name}: depends on unknown service {dep}")
                continue
            want = "service_completed_successfully" if dep == "minio-init" else "service_healthy"
            if cond.get("condition") != want:
                problems.append(f"{name}: depends on {dep} with {cond.get('condition')!r}, expected {want}")
        if name not in STORES:
            deps = set(svc.get("depends_on") or {})
            for store in ("mongo", "rabbitmq", "minio-init"):
                if store not in deps:
                    problems.append(f"{name}: does not wait for {store}")
            if not svc.get("read_only"):
                problems.append(f"{name}: root file system is writable")
    # The order must be startable: no cycle.
    order: list[str] = []
    pending = {n: set(s.get("depends_on") or {}) for n, s in services.items()}
    while pending:
        ready = [n for n, deps in pending.items() if deps <= set(order)]
        if not ready:
            problems.append(f"depends_on has a cycle among {sorted(pending)}")
            break
        for n in sorted(ready):
            order.append(n)
            del pending[n]
    if "gateway" in order and order.index("gateway") != len(order) - 1:
        problems.append(f"the gateway should start last: {order}")
    fc = services.get("freecad-worker", {})
    grace = fc.get("stop_grace_period", "10s")
    if not grace.endswith("s") or int(grace[:-1]) < 150:
        problems.append(f"freecad-worker: stop_grace_period {grace} does not cover a FreeCAD run (120 s) and its upload")
    return problems


def check_compose_variables() -> list[str]:
    text = COMPOSE.read_text()
    # $${VAR} is a literal for the container's shell, not interpolated.
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    used |= set(re.findall(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)", text))
    documented = env_example_names()
    return [f"${{{v}}} is used by the compose file but not in deploy/.env.example" for v in sorted(used - documented)]


def check_env_documented() -> list[str]:
    documented = env_example_names()
    return [
        f"{name} (read in {where}) is not documented in deploy/.env.example"
        for name, where in sorted(variables_read_by_code().items())
        if name not in documented
    ]


def check_dockerfile() -> list[str]:
    text = DOCKERFILE.read_text()
    problems = []
    for svc in workspace_services():
        stage = re.search(rf"^FROM\s+(\S+)\s+AS\s+{re.escape(svc)}\s*$(.*?)(?=^FROM|\Z)", text, re.M | re.S)
        if not stage:
            problems.append(f"no stage for {svc}")
            continue
        base, body = stage.group(1), stage.group(2)
        if base != "runtime":
            problems.append(f"{svc}: built on {base}, not the runtime stage")
        if f'CMD ["{svc}"]' not in body:
            problems.append(f"{svc}: does not run its own binary")
        if "USER root" in body and not re.search(r"USER 10001:10001(?![\s\S]*USER root)", body):
            problems.append(f"{svc}: ends as root")
        if not re.search(r"ENV PORT=\d+", body):
            problems.append(f"{svc}: sets no PORT for its health check")
    if "USER 10001:10001" not in text.split("AS runtime", 1)[-1].split("FROM", 1)[0]:
        problems.append("the runtime stage does not switch to the non-root user")
    if "freecad-python3" not in text or "--no-install-recommends freecad-python3" not in text:
        problems.append("freecad-worker does not install freecad-python3 without recommends")
    return problems


# --- Kubernetes ------------------------------------------------------------------------------
_rendered: dict[str, list[dict[str, Any]]] = {}


def rendered(overlay: str) -> list[dict[str, Any]]:
    if overlay not in _rendered:
        _rendered[overlay] = kustomize.render(K8S / "overlays" / overlay)
    return _rendered[overlay]


def keda_schema() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "keda.schema.json").read_text())


def check_schemas(overlay: str) -> list[str]:
    problems = []
    keda = keda_schema()
    for obj in rendered(overlay):
        what = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"].startswith("keda.sh/"):
            schema = keda["definitions"].get(obj["kind"])
            if schema is None:
                problems.append(f"{what}: no schema for this KEDA kind in keda.schema.json")
                continue
            v = jsonschema.Draft7Validator({**schema, "definitions": keda["definitions"]})
            problems += [f"{what}: {'.'.join(map(str, e.path))}: {e.message}" for e in v.iter_errors(obj)]
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                problems.append(f"{what} (Kubernetes {version}): {'.'.join(map(str, e.path))}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError:
                problems.append(f"{what}: unknown kind or apiVersion {obj['apiVersion']}")
    return problems


def by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def check_references(overlay: str) -> list[str]:
    objs = rendered(overlay)
    problems = []
    deployments = by_kind(objs, "Deployment")
    services = by_kind(objs, "Service")
    configmaps = by_kind(objs, "ConfigMap")
    secrets = by_kind(objs, "Secret")
    namespaces = {o.get("metadata", {}).get("namespace") for o in objs if o["kind"] != "Namespace"}
    declared_ns = set(by_kind(objs, "Namespace"))
    if namespaces - declared_ns:
        problems.append(f"objects in undeclared namespaces {sorted(namespaces - declared_ns, key=str)}")

    for name, d in deployments.items():
        pod = d["spec"]["template"]
        if not selects(d["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"]):
            problems.append(f"Deployment/{name}: its selector does not match its pods")
        for c in pod["spec"]["containers"]:
            ports = {p.get("name") for p in c.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    problems.append(f"Deployment/{name}: {probe} names unknown port {port}")
            for src in c.get("envFrom", []):
                ref = src.get("configMapRef", {}).get("name")
                if ref and ref not in configmaps:
                    problems.append(f"Deployment/{name}: envFrom ConfigMap {ref} does not exist")
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and secrets:  # overlays without a Secret create it out of band
                    secret = secrets.get(ref["name"])
                    keys = set((secret or {}).get("stringData", {})) | set((secret or {}).get("data", {}))
                    if secret is None:
                        problems.append(f"Deployment/{name}: Secret {ref['name']} does not exist")
                    elif ref["key"] not in keys and not ref.get("optional"):
                        problems.append(f"Deployment/{name}: Secret {ref['name']} has no key {ref['key']}")

    for name, s in services.items():
        targets = [d for d in deployments.values() if selects(s["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        if not targets:
            problems.append(f"Service/{name}: selects no Deployment")
        for p in s["spec"]["ports"]:
            tp = p.get("targetPort")
            for d in targets:
                names = {cp.get("name") for c in d["spec"]["template"]["spec"]["containers"] for cp in c.get("ports", [])}
                if isinstance(tp, str) and tp not in names:
                    problems.append(f"Service/{name}: targetPort {tp} is not a port of Deployment/{d['metadata']['name']}")

    for name, pdb in by_kind(objs, "PodDisruptionBudget").items():
        sel = pdb["spec"]["selector"]["matchLabels"]
        if not any(selects(sel, d["spec"]["template"]["metadata"]["labels"]) for d in deployments.values()):
            problems.append(f"PodDisruptionBudget/{name}: selects no pods")

    for name, ing in by_kind(objs, "Ingress").items():
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                svc = path["backend"]["service"]
                target = services.get(svc["name"])
                if target is None:
                    problems.append(f"Ingress/{name}: backend Service {svc['name']} does not exist")
                elif svc["port"].get("name") not in {p.get("name") for p in target["spec"]["ports"]}:
                    problems.append(f"Ingress/{name}: Service {svc['name']} has no port {svc['port']}")
        paths = {p["path"]: p["backend"]["service"]["name"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
        if paths.get("/") != "gateway" or paths.get("/api/monitoring") != "monitoring":
            problems.append(f"Ingress/{name}: / must go to the gateway and /api/monitoring to monitoring: {paths}")

    for name, hpa in by_kind(objs, "HorizontalPodAutoscaler").items():
        if hpa["spec"]["scaleTargetRef"]["name"] not in deployments:
            problems.append(f"HorizontalPodAutoscaler/{name}: target does not exist")
    auths = by_kind(objs, "TriggerAuthentication")
    for name, so in by_kind(objs, "ScaledObject").items():
        if so["spec"]["scaleTargetRef"]["name"] not in deployments:
            problems.append(f"ScaledObject/{name}: target does not exist")
        for t in so["spec"]["triggers"]:
            ref = t.get("authenticationRef", {}).get("name")
            if ref not in auths:
                problems.append(f"ScaledObject/{name}: TriggerAuthentication {ref} does not exist")
    return problems


def check_cadscribe_pods(overlay: str) -> list[str]:
    """Probes, security, egress labels and FreeCAD sizing of the service pods."""
    objs = rendered(overlay)
    problems = []
    deployments = by_kind(objs, "Deployment")
    configmaps = by_kind(objs, "ConfigMap")
    for svc, egress in EGRESS.items():
        d = deployments.get(svc)
        if d is None:
            problems.append(f"no Deployment {svc}")
            continue
        pod = d["spec"]["template"]
        labels = pod["metadata"]["labels"]
        have = {k.split("egress-", 1)[1] for k, v in labels.items() if k.startswith("cadscribe.io/egress-") and v == "true"}
        if have != egress:
            problems.append(f"{svc}: egress labels {sorted(have)}, expected {sorted(egress)}")
        if labels.get("app.kubernetes.io/part-of") != "cadscribe":
            problems.append(f"{svc}: not part-of cadscribe, so the default-deny policy misses it")
        c = pod["spec"]["containers"][0]
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            problems.append(f"{svc}: liveness probe is not /healthz")
        if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            problems.append(f"{svc}: readiness probe is not /readyz")
        for kind in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(c.get("resources", {}).get(kind, {})):
                problems.append(f"{svc}: no cpu and memory {kind}")
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem"):
            problems.append(f"{svc}: container security context is not locked down")
        if not pod["spec"].get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{svc}: may run as root")

    fc = deployments.get("freecad-worker")
    if fc:
        data: dict[str, str] = {}
        for src in fc["spec"]["template"]["spec"]["containers"][0].get("envFrom", []):
            data.update(configmaps.get(src.get("configMapRef", {}).get("name"), {}).get("data") or {})
        timeout = int(data.get("FREECAD_TIMEOUT_SECS", 120))
        runs = int(data.get("FREECAD_CONCURRENCY", 1))
        memory_mb = int(data.get("FREECAD_MEMORY_MB", 2048))
        grace = fc["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        if grace < timeout + 30:
            problems.append(f"freecad-worker: terminationGracePeriodSeconds {grace} < FREECAD_TIMEOUT_SECS {timeout} + 30 s of upload")
        limit = mebibytes(fc["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"])
        if limit < runs * memory_mb + 256:
            problems.append(f"freecad-worker: memory limit {limit} MiB < {runs} run(s) x {memory_mb} MiB + 256 MiB")
    return problems


def mebibytes(quantity: str) -> int:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1 / 1048.576, "M": 1 / 1.048576, "G": 953.67431640625}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(int(quantity) / 1048576)


def watched_queues(so: dict[str, Any]) -> set[str]:
    """The queue names a ScaledObject's triggers watch: RabbitMQ's by name,
    SQS's by the last segment of the queue URL."""
    names = set()
    for t in so["spec"]["triggers"]:
        if t["type"] == "rabbitmq":
            names.add(t["metadata"]["queueName"])
        elif t["type"] == "aws-sqs-queue":
            names.add(t["metadata"]["queueURL"].rstrip("/").rsplit("/", 1)[-1])
    return names


def check_keda_queues(overlay: str = "production") -> list[str]:
    """Every ScaledObject watches exactly the queues of its service, named as
    the overlay's bus backend names them (platform::bus::rabbit, ::sqs)."""
    problems = []
    topo = topology()
    objs = rendered(overlay)
    common = by_kind(objs, "ConfigMap").get("cadscribe-common", {}).get("data") or {}
    if common.get("BUS_BACKEND", "rabbitmq") == "sqs":
        sqs_prefix = common.get("SQS_QUEUE_PREFIX", "cadscribe")

        def queue(service: str, key: str) -> str:
            return f"{sqs_prefix}_{service}_{key.replace('.', '-')}"
    else:
        amqp_prefix = common.get("AMQP_QUEUE_PREFIX", "")

        def queue(service: str, key: str) -> str:
            return f"{amqp_prefix}{service}.{key}"
    scaled = by_kind(objs, "ScaledObject")
    for service, keys in sorted(topo.items()):
        so = scaled.get(service)
        if so is None:
            problems.append(f"{service} consumes {sorted(keys)} but has no ScaledObject")
            continue
        if so["spec"]["scaleTargetRef"]["name"] != service:
            problems.append(f"ScaledObject/{service} scales {so['spec']['scaleTargetRef']['name']}")
        watched = watched_queues(so)
        expected = {queue(service, k) for k in keys}
        for q in sorted(watched - expected):
            problems.append(f"ScaledObject/{service} watches {q}, which TOPOLOGY does not declare for {service}")
        for q in sorted(expected - watched):
            problems.append(f"ScaledObject/{service} does not watch its queue {q}")
    for name in sorted(set(scaled) - set(topo)):
        problems.append(f"ScaledObject/{name} scales a service that consumes no queue")
    if scaled.get("output-watcher", {}).get("spec", {}).get("minReplicaCount", 0) < 1:
        problems.append("output-watcher must keep one pod: it runs the reconciliation loop")
    if overlay == "production" and "gateway" not in by_kind(objs, "HorizontalPodAutoscaler"):
        problems.append("the gateway has no HorizontalPodAutoscaler")
    return problems


def normalized(objs: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def check_against_kustomize() -> list[str] | None:
    kubectl = shutil.which("kubectl")
    kustomize_bin = shutil.which("kustomize")
    if not kubectl and not kustomize_bin:
        print("     (no kubectl or kustomize here: the renderer is not compared with the real one)")
        return None
    problems = []
    for overlay in OVERLAYS:
        path = str(K8S / "overlays" / overlay)
        cmd = [kustomize_bin, "build", path] if kustomize_bin else [kubectl, "kustomize", path]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            problems.append(f"{' '.join(cmd[:2])} {overlay}: {out.stderr.strip()}")
            continue
        theirs = normalized([d for d in yaml.safe_load_all(out.stdout) if d])
        ours = normalized(rendered(overlay))
        if set(theirs) != set(ours):
            problems.append(f"{overlay}: objects differ: {sorted(set(theirs) ^ set(ours))}")
        for key in sorted(set(theirs) & set(ours)):
            if theirs[key] != ours[key]:
                problems.append(f"{overlay}: {key[0]}/{key[1]} renders differently from kustomize")
    return problems


def main() -> int:
    print("== compose")
    check("compose: every service is a store or a workspace service with its Dockerfile target", check_compose_services)
    check("compose: health checks, depends_on conditions and start order", check_compose_health_and_order)
    check("compose: every ${VAR} is in deploy/.env.example", check_compose_variables)
    check("env: every variable the services read is in deploy/.env.example", check_env_documented)
    check("docker: one non-root runtime target per service", check_dockerfile)
    print("== kubernetes")
    for overlay in OVERLAYS:
        check(f"k8s/{overlay}: renders and every object fits the Kubernetes/KEDA schemas", lambda o=overlay: check_schemas(o))
        check(f"k8s/{overlay}: references between objects resolve", lambda o=overlay: check_references(o))
        check(f"k8s/{overlay}: probes, resources, security, egress labels, FreeCAD sizing", lambda o=overlay: check_cadscribe_pods(o))
    for overlay in ("production", "aws"):
        check(
            f"k8s/{overlay}: KEDA watches exactly the queues of platform::bus::TOPOLOGY",
            lambda o=overlay: check_keda_queues(o),
        )
    check("k8s: the renderer agrees with kustomize", check_against_kustomize)
    print()
    if failures:
        print(f"{len(failures)} check(s) failed")
        return min(len(failures), 100)
    print("all deployment checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
