"""Where the promotion policy in force comes from, cached so an unchanged policy is never parsed twice.

    MODELREG_POLICY_FILE set   the file: read at start (an invalid file is a startup error), re-read when
                               its modification time or size changes; an invalid edit is logged and the
                               last valid policy keeps serving
    otherwise                  the policy stored through ``set_policy`` (one primary-key read inside the
                               caller's transaction, so every server process sees a change at once)
    neither                    ``DEFAULT_POLICY``

One ``PolicySource`` is shared by every ``Registry`` of a process (``as_actor`` passes it on).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from modelreg.access import Permission
from modelreg.errors import InvalidPolicy, PolicyFromFile, PolicyNotFound
from modelreg.metadata.protocol import MetadataSession
from modelreg.registry.policy import DEFAULT_POLICY, Policy, parse_policy
from modelreg.types import PolicyDocument

if TYPE_CHECKING:
    from modelreg.registry.service import Registry

__all__ = ["PolicySource", "delete_policy", "get_policy", "set_policy"]

_log = logging.getLogger("modelreg.policy")


class PolicySource:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._policy = DEFAULT_POLICY
        self._stored: tuple[str, Policy] | None = None
        if self.path is not None:
            stamp = self._file_stamp()
            self._policy = self._read_file()  # raises: an invalid policy file stops the start
            self._stamp = stamp

    def current(self, session: MetadataSession) -> Policy:
        if self.path is not None:
            return self._from_file()
        stored = session.stored_policy()
        if stored is None:
            return DEFAULT_POLICY
        cached = self._stored
        if cached is not None and cached[0] == stored.text:
            return cached[1]
        policy = parse_policy(stored.text)  # validated when set; parsed once per change
        self._stored = (stored.text, policy)
        return policy

    def _from_file(self) -> Policy:
        try:
            stamp = self._file_stamp()
        except InvalidPolicy as error:
            stamp = None
            problem: InvalidPolicy | None = error
        else:
            problem = None
        if stamp == self._stamp:
            return self._policy
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    if problem is not None:
                        raise problem
                    self._policy = self._read_file()
                    _log.info("promotion policy reloaded from %s", self.path)
                except InvalidPolicy as error:
                    _log.error("keeping the last valid promotion policy: %s", error.message)
            return self._policy

    def _file_stamp(self) -> tuple[int, int]:
        assert self.path is not None
        try:
            status = self.path.stat()
        except OSError as error:
            raise InvalidPolicy(f"cannot read the policy file {self.path}: {error.strerror}") from None
        return status.st_mtime_ns, status.st_size

    def _read_file(self) -> Policy:
        assert self.path is not None
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidPolicy(f"cannot read the policy file {self.path}: {error}") from None
        try:
            return parse_policy(text)
        except InvalidPolicy as error:
            raise InvalidPolicy(f"{self.path}: {error.message}", details=error.details) from None


def get_policy(registry: Registry) -> PolicyDocument:
    # The whole document for anyone who may read some model: its rules say what promoting them takes.
    registry.actor.require_somewhere(Permission.MODEL_READ)
    source = registry.policies
    with registry.metadata.session() as session:
        stored = None if source.path is not None else session.stored_policy()
        policy = source.current(session)
    if source.path is not None:
        return _document("file", policy)
    if stored is None:
        return _document("default", policy)
    return _document("database", policy, stored.updated_at, stored.updated_by)


def set_policy(registry: Registry, text: str) -> PolicyDocument:
    """Validate and store the policy (policy:admin, audited); refused while a policy file is in force."""
    registry.actor.require(Permission.POLICY_ADMIN)
    _not_from_file(registry)
    policy = parse_policy(text)
    with registry.metadata.session(write=True) as session:
        before = session.stored_policy()
        now = registry._now()
        session.put_policy(policy.text, at=now, actor=registry.actor.name)
        registry._audit(
            session, now, "registry:policy:set", None, "policy",
            before=None if before is None else _sha256(before.text), after=_sha256(policy.text),
            text=policy.text,
        )  # fmt: skip
    return _document("database", policy, now, registry.actor.name)


def delete_policy(registry: Registry) -> None:
    """Remove the stored policy: the defaults apply again. ``PolicyNotFound`` when none is stored."""
    registry.actor.require(Permission.POLICY_ADMIN)
    _not_from_file(registry)
    with registry.metadata.session(write=True) as session:
        before = session.stored_policy()
        if before is None or not session.delete_policy():
            raise PolicyNotFound("no promotion policy is stored")
        now = registry._now()
        registry._audit(
            session, now, "registry:policy:delete", None, "policy", before=_sha256(before.text), after=None
        )


def _not_from_file(registry: Registry) -> None:
    if registry.policies.path is not None:
        raise PolicyFromFile(
            f"the promotion policy comes from the file {registry.policies.path} (MODELREG_POLICY_FILE): "
            "edit that file instead"
        )


def _document(
    source: str, policy: Policy, at: datetime | None = None, by: str | None = None
) -> PolicyDocument:
    return PolicyDocument(
        source=source,
        text=policy.text,
        protected_aliases=policy.protected_aliases,
        rules=len(policy.rules),
        updated_at=at,
        updated_by=by,
    )


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
