"""Values a rendered compose file reads from the project's `.env`: secrets and settings."""

from __future__ import annotations

from dataclasses import dataclass

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


EnvValue = str | Var | Text


def text(*parts: str | Var) -> Text:
    return Text(tuple(parts))


def compose_value(value: EnvValue) -> str:
    return value if isinstance(value, str) else value.compose()


def variables_of(value: EnvValue) -> tuple[Var, ...]:
    if isinstance(value, Var):
        return (value,)
    if isinstance(value, Text):
        return value.variables
    return ()


# The variables every blueprint shares, named once.
POSTGRES_ADMIN = "postgres"  # the image's superuser: initialisation and operators only
POSTGRES_PASSWORD = Var("POSTGRES_PASSWORD", comment="PostgreSQL's superuser (postgres).")
POSTGRES_APP_PASSWORD = Var("POSTGRES_APP_PASSWORD",
                            comment="The app's own PostgreSQL role: its database only.")
POSTGRES_REPLICATION_PASSWORD = Var(
    "POSTGRES_REPLICATION_PASSWORD",
    comment="The streaming-replication role the standbys clone and follow the primary with.")
MYSQL_ROOT_PASSWORD = Var("MYSQL_ROOT_PASSWORD")
MYSQL_PASSWORD = Var("MYSQL_PASSWORD")
MONGO_ROOT_PASSWORD = Var("MONGO_ROOT_PASSWORD", comment="MongoDB's root user.")
MONGO_APP_PASSWORD = Var("MONGO_APP_PASSWORD",
                         comment="The app's own MongoDB user: readWrite on its database only.")
MONGO_REPLICA_SET_KEY = Var(
    "MONGO_REPLICA_SET_KEY",
    comment="The replica set's shared key (keyfile authentication between members).")
REDIS_PASSWORD = Var("REDIS_PASSWORD")
NEO4J_PASSWORD = Var("NEO4J_PASSWORD",
                     comment="Neo4j's neo4j user (Community edition: the one user, the service's).")
APP_LOG_LEVEL = Var("APP_LOG_LEVEL", default="info")
