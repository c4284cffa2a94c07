"""`.env` files and compose variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR:?msg}`).

Supported forms, as in the Compose specification:

- `$VAR`, `${VAR}`: the value, or an empty string (with a warning) when unset;
- `${VAR:-default}` / `${VAR-default}`: default when unset or empty / unset;
- `${VAR:?message}` / `${VAR?message}`: an error when unset or empty / unset;
- `${VAR:+other}` / `${VAR+other}`: `other` when set and non-empty / set;
- `$$`: a literal dollar sign.

Defaults and messages may themselves contain interpolations (`${A:-${B}}`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from archgen.errors import ComposeError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


@dataclass
class Interpolator:
    """Expands variables from one environment, remembering which ones were unset.

    Attributes:
        env: the variables (the process environment over the project's `.env`).
        missing: names referenced without a value and without a default.
    """

    env: Mapping[str, str]
    missing: set[str] = field(default_factory=set)
    # Reading rather than running (a diagram of a project without its .env): a required
    # variable without a value is recorded in `missing` instead of stopping the load.
    lenient: bool = False

    def expand(self, text: str, where: str) -> str:
        """Return `text` with every interpolation expanded; `where` names it in errors."""
        if "$" not in text:
            return text
        value, _ = self._scan(text, 0, where, closing=False)
        return value

    def expand_tree(self, node: object, where: str) -> object:
        """Expand every string value (not mapping keys) in a parsed YAML tree."""
        if isinstance(node, str):
            return self.expand(node, where)
        if isinstance(node, dict):
            return {k: self.expand_tree(v, f"{where}.{k}" if where else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self.expand_tree(v, f"{where}[{i}]") for i, v in enumerate(node)]
        return node

    def _scan(self, text: str, pos: int, where: str, *, closing: bool) -> tuple[str, int]:
        """Expand from `pos` until the end (or an unmatched `}` when `closing`)."""
        out: list[str] = []
        i = pos
        while i < len(text):
            ch = text[i]
            if closing and ch == "}":
                return "".join(out), i
            if ch != "$":
                out.append(ch)
                i += 1
                continue
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt == "{":
                value, i = self._braced(text, i + 2, where)
                out.append(value)
            else:
                match = _NAME.match(text, i + 1)
                if match is None:
                    out.append("$")
                    i += 1
                else:
                    out.append(self._lookup(match.group(0)))
                    i = match.end()
        if closing:
            raise ComposeError(f"{where}: invalid interpolation format in {text!r}: missing '}}'")
        return "".join(out), i

    def _braced(self, text: str, pos: int, where: str) -> tuple[str, int]:
        """Expand one `${...}` whose name starts at `pos`; return the value and the index after `}`."""
        match = _NAME.match(text, pos)
        if match is None:
            raise ComposeError(f"{where}: invalid interpolation format in {text!r}")
        name = match.group(0)
        i = match.end()
        if i >= len(text):
            raise ComposeError(f"{where}: invalid interpolation format in {text!r}: missing '}}'")
        if text[i] == "}":
            return self._lookup(name), i + 1
        colon = text[i] == ":"
        op_at = i + 1 if colon else i
        op = text[op_at] if op_at < len(text) else ""
        if op not in ("-", "?", "+"):
            raise ComposeError(f"{where}: invalid interpolation format in {text!r}")
        word, end = self._scan(text, op_at + 1, where, closing=True)
        value = self.env.get(name)
        usable = value is not None and (value != "" or not colon)
        if op == "-":
            return (value if usable and value is not None else word), end + 1
        if op == "+":
            return (word if usable else ""), end + 1
        if not usable and self.lenient:
            self.missing.add(name)
            return value or "", end + 1
        if not usable:
            detail = word or f"variable {name} is not set"
            raise ComposeError(f"{where}: required variable {name} is missing a value: {detail}")
        return value or "", end + 1

    def _lookup(self, name: str) -> str:
        value = self.env.get(name)
        if value is None:
            self.missing.add(name)
            return ""
        return value


def parse_env_file(path: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parse a dotenv file: `KEY=VALUE` lines, `#` comments, optional quotes and `export`.

    Unquoted and double-quoted values are interpolated from the variables defined
    above them and from `base`; single-quoted values are taken literally.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ComposeError(f"env file not found: {path}") from None
    except OSError as error:
        raise ComposeError(f"cannot read env file {path}: {error.strerror}") from None
    values: dict[str, str] = {}
    lookup: Callable[[], dict[str, str]] = lambda: {**(base or {}), **values}  # noqa: E731
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.strip()
        where = f"{path}:{number}"
        if not _ENV_KEY.fullmatch(key):
            raise ComposeError(f"{where}: expected KEY=VALUE, got {raw.strip()!r}")
        if not sep:
            continue  # a bare KEY declares nothing
        values[key] = _env_value(rest.strip(), where, lookup)
    return values


def _env_value(rest: str, where: str, lookup: Callable[[], dict[str, str]]) -> str:
    if rest.startswith("'"):
        end = rest.find("'", 1)
        if end < 0:
            raise ComposeError(f"{where}: unterminated single quote")
        return rest[1:end]
    if rest.startswith('"'):
        out: list[str] = []
        i = 1
        escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$$"}
        while i < len(rest) and rest[i] != '"':
            if rest[i] == "\\" and i + 1 < len(rest):
                out.append(escapes.get(rest[i + 1], "\\" + rest[i + 1]))
                i += 2
            else:
                out.append(rest[i])
                i += 1
        if i >= len(rest):
            raise ComposeError(f"{where}: unterminated double quote")
        return Interpolator(lookup()).expand("".join(out), where)
    comment = re.search(r"\s#", rest)
    if comment:
        rest = rest[: comment.start()].rstrip()
    return Interpolator(lookup()).expand(rest, where)
