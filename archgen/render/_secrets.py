"""Material that never goes into git: `.env`, the `secrets/` files and the proxy's TLS pair."""

from __future__ import annotations

import datetime
import os
import secrets
import string
from collections.abc import Iterable
from pathlib import Path

from archgen.variables import SECRETS_DIR, Secret

SECRET_LENGTH = 43  # 43 letters and digits: 256 bits, as many as token_urlsafe(32)
_SECRET_ALPHABET = string.ascii_letters + string.digits


def new_secret() -> str:
    """A random password of letters and digits only.

    token_urlsafe's `-` and `_` are harmless inside a value, but one value in 64 starts
    with `-`, and a password given as its own argument (`mongosh --password X`, a user's
    shell line) is then read as an option.
    """
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


def env_from_example(example: str, existing: str | None = None) -> str:
    """Fill every empty `NAME=` line of `.env.example` with a fresh random secret.

    Values already present in `existing` (a previous `.env`) win, so a re-render
    never changes a password a running database was initialised with.
    """
    kept: dict[str, str] = {}
    for line in (existing or "").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            kept[name.strip()] = value
    lines = []
    for line in example.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            key = name.strip()
            if key in kept:
                value = kept[key]
            elif not value:
                value = new_secret()
            lines.append(f"{key}={value}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


# The folder keeps other host users out; each file is readable by any user *inside* the
# containers it is bind-mounted into, since the images read it as their own user (postgres,
# mongodb, redis, the app's 10001), not as the host user who owns it.
SECRETS_DIR_MODE = 0o700
SECRET_FILE_MODE = 0o644


def secret_values(wanted: Iterable[Secret], folder: Path, env_text: str | None) -> dict[str, str]:
    """A value for each secret whose file `folder` lacks; files already there are never changed.

    A project rendered before secrets moved to files has them in `.env` under their old
    variable names: those values are taken over, so its databases keep their passwords.
    """
    previous: dict[str, str] = {}
    for line in (env_text or "").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and value:
            previous[name.strip()] = value
    return {item.name: previous.get(item.variable) or new_secret()
            for item in wanted if not (folder / item.name).is_file()}


def write_secret_files(root: Path, values: dict[str, str]) -> None:
    """Write `values` as `root/secrets/<name>` (no trailing newline, as the images strip it)."""
    folder = root / SECRETS_DIR
    folder.mkdir(mode=SECRETS_DIR_MODE, parents=True, exist_ok=True)
    folder.chmod(SECRETS_DIR_MODE)
    for name, value in values.items():
        _write_private(folder / name, value.encode("utf-8"), SECRET_FILE_MODE)


def _write_private(path: Path, data: bytes, mode: int) -> None:
    # Create with the final mode so the key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def write_tls_pair(folder: Path, hostnames: list[str]) -> None:
    """Write a self-signed certificate, its key, and both combined (HAProxy) into `folder`."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True, mode=0o755)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    alt_names: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(folder / "cert.pem", cert_pem, 0o644)
    _write_private(folder / "key.pem", key_pem, 0o600)
    _write_private(folder / "combined.pem", cert_pem + key_pem, 0o600)
