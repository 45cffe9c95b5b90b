"""moto's KMS keys as a JSON snapshot, for kvsmock's ``--data-dir``.

moto keeps KMS state in memory only; a server restarted on the same data
directory restores this snapshot, so data keys sealed before still decrypt.

Kept, per key of every account and region: id, ARN, key material, state
(enabled, disabled, pending deletion with its date), description, usage,
spec, policy, origin, multi-Region configuration, creation date, key
manager, rotation status and rotations, aliases, tags and grants (with their
ids and tokens). An asymmetric key keeps its private key (PKCS#8 PEM), so
its signatures and public key stay the same; for a symmetric key moto's
unused RSA key is not kept. Nothing else of moto's KMS is kept.

The snapshot holds key material in clear: it is as secret as the keys.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import serialization

#: The snapshot format this module writes and reads.
VERSION = 1

log = logging.getLogger("kvsmock")


def snapshot() -> dict[str, Any]:
    """Every key in moto's ``kms_backends``, JSON-serialisable (``{"version", "keys"}``)."""
    from moto.kms.models import kms_backends

    keys: list[dict[str, Any]] = []
    for account_id, regions in list(kms_backends.items()):
        for region, backend in list(regions.items()):
            for key in list(backend.keys.values()):
                try:
                    # the round trip checks the entry serialises and copies it off moto's objects
                    keys.append(json.loads(json.dumps(_dump_key(account_id, region, backend, key))))
                except Exception:
                    log.warning("KMS snapshot: key %s (%s, %s) not saved", getattr(key, "id", "?"),
                                account_id, region, exc_info=True)
    return {"version": VERSION, "keys": keys}


def restore(state: dict[str, Any]) -> None:
    """Put a :func:`snapshot`'s keys back into moto, replacing keys with the same id.

    Raises ValueError for a snapshot of an unknown format version; a key that
    cannot be restored is skipped with a warning."""
    version = state.get("version") if isinstance(state, dict) else None
    if version != VERSION:
        raise ValueError(f"unknown KMS snapshot format version {version!r} (kvsmock reads version {VERSION})")
    for entry in state.get("keys") or []:
        try:
            _install(entry, _load_key(entry))
        except Exception:
            key_id = entry.get("id") if isinstance(entry, dict) else None
            log.warning("KMS restore: key %s not restored", key_id, exc_info=True)


def _dump_key(account_id: str, region: str, backend: Any, key: Any) -> dict[str, Any]:
    return {
        "account": account_id,
        "region": region,
        "id": key.id,
        "arn": key.arn,
        "key_material": base64.b64encode(key.key_material).decode("ascii"),
        "private_key_pem": _private_pem(key),
        "key_state": key.key_state,
        "enabled": key.enabled,
        "description": key.description,
        "key_usage": key.key_usage,
        "key_spec": key.key_spec,
        "policy": key.policy,
        "origin": key.origin,
        "multi_region": key.multi_region,
        "multi_region_configuration": getattr(key, "multi_region_configuration", None),
        "creation_date": key.creation_date,
        "deletion_date": key.deletion_date.isoformat() if key.deletion_date else None,
        "key_manager": key.key_manager,
        "key_rotation_status": key.key_rotation_status,
        "rotations": key.rotations,
        "aliases": list(key.aliases),
        "tags": backend.tagger.get_tag_dict_for_resource(key.id),
        "grants": [
            {
                "id": g.id,
                "token": g.token,
                "name": g.name,
                "grantee_principal": g.grantee_principal,
                "retiring_principal": g.retiring_principal,
                "operations": g.operations,
                "constraints": g.constraints,
            }
            for g in key.grants.values()
        ],
    }


def _asymmetric(key_spec: str) -> bool:
    return key_spec != "SYMMETRIC_DEFAULT" and not key_spec.startswith("HMAC_")


def _private_pem(key: Any) -> str | None:
    """The asymmetric key's private key as unencrypted PKCS#8 PEM (None for a symmetric key)."""
    if not _asymmetric(key.key_spec):
        return None
    pem: bytes = key.private_key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode("ascii")


def _load_key(entry: dict[str, Any]) -> Any:
    """A moto Key built from a snapshot entry (nothing in moto is touched yet)."""
    from moto.kms.models import Grant, Key

    key = Key(  # type: ignore[abstract]
        policy=entry["policy"],
        key_usage=entry["key_usage"],
        key_spec=entry["key_spec"],
        description=entry["description"],
        account_id=entry["account"],
        region=entry["region"],
        multi_region=entry["multi_region"],  # moto keeps None when not asked
        origin=entry["origin"],
    )
    key.id = entry["id"]
    key.arn = entry["arn"]
    key.key_material = base64.b64decode(entry["key_material"], validate=True)
    if not key.key_material:
        raise ValueError("empty key material")
    key.key_state = entry["key_state"]
    key.enabled = entry["enabled"]
    key.creation_date = float(entry["creation_date"])
    key.deletion_date = _naive_utc(entry["deletion_date"]) if entry.get("deletion_date") else None
    key.key_manager = entry["key_manager"]
    key.key_rotation_status = entry["key_rotation_status"]
    key.rotations = list(entry.get("rotations") or [])
    if key.multi_region and entry.get("multi_region_configuration"):
        config = key.multi_region_configuration = entry["multi_region_configuration"]
        # moto shares this dict between a primary and its replicas, so a primary can read REPLICA
        config["MultiRegionKeyType"] = "PRIMARY" if config["PrimaryKey"]["Arn"] == key.arn else "REPLICA"
    if entry.get("private_key_pem"):
        _set_private_key(key, entry["private_key_pem"])
    for g in entry.get("grants") or []:
        grant = Grant(key.id, g["name"], g["grantee_principal"], g["operations"],
                      constraints=g["constraints"], retiring_principal=g["retiring_principal"])
        grant.id, grant.token = g["id"], g["token"]
        key.grants[grant.id] = grant
    return key


def _set_private_key(key: Any, pem: str) -> None:
    """Swap the private key moto generated for the saved one (same kind and size)."""
    loaded = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    current = key.private_key.private_key
    if type(loaded) is not type(current) or _size(loaded) != _size(current):
        raise ValueError(f"the saved private key does not fit key spec {key.key_spec}")
    key.private_key.private_key = loaded


def _size(private_key: Any) -> object:
    curve = getattr(private_key, "curve", None)
    return curve.name if curve is not None else getattr(private_key, "key_size", None)


def _naive_utc(text: str) -> datetime:
    """An ISO date as the naive UTC datetime moto keeps."""
    when = datetime.fromisoformat(text)
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def _install(entry: dict[str, Any], key: Any) -> None:
    """Put the key, its aliases and its tags into its account's and region's backend."""
    from moto.kms.models import Alias, kms_backends

    from .moto_glue import regions_of

    account_id, region = entry["account"], entry["region"]
    backend = regions_of(kms_backends, account_id)[region]
    tags = [{"TagKey": k, "TagValue": v} for k, v in (entry.get("tags") or {}).items()]
    for name in entry.get("aliases") or []:
        key.aliases[name] = Alias(account_id=account_id, region=region, name=name, key=key)  # type: ignore[abstract]
    for other in list(backend.keys.values()):  # an alias names one key only
        if other.id != key.id:
            for name in key.aliases:
                other.aliases.pop(name, None)
    backend.keys[key.id] = key
    backend.tagger.delete_all_tags_for_resource(key.id)
    if tags:
        backend.tagger.tag_resource(key.id, tags)
