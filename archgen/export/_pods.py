"""One unit → its Deployment, StatefulSet or Job: container, probes, env, mounts, security."""

from __future__ import annotations

import math
from typing import Any

from archgen.catalog import Healthcheck
from archgen.export._units import ProjectFiles, Unit, dns_name, duration
from archgen.export._values import Raw, Value
from archgen.export.report import Report
from archgen.variables import SECRETS_TARGET, Secret, Text, Var

API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1"}
DEFAULT_SIZES = {"database": "10Gi", "cache": "1Gi", "sentinel": "100Mi"}
HPA_CPU_REQUEST = "100m"
# Numeric ids of the users the official images name (shared/IMAGES.md): Kubernetes
# needs a uid where compose accepts a name. The model should carry the uid itself.
KNOWN_UIDS = {("postgres", "postgres"): 70, ("mysql", "mysql"): 999, ("redis", "redis"): 999,
              ("mongodb", "mongodb"): 999, ("nginx", "nginx"): 101, ("haproxy", "haproxy"): 99,
              ("httpd", "www-data"): 82, ("envoy", "envoy"): 101}


def shell(text: str) -> str:
    """A compose string for Kubernetes: `$$` unescaped to `$`, then `$(` kept from kubelet expansion."""
    return text.replace("$$", "$").replace("$(", "$$(")


def memory(text: str) -> str:
    """Compose memory (binary units: `128M`, `1G`) as a Kubernetes quantity (`128Mi`, `1Gi`)."""
    units = {"k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti"}
    number, unit = text[:-1], text[-1].lower()
    if unit in units and number.isdigit():
        return number + units[unit]
    if unit == "b" and number[:-1].isdigit() and number[-1].lower() in units:
        return number[:-1] + units[number[-1].lower()]
    return text


def labels(project: str, unit: Unit) -> dict[str, str]:
    return {"app.kubernetes.io/name": unit.name, "app.kubernetes.io/component": unit.node.id,
            "app.kubernetes.io/part-of": project, "app.kubernetes.io/managed-by": "archgen"}


def selector(project: str, unit: Unit) -> dict[str, str]:
    return {"app.kubernetes.io/name": unit.name, "app.kubernetes.io/part-of": project}


