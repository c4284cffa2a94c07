"""Keycloak added to a resolved architecture: `auth: {provider: keycloak, realm}`.

`auth` adds Keycloak (`keycloak`, started with `start --import-realm`) and its own
PostgreSQL (`keycloak-db`, on a network only Keycloak joins, Keycloak connecting as a
role with rights on its database alone), one edge route (`/auth/` → keycloak:8080, path
kept: `KC_HTTP_RELATIVE_PATH=/auth`) and the `auth` part (`keycloak/realm.json`). Keycloak's
hostname is the edge's public HTTPS URL, so the issuer of every token is
`https://<client_host>:<https_port>/auth/realms/<realm>` for a browser on the host and for
every container alike; services fetch the realm's keys from `keycloak:8080` directly and
check `iss` against that public URL.

Secrets: the bootstrap admin's password, Keycloak's database password and the gateway
client's secret are secret files; Keycloak has no `*_FILE` variables, so
`common.from_secret_files` exports them for the server process only (the realm file names
the client secret as `${AUTH_GATEWAY_CLIENT_SECRET}`, which Keycloak substitutes at
import). The demo user's password is `AUTH_DEMO_PASSWORD` in `.env` (a demo user for
scripts and tests, as the issue asks).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen.catalog import CATALOG, app_password
from archgen.model._services import database_context, scoped_secret
from archgen.model.common import FRONTEND, digest, from_secret_files, hardened, relabel_edge
from archgen.model.graph import Architecture, Edge, Node, Port
from archgen.model.uis import UI_BIND, add_ui, ui_port
from archgen.model.workload import Dependency, Mount, PublishedPort, Workload
from archgen.variables import EnvValue, Secret, Var

KEYCLOAK = "keycloak"
KEYCLOAK_DB = "keycloak-db"
RELATIVE_PATH = "/auth"
ADMIN_PATH = f"{RELATIVE_PATH}/admin"
ADMIN_USER = "admin"
DEMO_USER = "demo"
DB_USER = "keycloak"
REALM_TARGET = "/opt/keycloak/data/import/realm.json"
KEYCLOAK_ADMIN_PASSWORD = Secret("keycloak_admin_password", "KEYCLOAK_ADMIN_PASSWORD",
                                 "Keycloak's bootstrap administrator (admin, master realm).")
GATEWAY_CLIENT_SECRET = Secret("auth_gateway_client_secret", "AUTH_GATEWAY_CLIENT_SECRET",
                               "The confidential client of the edge in the realm.")
AUTH_DEMO_PASSWORD = Var("AUTH_DEMO_PASSWORD",
                         comment="The realm's demo user (every role): for scripts and tests.")
# The route roles are checked on: GET / HEAD / OPTIONS need `:read`, anything else `:write`.
ACCESS = ("read", "write")
# Services with a database of their own: the orchestrator's roles guard saga starts and reads.
ROLE_SERVICES = ("service", "orchestrator")


def with_auth(architecture: Architecture, spec: dict[str, Any]) -> Architecture:
    """`architecture` plus Keycloak when `spec["auth"]` asks for it (every architecture).

    Every app workload of the node (each replica in scaled) gets the same token settings;
    whatever the edge's kind, its config label changes with `auth_route`, so `up` recreates it.
    """
    block = spec.get("auth")
    if not isinstance(block, dict):
        return architecture
    context = architecture.context
    edge: dict[str, Any] = context["edge"]
    realm = str(block.get("realm") or spec["name"])
    public = f"https://{edge['client_host']}:{edge['https_port']}{RELATIVE_PATH}"
    internal = f"http://{KEYCLOAK}:{CATALOG[KEYCLOAK].ports['http']}{RELATIVE_PATH}"
    services = context.get("services")
    apps = list(services) if services else [context["app"]]
    # A role prefix per service (microservices) or per entity (mvc: its plural).
    prefixes = ([(a["name"], " (start and read sagas)" if a["role"] == "orchestrator" else "")
                 for a in apps] if services else
                [(e["plural"], "") for e in context["app"]["entities"]])
    roles = [{"name": f"{prefix}:{access}", "description": f"{access} access to {prefix}{note}"}
             for prefix, note in prefixes for access in ACCESS]
    cli_client = f"{spec['name']}-cli"
    admin_port = ui_port(spec, KEYCLOAK)
    admin_base = f"http://{UI_BIND}:{admin_port}{RELATIVE_PATH}"
    gateway_client = f"{spec['name']}-{edge['service']}"
    auth = {
        "provider": KEYCLOAK, "realm": realm, "service": KEYCLOAK, "database": KEYCLOAK_DB,
        "public_url": public, "issuer": f"{public}/realms/{realm}",
        "token_url": f"{public}/realms/{realm}/protocol/openid-connect/token",
        # The admin console on its own loopback port, never through the edge's public URL.
        "admin_base": admin_base, "admin_port": admin_port,
        "admin_url": f"{admin_base}/admin/",
        "jwks_url": f"{internal}/realms/{realm}/protocol/openid-connect/certs",
        "cli_client": cli_client, "gateway_client": gateway_client,
        "clients": [cli_client, gateway_client],
        "roles": roles, "demo_user": DEMO_USER, "admin_user": ADMIN_USER,
        "demo_password_variable": AUTH_DEMO_PASSWORD.name,
        "gateway_secret_variable": GATEWAY_CLIENT_SECRET.variable,
        "admin_password_file": KEYCLOAK_ADMIN_PASSWORD.file,
    }
    context["auth"] = auth
    add_ui(architecture, "Keycloak admin", KEYCLOAK, admin_port, KEYCLOAK,
           f"the admin console (user {ADMIN_USER}, password in {KEYCLOAK_ADMIN_PASSWORD.file})",
           path=f"{ADMIN_PATH}/")
    for app in apps:
        # Which role prefix a path needs: by its first segment, else every one of `default`.
        paths = {} if services else {e["path"]: e["plural"] for e in app["entities"]}
        default = [app["name"]] if services else [p for p, _ in prefixes]
        app["auth"] = {"issuer": auth["issuer"], "jwks_url": auth["jwks_url"],
                       "clients": auth["clients"], "paths": paths, "default": default}
    # `denied`: the admin console and API answer 404 at the edge (its loopback port only).
    route = {"name": KEYCLOAK, "prefix": f"{RELATIVE_PATH}/", "host": KEYCLOAK,
             "port": CATALOG[KEYCLOAK].ports["http"], "rewrite": f"{RELATIVE_PATH}/",
             "denied": ADMIN_PATH}
    edge["auth_route"] = route
    if "routes" in edge:  # the gateway's route list (microservices)
        edge["routes"] = [*edge["routes"], route]
    database = {**database_context(KEYCLOAK, "postgres"), "name": KEYCLOAK, "user": DB_USER}
    names = {a.get("name", a["service"]) for a in apps}
    workloads = []
    for w in architecture.workloads:
        if w.name == edge["service"]:
            w = replace(relabel_edge(w, edge), depends_on=(*w.depends_on, Dependency(KEYCLOAK)))
        elif w.kind == "python" and w.node in names:
            w = replace(w, environment=(*w.environment, *_app_environment(auth, w)))
        workloads.append(w)
    workloads += [_keycloak_workload(auth, database), _database_workload(database)]
    entry = CATALOG[KEYCLOAK]
    nodes = (*architecture.nodes,
             Node(KEYCLOAK, KEYCLOAK, "identity", "platform", "keycloak", entry.image,
                  (Port("http", entry.ports["http"]),)),
             Node(KEYCLOAK_DB, "postgres", "database", "data", "postgres (keycloak)",
                  CATALOG["postgres"].image, (Port("postgres", CATALOG["postgres"].main_port),)))
    edges = (*architecture.edges,
             Edge(str(edge["service"]), KEYCLOAK, "HTTP", entry.ports["http"]),
             Edge(KEYCLOAK, KEYCLOAK_DB, "PostgreSQL", CATALOG["postgres"].main_port),
             *(Edge(name, KEYCLOAK, "HTTP", entry.ports["http"]) for name in sorted(names)))
    return replace(architecture, nodes=nodes, edges=edges, workloads=tuple(workloads),
                   networks=(*architecture.networks, database["network"]),
                   parts=(*architecture.parts, ("auth", ".")),
                   instances=(*architecture.instances,
                              ("data", KEYCLOAK, {"database": database})))


def _app_environment(auth: dict[str, Any], workload: Workload
                     ) -> tuple[tuple[str, EnvValue], ...]:
    if workload.job:
        # The service's own test suite runs without Keycloak (its JWT tests use local keys).
        return (("APP_AUTH_DISABLED", "true"),)
    return (("APP_AUTH_ISSUER", auth["issuer"]), ("APP_AUTH_JWKS_URL", auth["jwks_url"]),
            ("APP_AUTH_CLIENTS", ",".join(auth["clients"])))


def _keycloak_workload(auth: dict[str, Any], database: dict[str, Any]) -> Workload:
    entry = CATALOG[KEYCLOAK]
    db_password = scoped_secret(app_password("postgres"), KEYCLOAK)
    environment: tuple[tuple[str, EnvValue], ...] = (
        ("KC_BOOTSTRAP_ADMIN_USERNAME", ADMIN_USER),
        ("KC_BOOTSTRAP_ADMIN_PASSWORD_FILE", KEYCLOAK_ADMIN_PASSWORD),
        ("KC_DB", "postgres"),
        ("KC_DB_URL", f"jdbc:postgresql://{database['service']}:{database['port']}/"
                      f"{database['name']}"),
        ("KC_DB_USERNAME", database["user"]),
        ("KC_DB_PASSWORD_FILE", db_password),
        ("KC_HTTP_ENABLED", "true"),
        ("KC_HTTP_RELATIVE_PATH", RELATIVE_PATH),
        ("KC_HOSTNAME", auth["public_url"]),
        ("KC_HOSTNAME_ADMIN", auth["admin_base"]),
        ("KC_PROXY_HEADERS", "xforwarded"),
        ("KC_HEALTH_ENABLED", "true"),
        # One instance: local caches, no cluster discovery on the network.
        ("KC_CACHE", "local"),
        ("KC_HTTP_MANAGEMENT_RELATIVE_PATH", "/"),
        ("AUTH_GATEWAY_CLIENT_SECRET_FILE", GATEWAY_CLIENT_SECRET),
        ("AUTH_DEMO_PASSWORD", AUTH_DEMO_PASSWORD),
    )
    return Workload(
        name=KEYCLOAK, node=KEYCLOAK, kind=KEYCLOAK, image=entry.image,
        entrypoint=from_secret_files(
            ("KC_BOOTSTRAP_ADMIN_PASSWORD", "KC_DB_PASSWORD", "AUTH_GATEWAY_CLIENT_SECRET"),
            ("/opt/keycloak/bin/kc.sh",)),
        command=("start", "--import-realm"),
        environment=environment,
        ports=(PublishedPort("http", entry.ports["http"], auth["admin_port"], UI_BIND),),
        mounts=(Mount("./keycloak/realm.json", REALM_TARGET, read_only=True,
                      comment="The realm, imported on the first start (an existing realm is "
                              "kept: edit it in Keycloak, or drop keycloak-db's volume)."),),
        # Java on a busy machine: the first start also re-augments the server.
        healthcheck=replace(entry.healthcheck, start_period="240s") if entry.healthcheck else None,
        depends_on=(Dependency(database["service"]),),
        memory="1G",
        security=replace(hardened(KEYCLOAK, entry.user), read_only=False, tmpfs=(),
                         reason="root filesystem left writable: `kc.sh start` re-augments the "
                                "server into /opt/keycloak/lib for this configuration (database, "
                                "health, relative path) before it starts"),
        networks=(FRONTEND, database["network"]),
        stop_grace_period="30s",
        labels=(("io.archgen.realm", digest(auth)),),
        comment=(f"Keycloak: realm {auth['realm']} at {auth['public_url']}/realms/"
                 f"{auth['realm']} through the edge; the admin console at "
                 f"{auth['admin_url']} (127.0.0.1 only).",
                 "Proxy headers (X-Forwarded-*) are trusted: only the edge and the services "
                 "share its network, and the edge overwrites them on every request."),
        field_comments=(
            ("entrypoint", "Keycloak has no *_FILE variables: the passwords are read from "
                           "their secret files into the server process's environment only."),
            ("labels", "The realm is a mounted file, which no engine compares: this label "
                       "changes with it, so `up` recreates Keycloak when it changes."),
        ),
    )


def _database_workload(database: dict[str, Any]) -> Workload:
    """PostgreSQL for Keycloak alone: its own network, Keycloak's own least-privilege role."""
    from archgen.model._services import _database_workload as service_database

    workload = service_database(KEYCLOAK, database)
    mounts = tuple(replace(m, source=m.source.replace(f"./services/{KEYCLOAK}/", f"./{KEYCLOAK}/"))
                   for m in workload.mounts)
    return replace(workload, mounts=mounts,
                   comment=("Keycloak's own PostgreSQL: on a network only Keycloak joins; "
                            f"Keycloak connects as {database['user']}, owner of its database "
                            "only.",))
