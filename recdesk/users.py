"""Desk users: one per person, with a role and the SSH keys that sign them on."""

from __future__ import annotations

import base64
import hashlib

import peewee

from recdesk.desk import check_user_name
from recdesk.errors import DeskError
from recdesk.roles import MANAGERS, ROLES
from recdesk.vault import audit, seals
from recdesk.vault.models import SshKey, User, now


def fingerprint(public_key: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line (`ssh-ed25519 AAAA... comment`)."""
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    line = public_key.strip()
    parts = line.split()
    if len(parts) < 2:
        raise DeskError("an SSH public key looks like `ssh-ed25519 AAAA... comment`: paste the whole .pub line")
    try:
        load_ssh_public_key(" ".join(parts[:2]).encode())
        blob = base64.b64decode(parts[1], validate=True)
    except (ValueError, TypeError):
        raise DeskError(f"not a usable SSH public key ({parts[0]} ...): paste the whole .pub line") from None
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def add(desk, actor, name: str, role: str, *, full_name: str = "", os_user: str | None = None,
        ssh_keys: list[str] = ()) -> User:
    actor.require(*MANAGERS)
    check_user_name(name)
    if role not in ROLES:
        raise DeskError(f"role {role!r} must be one of {', '.join(ROLES)}")
    prints = [(key.strip(), fingerprint(key)) for key in ssh_keys]
    with desk.write():
        if User.select().where(User.name == name).exists():
            raise DeskError(f"desk user {name!r} already exists")
        try:
            user = User.create(name=name, role=role, full_name=full_name, os_user=os_user)
            for key, fp in prints:
                SshKey.create(user=user, public_key=key, fingerprint=fp)
            seals.reseal(desk, User, User.id == user.id)
            seals.reseal(desk, SshKey, SshKey.user == user.id)
        except peewee.IntegrityError:
            raise DeskError("that SSH key already belongs to another desk user: each person has their own") from None
        audit.append(desk, actor, "user.add", object=f"user:{name}",
                     details={"role": role, "ssh_keys": [fp for _, fp in prints]})
    return user


def disable(desk, actor, name: str) -> None:
    actor.require(*MANAGERS)
    with desk.write():
        user = User.get_or_none(User.name == name)
        if user is None:
            raise DeskError(f"no desk user {name!r}")
        if user.disabled:
            raise DeskError(f"desk user {name!r} is already disabled")
        if user.id == actor.user_id:
            raise DeskError("you cannot disable yourself: ask another manager")
        User.update(disabled=True, disabled_at=now()).where(User.id == user.id).execute()
        seals.reseal(desk, User, User.id == user.id)
        audit.append(desk, actor, "user.disable", object=f"user:{name}")


def key_owner(desk, fingerprint: str) -> tuple[SshKey, User] | None:
    """The desk key with this fingerprint and its user, both seals checked (TamperError when either fails)."""
    row = SshKey.select(SshKey, User).join(User).where(SshKey.fingerprint == fingerprint).first()
    if row is None:
        return None
    seals.check(desk, row)
    seals.check(desk, row.user)
    return row, row.user


def listing(desk, actor) -> list[dict]:
    """Every desk user, for a manager (with key fingerprints) or a supervisor reviewing access (names, roles,
    state and how many keys, no fingerprints: a fingerprint helps no review and points at a key to attack)."""
    actor.require("manager", "supervisor")
    keys: dict[int, list[str]] = {}
    for k in SshKey.select():
        keys.setdefault(k.user_id, []).append(k.fingerprint)
    rows = []
    for u in User.select().order_by(User.name):
        row = {"name": u.name, "role": u.role, "full_name": u.full_name, "os_user": u.os_user or "",
               "disabled": u.disabled, "keys": len(keys.get(u.id, []))}
        if actor.role == "manager":
            row["ssh_keys"] = keys.get(u.id, [])
        rows.append(row)
    return rows