def metadata(name: str, project: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": Raw(".Release.Namespace", project)}
    if extra:
        meta["labels"] = extra
    return meta


class PodWriter:
    """Builds the workload object of one unit and reports every setting it maps or not."""

    def __init__(self, project: str, files: ProjectFiles, report: Report) -> None:
        self.project = project
        self.files = files
        self.report = report
        self.secret_name = f"{project}-env"
        self.files_secret = f"{project}-secrets"  # secrets/<name>, one key per file
        self.settings_name = f"{project}-settings"
        self.settings: dict[str, str] = {}

    # -- the object -----------------------------------------------------------------

    def workload_object(self, unit: Unit, hpa: bool) -> dict[str, Any]:
        w = unit.workload
        pod, claims = self._pod(unit, hpa)
        template: dict[str, Any] = {"metadata": {"labels": labels(self.project, unit)}, "spec": pod}
        annotations = {k: v for k, v in w.labels}
        if annotations:
            template["metadata"]["annotations"] = annotations
            self.report.mapped(unit.name, "labels", "pod template annotations (a changed config "
                               "hash rolls the pods, as it recreates the container in compose)")
        spec: dict[str, Any]
        if unit.kind == "Job":
            pod["restartPolicy"] = "OnFailure"
            spec = {"backoffLimit": 10, "template": template}
            self.report.mapped(unit.name, "restart", f"{w.restart!r}: a Job (restartPolicy "
                               "OnFailure, backoffLimit 10)")
        else:
            replicas = Value(("workloads", unit.name, "replicas"), unit.replicas)
            spec = {"replicas": replicas,
                    "selector": {"matchLabels": selector(self.project, unit)},
                    "template": template}
            if unit.kind == "StatefulSet":
                spec["serviceName"] = unit.name
                spec["podManagementPolicy"] = "Parallel"
                if claims:
                    spec["volumeClaimTemplates"] = claims
            self.report.mapped(unit.name, "restart", f"{w.restart}: restartPolicy Always "
                               f"(the {unit.kind} controller keeps its pods running)")
        return {"apiVersion": API[unit.kind], "kind": unit.kind,
                "metadata": metadata(unit.name, self.project, labels(self.project, unit)),
                "spec": spec}

    def _pod(self, unit: Unit, hpa: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        w = unit.workload
        container: dict[str, Any] = {
            "name": dns_name(unit.node.id),
            "image": Value(("workloads", unit.name, "image"), w.image),
            "imagePullPolicy": "IfNotPresent",
        }
        self.report.mapped(unit.name, "image", f"{w.image} (values: workloads.{unit.name}.image)")
        if w.build is not None:
            self.report.unmapped(unit.name, "build", f"{w.build.context} (target "
                                 f"{w.build.target or 'default'}) is not built by Kubernetes: "
                                 f"build and push {w.image} to a registry the cluster pulls from, "
                                 "then set its image (Helm values, kustomize images)")
        if w.entrypoint is not None:
            container["command"] = [shell(a) for a in w.entrypoint]
            self.report.mapped(unit.name, "entrypoint", "container command")
        if w.command is not None:
            container["args"] = [shell(a) for a in w.command]
            self.report.mapped(unit.name, "command", "container args")
        env = self._env(unit)
        if env:
            container["env"] = env
        ports = [{"name": p.name[:15], "containerPort": p.container} for p in unit.node.ports]
        if ports and unit.kind != "Job":
            container["ports"] = ports
        for port in w.ports:
            # Beside the edge (which the Ingress reaches), a port published on 127.0.0.1 (a UI,
            # the app's gRPC behind httpd) was for this machine only: no Ingress opens it.
            reached = ("reached with `kubectl port-forward` only (no Ingress: it was published "
                       "on 127.0.0.1 only)" if unit.local_only
                       else "reached from outside through the Ingress")
            self.report.changed(unit.name, f"ports.{port.name}", f"{port.bind}:{port.published} "
                                f"on the host becomes the Service port {port.container}, "
                                + reached)
        volumes, mounts, claims = self._mounts(unit)
        if w.secrets:
            # The same paths as in compose: the environment names them (`*_FILE`).
            volumes.append({"name": "secrets", "secret": {
                "secretName": self.files_secret, "defaultMode": 0o444,
                "items": [{"key": item.name, "path": item.name} for item in w.secrets]}})
            mounts.append({"name": "secrets", "mountPath": SECRETS_TARGET, "readOnly": True})
            self.report.mapped(unit.name, "secrets", f"Secret {self.files_secret} keys "
                               + ", ".join(item.name for item in w.secrets)
                               + f" mounted at {SECRETS_TARGET}/<name> (created by "
                               "create-secrets.sh from secrets/)")
        if mounts:
            container["volumeMounts"] = mounts
        container["resources"] = self._resources(unit, hpa)
        container.update(self._probes(unit))
        security = self._security(unit)
        if security:
            container["securityContext"] = security
        pod: dict[str, Any] = {"enableServiceLinks": False, "containers": [container]}
        uid = security.get("runAsUser")
        if claims and isinstance(uid, int) and uid != 0:
            pod["securityContext"] = {"fsGroup": uid}  # the claim is writable by that user
        if volumes:
            pod["volumes"] = volumes
        if w.stop_grace_period:
            pod["terminationGracePeriodSeconds"] = math.ceil(duration(w.stop_grace_period))
            self.report.mapped(unit.name, "stop_grace_period", "terminationGracePeriodSeconds")
        if w.init:
            pod["shareProcessNamespace"] = True
            self.report.changed(unit.name, "init", "no init option in Kubernetes: "
                                "shareProcessNamespace makes the pod's pause process PID 1, "
                                "which reaps zombies as docker-init does (signals go to the "
                                "container process directly)")
        if w.depends_on:
            names = ", ".join(f"{d.service} ({d.condition})" for d in w.depends_on)
            self.report.unmapped(unit.name, "depends_on", f"{names}: Kubernetes has no start "
                                 "order; the pod restarts (a Job retries) until what it needs "
                                 "answers, and its readiness probe keeps traffic away meanwhile")
        if w.networks:
            self.report.changed(unit.name, "networks", f"{', '.join(w.networks)}: one pod network; "
                                "NetworkPolicies admit traffic only along the model's edges")
        if w.profiles:
            self.report.changed(unit.name, "profiles", f"{', '.join(w.profiles)}: always deployed")
        return pod, claims

    # -- environment ------------------------------------------------------------------

    def _ref(self, var: Var) -> dict[str, Any]:
        if var.secret:
            return {"secretKeyRef": {"name": self.secret_name, "key": var.name}}
        self.settings[var.name] = var.default or ""
        return {"configMapKeyRef": {"name": self.settings_name, "key": var.name}}

    def _env(self, unit: Unit) -> list[dict[str, Any]]:
        w = unit.workload
        own = dict(w.environment)
        helpers: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        defined: set[str] = set()
        for name, value in w.environment:
            if isinstance(value, Text):
                for var in value.variables:  # dependent env vars must be defined before use
                    if var.name not in defined and own.get(var.name, var) == var:
                        helpers.append({"name": var.name, "valueFrom": self._ref(var)})
                        defined.add(var.name)
                entries.append({"name": name, "value": "".join(
                    shell(p) if isinstance(p, str) else f"$({p.name})" for p in value.parts)})
                self.report.mapped(unit.name, f"environment.{name}", "dependent env var: "
                                   + ", ".join(f"$({v.name})" for v in value.variables)
                                   + " from the Secret, defined before it")
            elif isinstance(value, Secret):
                entries.append({"name": name, "value": value.target})
                self.report.mapped(unit.name, f"environment.{name}", f"the path of Secret "
                                   f"{self.files_secret} key {value.name}, mounted there")
            elif isinstance(value, Var):
                if name in defined:
                    continue
                defined.add(name)
                entries.append({"name": name, "valueFrom": self._ref(value)})
                where = (f"Secret {self.secret_name}" if value.secret
                         else f"ConfigMap {self.settings_name}")
                self.report.mapped(unit.name, f"environment.{name}", f"{where} key {value.name}")
            elif unit.grouped and value == w.name:
                entries.append({"name": name, "valueFrom": {"fieldRef": {
                    "fieldPath": "metadata.name"}}})
                self.report.changed(unit.name, f"environment.{name}", "the pod name "
                                    f"(fieldRef) instead of {', '.join(unit.instance_names)}")
            else:
                entries.append({"name": name, "value": shell(value) if "$" in value else value})
                self.report.mapped(unit.name, f"environment.{name}", "literal value")
        return [*helpers, *[e for e in entries if e["name"] not in {h["name"] for h in helpers}]]

    # -- mounts -----------------------------------------------------------------------

    def _mounts(self, unit: Unit) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                           list[dict[str, Any]]]:
        w = unit.workload
        volumes: list[dict[str, Any]] = []
        mounts: list[dict[str, Any]] = []
        claims: list[dict[str, Any]] = []
        for index, mount in enumerate(w.mounts):
            setting = f"volumes.{mount.source}"
            if mount.is_volume:
                name = dns_name(mount.source)
                claim_mount = {"name": name, "mountPath": mount.target}
                if unit.kind == "StatefulSet":
                    # A fresh claim's filesystem may hold lost+found, which initdb and
                    # mysqld --initialize refuse: the data lives in a subfolder of it.
                    claim_mount["subPath"] = "data"
                mounts.append(claim_mount)
                size = Value(("workloads", unit.name, "persistence", "size"),
                             DEFAULT_SIZES.get(unit.node.type, "1Gi"))
                if unit.kind == "StatefulSet":
                    claims.append({"metadata": {"name": name}, "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": size}}}})
                    self.report.mapped(unit.name, setting, "a volumeClaimTemplate (ReadWriteOnce, "
                                       f"{size.default} by default: values persistence.size), "
                                       "mounted from its subfolder data (a new filesystem's "
                                       "lost+found would stop the database's first start)")
                else:
                    volumes.append({"name": name, "emptyDir": {}})
                    self.report.changed(unit.name, setting, "an emptyDir: a stateless workload "
                                        "keeps nothing across pod restarts")
                continue
            source, object_name, key = self.files.locate(mount)
            volume_name = f"{source}-{index}"
            entry: dict[str, Any] = {"name": volume_name, "mountPath": mount.target,
                                     "readOnly": True}
            if key is not None:
                entry["subPath"] = key
            mounts.append(entry)
            if source == "secret":
                volumes.append({"name": volume_name, "secret": {"secretName": object_name}})
                self.report.mapped(unit.name, setting, f"Secret {object_name} (private material, "
                                   "created by create-secrets.sh, never written here)")
            else:
                volumes.append({"name": volume_name, "configMap": {"name": object_name}})
                what = f"key {key}" if key else "every file"
                self.report.mapped(unit.name, setting, f"ConfigMap {object_name} ({what})")
            if not mount.read_only:
                self.report.changed(unit.name, setting, "mounted read-only: ConfigMaps and "
                                    "Secrets cannot be written from the pod")
        for index, spec in enumerate(w.security.tmpfs):
            path, _, options = spec.partition(":")
            name = f"tmpfs-{index}"
            volumes.append({"name": name, "emptyDir": {"medium": "Memory"}})
            mounts.append({"name": name, "mountPath": path})
            if options:
                self.report.changed(unit.name, f"tmpfs.{spec}", f"emptyDir (medium Memory) at "
                                    f"{path}; {options} cannot be set on an emptyDir, which "
                                    "Kubernetes creates world-writable (0777, no sticky bit)")
            else:
                self.report.mapped(unit.name, f"tmpfs.{spec}", "emptyDir (medium Memory)")
        return volumes, mounts, claims

    # -- resources, probes, security ------------------------------------------------------

    def _resources(self, unit: Unit, hpa: bool) -> dict[str, Any]:
        w = unit.workload
        resources: dict[str, Any] = {}
        if w.memory:
            limit = Value(("workloads", unit.name, "resources", "memory"), memory(w.memory))
            resources = {"limits": {"memory": limit}, "requests": {"memory": limit}}
            self.report.mapped(unit.name, "memory", f"limits and requests memory {limit.default}")
        else:
            self.report.unmapped(unit.name, "memory", "no limit in the model: the pod is "
                                 "BestEffort unless values set one")
        if hpa:
            resources.setdefault("requests", {})["cpu"] = Value(
                ("workloads", unit.name, "resources", "cpu"), HPA_CPU_REQUEST)
            self.report.changed(unit.name, "cpu", f"requests cpu {HPA_CPU_REQUEST} added: the "
                                "HorizontalPodAutoscaler scales on CPU, which the model does not carry")
        return resources

    def _probes(self, unit: Unit) -> dict[str, Any]:
        w = unit.workload
        check: Healthcheck | None = w.healthcheck
        if w.healthcheck_disabled or check is None:
            if unit.kind != "Job":
                self.report.unmapped(unit.name, "healthcheck", "none in the model: no probes")
            else:
                self.report.mapped(unit.name, "healthcheck", "a Job: its exit code is its health")
            return {}
        if check.test[0] == "CMD-SHELL":
            command = ["sh", "-c", shell(check.test[1])]
        else:
            command = [shell(a) for a in check.test[1:]]
        period = max(1, math.ceil(duration(check.interval)))
        timeout = max(1, math.ceil(duration(check.timeout)))
        start_every = max(1, math.ceil(duration(check.start_interval)))
        start_tries = math.ceil(duration(check.start_period) / start_every) + check.retries
        probe = {"exec": {"command": command}, "periodSeconds": period, "timeoutSeconds": timeout,
                 "failureThreshold": check.retries}
        self.report.mapped(unit.name, "healthcheck", f"exec probes: startup (every {start_every}s, "
                           f"{start_tries} tries: start_period + retries), readiness and liveness "
                           f"(every {period}s, {check.retries} failures)")
        return {"startupProbe": {**probe, "periodSeconds": start_every,
                                 "failureThreshold": start_tries},
                "readinessProbe": probe, "livenessProbe": dict(probe)}

    def _security(self, unit: Unit) -> dict[str, Any]:
        s = unit.workload.security
        context: dict[str, Any] = {}
        if s.user is not None:
            user, _, group = s.user.partition(":")
            if user.isdigit() and (not group or group.isdigit()):
                context["runAsUser"] = int(user)
                if group:
                    context["runAsGroup"] = int(group)
                if user != "0":
                    context["runAsNonRoot"] = True
                self.report.mapped(unit.name, "user", f"runAsUser {user}")
            elif (unit.workload.kind, user) in KNOWN_UIDS and not group:
                uid = KNOWN_UIDS[(unit.workload.kind, user)]
                context["runAsUser"] = uid
                context["runAsNonRoot"] = True
                self.report.changed(unit.name, "user", f"{s.user!r} is a name; Kubernetes needs a "
                                    f"uid: runAsUser {uid}, the uid of {user} in "
                                    f"{unit.workload.image}")
            else:
                self.report.unmapped(unit.name, "user", f"{s.user!r} is a name; Kubernetes needs "
                                     "a numeric uid: the image's default user runs")
        if s.read_only:
            context["readOnlyRootFilesystem"] = True
            self.report.mapped(unit.name, "read_only", "readOnlyRootFilesystem")
        if s.cap_drop or s.cap_add:
            caps: dict[str, list[str]] = {}
            if s.cap_drop:
                caps["drop"] = list(s.cap_drop)
            if s.cap_add:
                caps["add"] = list(s.cap_add)
            context["capabilities"] = caps
            self.report.mapped(unit.name, "cap_drop/cap_add", "securityContext.capabilities")
        if s.no_new_privileges:
            context["allowPrivilegeEscalation"] = False
            self.report.mapped(unit.name, "security_opt.no-new-privileges",
                               "allowPrivilegeEscalation false")
        if s.reason:
            self.report.changed(unit.name, "security", f"left open as in compose: {s.reason}")
        return context

