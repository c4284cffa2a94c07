"""References to what a rendered project keeps out of its compose file: settings and secrets.

Settings are `Var`s read from `.env`. Passwords and keys are `Secret`s: one file each
under the git-ignored `secrets/` folder, mounted read-only at `/run/secrets/<name>`,
and named in the environment only by path (`POSTGRES_PASSWORD_FILE=/run/secrets/…`),
so no value shows in `docker inspect`, in the compose file or in a process's environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

REQUIRED = "is not set; run archgen new or fill .env"


@dataclass(frozen=True)
class Var:
    """A `${NAME}` read from `.env`: a secret (random, never in git) or a setting with a default."""

    name: str
    default: str | None = None  # a setting; None makes it a secret
    comment: str = ""  # one line for .env.example

    @property
    def secret(self) -> bool:
        return self.default is None

    def compose(self) -> str:
        if self.default is not None:
            return f"${{{self.name}:-{self.default}}}"
        return f"${{{self.name}:?{REQUIRED}}}"

    def shell(self) -> str:
        """The same value for a shell inside the container (compose escapes `$` as `$$`)."""
        return f"$${{{self.name}}}"


@dataclass(frozen=True)
class Text:
    """A string built from literal parts and variables, such as a connection URL."""

    parts: tuple[str | Var, ...]

    def compose(self) -> str:
        return "".join(p if isinstance(p, str) else p.compose() for p in self.parts)

    @property
    def variables(self) -> tuple[Var, ...]:
        return tuple(p for p in self.parts if isinstance(p, Var))


SECRETS_DIR = "secrets"  # the project folder the files live in (git-ignored, mode 0700)
SECRETS_TARGET = "/run/secrets"  # where compose, Swarm and the Kubernetes export mount them


@dataclass(frozen=True)
class Secret:
    """A password or key kept in `secrets/<name>` and mounted at `/run/secrets/<name>`.

    As an environment value it stands for its path in the container (images read the
    file named by `*_FILE`). It iterates as `(name, variable, target)`: `variable` is
    what the value was called in `.env` before (an existing `.env` still seeds the file,
    so an upgraded project keeps its database passwords) and the key a Kubernetes or
    Swarm export names it by.
    """

    name: str
    variable: str
    comment: str = field(default="", compare=False)

    @property
    def target(self) -> str:
        return f"{SECRETS_TARGET}/{self.name}"

    @property
    def file(self) -> str:
        return f"./{SECRETS_DIR}/{self.name}"

    def __iter__(self) -> Iterator[str]:
        return iter((self.name, self.variable, self.target))


def secret(variable: str, comment: str = "") -> Secret:
    return Secret(variable.lower(), variable, comment)


EnvValue = str | Var | Text | Secret


def text(*parts: str | Var) -> Text:
    return Text(tuple(parts))


def compose_value(value: EnvValue) -> str:
    if isinstance(value, Secret):
        return value.target
    return value if isinstance(value, str) else value.compose()


def variables_of(value: EnvValue) -> tuple[Var, ...]:
    if isinstance(value, Var):
        return (value,)
    if isinstance(value, Text):
        return value.variables
    return ()


# The variables every blueprint shares, named once.
POSTGRES_ADMIN = "postgres"  # the image's superuser: initialisation and operators only
POSTGRES_PASSWORD = secret("POSTGRES_PASSWORD", "PostgreSQL's superuser (postgres).")
POSTGRES_APP_PASSWORD = secret("POSTGRES_APP_PASSWORD",
                               "The app's own PostgreSQL role: its database only.")
POSTGRES_REPLICATION_PASSWORD = secret(
    "POSTGRES_REPLICATION_PASSWORD",
    "The streaming-replication role the standbys clone and follow the primary with.")
MYSQL_ROOT_PASSWORD = secret("MYSQL_ROOT_PASSWORD", "MySQL's root user.")
MYSQL_PASSWORD = secret("MYSQL_PASSWORD", "The app's own MySQL user: its database only.")
MONGO_ROOT_PASSWORD = secret("MONGO_ROOT_PASSWORD", "MongoDB's root user.")
MONGO_APP_PASSWORD = secret("MONGO_APP_PASSWORD",
                            "The app's own MongoDB user: readWrite on its database only.")
MONGO_REPLICA_SET_KEY = secret(
    "MONGO_REPLICA_SET_KEY",
    "The replica set's shared key (keyfile authentication between members).")
REDIS_PASSWORD = secret("REDIS_PASSWORD", "Redis clients, replication and sentinels.")
NEO4J_PASSWORD = secret(
    "NEO4J_PASSWORD", "Neo4j's neo4j user (Community edition: the one user, the service's).")
APP_LOG_LEVEL = Var("APP_LOG_LEVEL", default="info")
