"""Top-level networks and volumes of a compose file, normalised (engine-side names, IPAM, external)."""

from __future__ import annotations

from typing import Any

from archgen.errors import ComposeError
from archgen.runtime import values as v
from archgen.runtime.model import NetworkSpec, VolumeSpec


def network_spec(key: str, body: dict[str, Any], project: str) -> NetworkSpec:
    where = f"networks.{key}"
    external, default_name = _external(body, key, project, where)
    return NetworkSpec(
        key=key,
        name=v.string(body.get("name", default_name), f"{where}.name"),
        driver=None if body.get("driver") is None else v.string(body["driver"], f"{where}.driver"),
        driver_opts=v.mapping(body.get("driver_opts"), f"{where}.driver_opts"),
        internal=flag_value(body.get("internal", False), f"{where}.internal"),
        attachable=flag_value(body.get("attachable", False), f"{where}.attachable"),
        external=external,
        labels=v.mapping(body.get("labels"), f"{where}.labels"),
        ipam=_ipam(body.get("ipam"), f"{where}.ipam"),
    )


def _external(body: dict[str, Any], key: str, project: str, where: str) -> tuple[bool, str]:
    """`external: true`, or the legacy `external: {name: N}` form; the default engine-side name."""
    raw = body.get("external", False)
    if isinstance(raw, dict):
        return True, v.string(raw.get("name", key), f"{where}.external.name")
    external = flag_value(raw, f"{where}.external")
    return external, key if external else f"{project}_{key}"


def _ipam(body: object, where: str) -> dict[str, Any]:
    """Compose's `ipam:` in the engine's shape (the API's IPAM object)."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ComposeError(f"{where}: expected a mapping")
    out: dict[str, Any] = {"Driver": v.string(body.get("driver", "default"), f"{where}.driver")}
    pools = []
    for i, pool in enumerate(body.get("config") or []):
        names = {"subnet": "Subnet", "ip_range": "IPRange", "gateway": "Gateway"}
        entry: dict[str, Any] = {
            api: v.string(pool[key], f"{where}.config[{i}].{key}")
            for key, api in names.items()
            if key in pool
        }
        if pool.get("aux_addresses"):
            entry["AuxiliaryAddresses"] = v.mapping(
                pool["aux_addresses"], f"{where}.config[{i}].aux_addresses"
            )
        pools.append(entry)
    out["Config"] = pools
    if body.get("options"):
        out["Options"] = v.mapping(body["options"], f"{where}.options")
    return out


def volume_spec(key: str, body: dict[str, Any], project: str) -> VolumeSpec:
    where = f"volumes.{key}"
    external, default_name = _external(body, key, project, where)
    return VolumeSpec(
        key=key,
        name=v.string(body.get("name", default_name), f"{where}.name"),
        driver=None if body.get("driver") is None else v.string(body["driver"], f"{where}.driver"),
        driver_opts=v.mapping(body.get("driver_opts"), f"{where}.driver_opts"),
        external=external,
        labels=v.mapping(body.get("labels"), f"{where}.labels"),
    )


def flag_value(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ComposeError(f"{where}: expected true or false, got {value!r}")
