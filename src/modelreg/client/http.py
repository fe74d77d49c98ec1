"""``HttpBackend``: the registry's use cases over the REST API (reference: ``docs/api.md``).

    modelreg.connect("http://host:8080", token=…) ─► Client(HttpBackend) ─► Wire ─► REST API ─► Registry

One method per use case, each one route; the ``Client`` and the transfer code above it are the same as for
the embedded registry, so both SDKs behave alike (one behavioural suite runs against both).

What is checked here rather than on the server: only what must travel in a URL (model names, aliases,
references, tag keys) or cannot travel in JSON (NaN, infinities, non-string keys), using the registry's own
validators so the error is the one the embedded SDK raises. Everything else is the server's registry's call.
Bytes are verified on arrival: every chunk against its sha256, every manifest against the version digest.
When the server offers direct transfers, chunk bytes go straight to and from its object store through
presigned URLs (``client/direct.py``), and through the API whenever a URL is absent or fails.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from modelreg.client.direct import DirectChannel
from modelreg.client.wire import Wire, decode_json, nbytes
from modelreg.digest import parse_digest, sha256_bytes
from modelreg.errors import DigestMismatch, InvalidInput, InvalidMetadata, StorageUnavailable, TagNotFound
from modelreg.registry.lineage import check_lineage, check_signature
from modelreg.registry.manifest import ChunkRef, Manifest
from modelreg.registry.names import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    check_alias,
    check_description,
    check_instant,
    check_metrics,
    check_model_name,
    check_strings,
)
from modelreg.registry.promotion_args import check_request_id
from modelreg.registry.refs import Ref, parse_ref
from modelreg.types import (
    AliasChange,
    AuditEvent,
    AuditVerification,
    CommitReport,
    Deployment,
    GcReport,
    Group,
    LegalHold,
    Lineage,
    Model,
    ModelVersion,
    Page,
    PolicyDocument,
    Promotion,
    RetentionPolicy,
    RetentionReport,
    RoleBinding,
    StageChange,
    StorageStats,
    Token,
    User,
)

__all__ = ["HttpBackend"]

T = TypeVar("T")
R = TypeVar(  # the wire's record types
    "R",
    Model,
    ModelVersion,
    AliasChange,
    StageChange,
    Token,
    LegalHold,
    RetentionPolicy,
    AuditEvent,
    AuditVerification,
    Deployment,
    Promotion,
    PolicyDocument,
    User,
    Group,
    RoleBinding,
)
_API = "/api/v1"
_BATCH = 10_000  # digests per missing/known query: the server's limit
_MAX_IDEMPOTENCY_KEY = 128
_UPLOAD_URLS = {"upload_urls": "true"}


class HttpBackend:
    """A registry across the network. Thread-safe: the push/pull thread pools share its connection pool.

    ``client`` replaces the connection pool (any ``httpx.Client``: proxies, TLS, a custom transport such as
    the in-process app of the test suite); it is then the caller's to close. ``pool_size`` should match the
    transfer parallelism. Safe requests are retried ``retries`` times, waiting about ``backoff`` seconds,
    doubling each time (with jitter, at most 8 s); ``timeout`` (seconds) bounds each network wait.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.25,
        pool_size: int = 8,
    ) -> None:
        self._wire = Wire(
            base_url,
            token=token,
            client=client,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            pool_size=pool_size,
        )
        self.base_url = self._wire.base_url
        # Presigned chunk transfers, used whenever the server offers them (client/direct.py).
        self._direct = DirectChannel(timeout=timeout, retries=retries, backoff=backoff, pool_size=pool_size)

    def __repr__(self) -> str:
        return f"<HttpBackend {self.base_url}>"

    def close(self) -> None:
        self._wire.close()
        self._direct.close()

    # Transfer ---------------------------------------------------------------------------------------------
    def missing_chunks(self, digests: Sequence[str]) -> list[str]:
        wanted = [parse_digest(d) for d in dict.fromkeys(digests)]
        missing: list[str] = []
        for start in range(0, len(wanted), _BATCH):
            body = {"digests": wanted[start : start + _BATCH]}
            # Older servers ignore the query and answer no upload URLs: every chunk then goes through them.
            answer = self._json("POST", "/chunks/missing", retry=True, body=body, params=_UPLOAD_URLS)
            missing.extend(_field(answer, "missing"))
            self._direct.offer_uploads(answer.get("uploads"))
        return missing

    def put_chunks(self, chunks: Sequence[tuple[str, bytes | memoryview]]) -> list[bool]:
        """Upload chunks, (digest, bytes) each; True for each that was new. Straight to the object store when
        the server handed out a URL for it (which binds the sha256); the rest in one ``POST /chunks``, which
        verifies each (DIGEST_MISMATCH stores none of them). A push sends at most MAX_CHUNK bytes at once,
        so a server that takes its largest chunk takes any batch."""
        wanted = [(parse_digest(digest), data) for digest, data in chunks]
        stored = [self._direct.put(digest, data) for digest, data in wanted]
        rest = [index for index, flag in enumerate(stored) if flag is None]
        if rest:
            named = [f"{wanted[i][0]}:{nbytes(wanted[i][1])}" for i in rest]
            answer = self._json(
                "POST", "/chunks", retry=True, params={"chunk": named}, content=[wanted[i][1] for i in rest]
            )
            flags = _build(_flags, _field(answer, "stored"))
            if len(flags) != len(rest):
                raise StorageUnavailable(f"the registry answered {len(flags)} flags for {len(rest)} chunks")
            for index, flag in zip(rest, flags, strict=True):
                stored[index] = flag
        return [bool(flag) for flag in stored]

    def known_files(self, digests: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
        wanted = [parse_digest(d) for d in dict.fromkeys(digests)]
        known: dict[str, list[tuple[str, int]]] = {}
        for start in range(0, len(wanted), _BATCH):
            body = {"digests": wanted[start : start + _BATCH]}
            files = _field(self._json("POST", "/files/known", retry=True, body=body), "files")
            known.update(_build(_chunk_lists, files))
        return known

    def commit_version(self, name: str, manifest: Manifest, **metadata: Any) -> ModelVersion:
        return self.commit(name, manifest, **metadata).version

    def commit(self, name: str, manifest: Manifest, **metadata: Any) -> CommitReport:
        """POST the version. Always idempotent: without a caller's key, one is made for this commit, so a
        commit retried after a lost response returns the version the first attempt created."""
        key = _idempotency_key(metadata.pop("idempotency_key", None))
        body = _commit_body(manifest, **metadata)
        data = self._json(
            "POST", f"{_model(name)}/versions", retry=True, body=body, headers={"Idempotency-Key": key}
        )
        report: CommitReport = _build(CommitReport.from_dict, data)
        return report

    def manifest(self, ref: str) -> tuple[ModelVersion, Manifest]:
        data = self._json("GET", f"{_version(ref)}/manifest", retry=True)
        version: ModelVersion = _record(ModelVersion, _field(data, "version"))
        manifest = _build(Manifest.from_json, _field(data, "manifest"))
        if manifest.digest != version.digest:
            raise DigestMismatch(
                f"the manifest received for {version.ref} does not match its digest {version.digest}",
                details={"expected": version.digest, "actual": manifest.digest},
            )
        if data.get("direct_downloads") is True:
            self._direct.remember(version.ref, [c.digest for f in manifest.files for c in f.chunks])
        return version, manifest

    def read_chunk(self, ref: str, digest: str) -> bytes:
        """The chunk's bytes, verified here: whatever the server or the network did, nothing unverified
        reaches a file."""
        wanted = parse_digest(digest)
        direct = self._direct.get(ref, wanted, self._chunk_urls)  # verified, or None: ask the server
        if direct is not None:
            return direct
        data = self._wire.call("GET", f"{_API}{_version(ref)}/chunks/{wanted}", retry=True).content
        return _verified(ref, wanted, data)

    def read_chunks(self, ref: str, chunks: Sequence[ChunkRef]) -> Iterator[bytes]:
        """The chunks' bytes in order, each verified here: from the object store when the server offers
        direct downloads for ``ref``, else in one ``POST …/chunks/read`` (a pull asks for about 8 MiB).

        A response cut short is followed by a request for the chunks not yet received: the server then
        answers the authoritative error if one of them is lost or damaged in its store. Cuts that deliver
        nothing are retried as often as other reads."""
        wanted = [ChunkRef(parse_digest(chunk.digest), chunk.size) for chunk in chunks]
        if self._direct.offers(ref):
            yield from (self.read_chunk(ref, chunk.digest) for chunk in wanted)
            return
        path = f"{_API}{_version(ref)}/chunks/read"
        done = failures = 0
        while done < len(wanted):
            rest, before = wanted[done:], done
            body = {"chunks": [{"digest": chunk.digest, "size": chunk.size} for chunk in rest]}
            try:
                with self._wire.stream("POST", path, body=body) as response:
                    for chunk, data in zip(rest, _split(response, [c.size for c in rest]), strict=True):
                        yield _verified(ref, chunk.digest, data)
                        done += 1
            except httpx.HTTPError as error:  # the body was cut short: ask for what is still missing
                failures = 0 if done > before else failures + 1
                if failures > self._wire.retries:
                    raise StorageUnavailable(
                        f"reading chunks of {ref} from {self.base_url} failed: {error}",
                        details={"attempts": failures},
                    ) from None

    def _chunk_urls(self, ref: str, digests: list[str]) -> Any:
        """Presigned GETs for chunks of ``ref`` (the server checks the caller may pull them)."""
        data = self._json("POST", f"{_version(ref)}/chunks/urls", retry=True, body={"digests": digests})
        return _field(data, "downloads")

    # Reads ------------------------------------------------------------------------------------------------
    def get_model(self, name: str) -> Model:
        return _record(Model, self._json("GET", _model(name), retry=True))

    def list_models(self, *, limit: int = 100, page_token: str | None = None) -> Page[Model]:
        params = _paging(limit, page_token)
        return _page(Model, self._json("GET", "/models", retry=True, params=params))

    def get_version(self, ref: str) -> ModelVersion:
        return _record(ModelVersion, self._json("GET", _version(ref), retry=True))

    def list_versions(
        self, name: str, *, include_deleted: bool = False, limit: int = 100, page_token: str | None = None
    ) -> Page[ModelVersion]:
        params = {**_paging(limit, page_token), "include_deleted": "true" if include_deleted else "false"}
        data = self._json("GET", f"{_model(name)}/versions", retry=True, params=params)
        return _page(ModelVersion, data)

    def search_versions(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        body = {
            "filter": filter,
            "order_by": list(order_by or ()),
            "include_deleted": include_deleted,
            "limit": limit,
            "page_token": page_token,
        }
        # A search is a read sent as POST (filters do not fit in a URL), so it is safe to repeat.
        data = self._json("POST", "/search/versions", retry=True, body=body)
        return _page(ModelVersion, data)

    def search_models(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Model]:
        body = {"filter": filter, "order_by": list(order_by or ()), "limit": limit, "page_token": page_token}
        return _page(Model, self._json("POST", "/search/models", retry=True, body=body))

    def alias_history(self, name: str, alias: str) -> list[AliasChange]:
        data = self._json("GET", f"{_alias(name, alias)}/history", retry=True)
        return _items(AliasChange, data)

    def stage_history(self, ref: str) -> list[StageChange]:
        return _items(StageChange, self._json("GET", f"{_version(ref)}/stages", retry=True))

    def resolve(self, ref: str, *, at: datetime | str | None = None) -> ModelVersion:
        params = {} if at is None else {"at": check_instant(at).isoformat()}
        return _record(ModelVersion, self._json("GET", f"{_version(ref)}/resolve", retry=True, params=params))

    def audit_events(
        self,
        *,
        actor: str | None = None,
        model: str | None = None,
        action: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        filters = {"actor": actor, "model": model, "action": action}
        times = {"since": since, "until": until}
        params: dict[str, str | int] = {
            **_paging(limit, page_token),
            **{key: value for key, value in filters.items() if value is not None},
            **{
                key: check_instant(value, key).isoformat()
                for key, value in times.items()
                if value is not None
            },
        }
        return _page(AuditEvent, self._json("GET", "/audit/events", retry=True, params=params))

    def record_deployment(self, ref: str, *, environment: str, endpoint: str | None = None) -> Deployment:
        # Retried safely: recording the version that already serves there is a no-op.
        body = {"ref": ref, "environment": environment, "endpoint": endpoint}
        return _record(Deployment, self._json("POST", "/deployments", retry=True, body=body))

    def record_deployment_ended(
        self, name: str, *, environment: str, endpoint: str | None = None
    ) -> Deployment:
        body = {"name": name, "environment": environment, "endpoint": endpoint}
        return _record(Deployment, self._json("POST", "/deployments/ended", retry=False, body=body))

    def deployments(
        self,
        *,
        environment: str | None = None,
        model: str | None = None,
        at: datetime | str | None = None,
    ) -> list[Deployment]:
        pairs = (("environment", environment), ("model", model))
        params = {key: value for key, value in pairs if value is not None}
        if at is not None:
            params["at"] = check_instant(at).isoformat()
        return _items(Deployment, self._json("GET", "/deployments", retry=True, params=params))

    def verify_audit(self, *, anchor: str | None = None) -> AuditVerification:
        params = {} if anchor is None else {"anchor": anchor}
        return _record(AuditVerification, self._json("GET", "/audit/verify", retry=True, params=params))

    # Writes: not repeated after a lost response (each one is audited; a repeat would record a second change)
    def set_alias(self, name: str, alias: str, version: int) -> AliasChange:
        data = self._json("PUT", _alias(name, alias), retry=False, body={"version": version})
        return _record(AliasChange, data)

    def delete_alias(self, name: str, alias: str) -> None:
        self._wire.call("DELETE", _API + _alias(name, alias), retry=False)

    def set_tag(self, target: str, key: str, value: str) -> None:
        check_strings("tag", {key: value}, max_value=MAX_TAG_VALUE)  # the registry's first check, too
        self._json("PUT", f"{_target(target)}/tags/{_segment(key)}", retry=False, body={"value": value})

    def delete_tag(self, target: str, key: str) -> None:
        path = _target(target)
        if not isinstance(key, str) or not key:  # no such key can be set, and an empty one has no URL
            raise TagNotFound(f"tag {key!r} not found on {target!r}")
        self._wire.call("DELETE", f"{_API}{path}/tags/{_segment(key)}", retry=False)

    def update_description(self, target: str, description: str) -> None:
        self._json("PATCH", _target(target), retry=False, body={"description": description})

    def set_stage(self, ref: str, stage: str) -> ModelVersion:
        data = self._json("PUT", f"{_version(ref)}/stage", retry=False, body={"stage": stage})
        return _record(ModelVersion, data)

    def delete_version(self, ref: str) -> ModelVersion:
        return _record(ModelVersion, self._json("DELETE", _version(ref), retry=False))

    # Models -----------------------------------------------------------------------------------------------
    def create_model(self, name: str, *, description: str = "", tags: dict[str, str] | None = None) -> Model:
        body = {"name": name, "description": description, "tags": tags}
        if not _portable(body):  # JSON would refuse or change it: the registry's validators say why
            check_model_name(name)
            check_description(description)
            check_strings("tag", tags, max_value=MAX_TAG_VALUE)
            raise InvalidMetadata("tags hold values JSON cannot carry (non-string keys…)")
        return _record(Model, self._json("POST", "/models", retry=False, body=body))

    def rename_model(self, name: str, new_name: str) -> Model:
        path = f"{_model(name)}/rename"
        if not _portable(new_name):
            check_model_name(new_name)
        return _record(Model, self._json("POST", path, retry=False, body={"new_name": new_name}))

    def delete_model(self, name: str) -> None:
        self._wire.call("DELETE", _API + _model(name), retry=False)

    # Tokens -----------------------------------------------------------------------------------------------
    def create_token(
        self, name: str, *, role: str, expires_at: datetime | None = None, user: str | None = None
    ) -> Token:
        expiry = None if expires_at is None else expires_at.isoformat()
        body = {"name": name, "role": role, "expires_at": expiry, "user": user}
        return _record(Token, self._json("POST", "/tokens", retry=False, body=body))

    def list_tokens(self) -> list[Token]:
        return _items(Token, self._json("GET", "/tokens", retry=True))

    def revoke_token(self, name: str) -> int:
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name:
            raise InvalidInput(
                f"invalid token name {str(name)[:200]!r}: use 1-128 letters, digits, '.', '_' or '-'"
            )
        data = self._json("DELETE", f"/tokens/{_segment(name)}", retry=False)
        return _build(int, _field(data, "revoked"))

    # Access control -----------------------------------------------------------------------------------------
    def create_user(self, name: str) -> User:
        return _record(User, self._json("POST", "/access/users", retry=False, body={"name": name}))

    def delete_user(self, name: str) -> None:
        self._wire.call("DELETE", f"{_API}/access/users/{_name_segment('user', name)}", retry=False)

    def list_users(self) -> list[User]:
        return _items(User, self._json("GET", "/access/users", retry=True))

    def create_group(self, name: str) -> Group:
        return _record(Group, self._json("POST", "/access/groups", retry=False, body={"name": name}))

    def delete_group(self, name: str) -> None:
        self._wire.call("DELETE", f"{_API}/access/groups/{_name_segment('group', name)}", retry=False)

    def add_group_member(self, group: str, member: str) -> Group:
        path = f"/access/groups/{_name_segment('group', group)}/members/{_name_segment('member', member)}"
        return _record(Group, self._json("PUT", path, retry=True))  # idempotent

    def remove_group_member(self, group: str, member: str) -> Group:
        path = f"/access/groups/{_name_segment('group', group)}/members/{_name_segment('member', member)}"
        return _record(Group, self._json("DELETE", path, retry=False))

    def list_groups(self) -> list[Group]:
        return _items(Group, self._json("GET", "/access/groups", retry=True))

    def grant(self, role: str, principal: str, *, models: str = "*") -> RoleBinding:
        body = {"role": role, "principal": principal, "models": models}
        return _record(RoleBinding, self._json("POST", "/access/bindings", retry=True, body=body))

    def revoke(self, role: str, principal: str, *, models: str = "*") -> None:
        body = {"role": role, "principal": principal, "models": models}
        self._json("POST", "/access/bindings/revoke", retry=False, body=body)

    def list_bindings(self, principal: str | None = None) -> list[RoleBinding]:
        params = {} if principal is None else {"principal": principal}
        return _items(RoleBinding, self._json("GET", "/access/bindings", retry=True, params=params))

    # Storage ----------------------------------------------------------------------------------------------
    def storage_stats(self, name: str | None = None) -> StorageStats:
        params = {} if name is None else {"name": check_model_name(name)}
        result: StorageStats = _build(
            StorageStats.from_dict, self._json("GET", "/storage/stats", retry=True, params=params)
        )
        return result

    def collect_garbage(self, *, apply: bool = False) -> GcReport:
        """A dry run is retried like any read; an applied one is not (a second sweep would be reported
        instead of the first; running it again is the caller's call)."""
        if not isinstance(apply, bool):
            raise InvalidInput(f"apply must be true or false, not {str(apply)[:40]!r}")
        data = self._json("POST", "/admin/gc", retry=not apply, body={"apply": apply})
        result: GcReport = _build(GcReport.from_dict, data)
        return result

    # Retention --------------------------------------------------------------------------------------------
    def set_hold(self, ref: str, *, reason: str = "") -> LegalHold:
        data = self._json("PUT", f"{_version(ref)}/hold", retry=False, body={"reason": reason})
        return _record(LegalHold, data)

    def remove_hold(self, ref: str) -> None:
        self._wire.call("DELETE", f"{_API}{_version(ref)}/hold", retry=False)

    def list_holds(self, name: str | None = None) -> list[LegalHold]:
        params = {} if name is None else {"name": check_model_name(name)}
        return _items(LegalHold, self._json("GET", "/holds", retry=True, params=params))

    def purge_version(self, ref: str) -> ModelVersion:
        return _record(ModelVersion, self._json("POST", f"{_version(ref)}/purge", retry=False))

    def list_retention_policies(self) -> list[RetentionPolicy]:
        return _items(RetentionPolicy, self._json("GET", "/retention", retry=True))

    def set_retention_policy(
        self,
        name: str | None = None,
        *,
        keep_last: int | None = None,
        archived_days: int | None = None,
        deleted_days: int | None = None,
    ) -> RetentionPolicy:
        body = {"keep_last": keep_last, "archived_days": archived_days, "deleted_days": deleted_days}
        return _record(RetentionPolicy, self._json("PUT", _retention(name), retry=False, body=body))

    def delete_retention_policy(self, name: str | None = None) -> None:
        self._wire.call("DELETE", _API + _retention(name), retry=False)

    def apply_retention(self, name: str | None = None, *, apply: bool = False) -> RetentionReport:
        """A dry run is retried like any read; an applied one is not (its report would be the second's)."""
        if not isinstance(apply, bool):
            raise InvalidInput(f"apply must be true or false, not {str(apply)[:40]!r}")
        body = {"name": None if name is None else check_model_name(name), "apply": apply}
        data = self._json("POST", "/retention/apply", retry=not apply, body=body)
        result: RetentionReport = _build(RetentionReport.from_dict, data)
        return result

    # Governed promotion: not retried after a lost response (each step is audited and most are final)
    def request_promotion(self, ref: str, *, to: str, comment: str | None = None) -> Promotion:
        body = {"ref": ref, "to": to, "comment": comment}
        return _record(Promotion, self._json("POST", "/promotions", retry=False, body=body))

    def approve(self, request_id: int, *, comment: str | None = None) -> Promotion:
        return self._decide(request_id, "approve", comment)

    def reject(self, request_id: int, *, comment: str | None = None) -> Promotion:
        return self._decide(request_id, "reject", comment)

    def cancel(self, request_id: int, *, comment: str | None = None) -> Promotion:
        return self._decide(request_id, "cancel", comment)

    def _decide(self, request_id: int, step: str, comment: str | None) -> Promotion:
        path = f"/promotions/{check_request_id(request_id)}/{step}"
        return _record(Promotion, self._json("POST", path, retry=False, body={"comment": comment}))

    def get_promotion(self, request_id: int) -> Promotion:
        path = f"/promotions/{check_request_id(request_id)}"
        return _record(Promotion, self._json("GET", path, retry=True))

    def list_promotions(
        self, name: str | None = None, *, status: str | None = None, limit: int = 100
    ) -> list[Promotion]:
        pairs = (("name", name), ("status", status))
        params: dict[str, str | int] = {key: value for key, value in pairs if value is not None}
        params["limit"] = limit
        return _items(Promotion, self._json("GET", "/promotions", retry=True, params=params))

    def rollback(self, ref: str, *, comment: str | None = None, emergency: bool = False) -> Promotion:
        body = {"ref": ref, "comment": comment, "emergency": emergency}
        return _record(Promotion, self._json("POST", "/promotions/rollback", retry=False, body=body))

    def get_policy(self) -> PolicyDocument:
        return _record(PolicyDocument, self._json("GET", "/policy", retry=True))

    def set_policy(self, text: str) -> PolicyDocument:
        return _record(PolicyDocument, self._json("PUT", "/policy", retry=False, body={"text": text}))

    def delete_policy(self) -> None:
        self._wire.call("DELETE", _API + "/policy", retry=False)

    # Helpers ----------------------------------------------------------------------------------------------
    def _json(self, method: str, path: str, *, retry: bool, **kwargs: Any) -> Any:
        return decode_json(self._wire.call(method, _API + path, retry=retry, **kwargs))


def _verified(ref: str, digest: str, data: bytes) -> bytes:
    actual = sha256_bytes(data)
    if actual != digest:
        raise DigestMismatch(
            f"chunk {digest} of {ref} does not match its content (got {actual})",
            details={"expected": digest, "actual": actual},
        )
    return data


def _split(response: httpx.Response, sizes: Sequence[int]) -> Iterator[bytes]:
    """The body cut into pieces of these sizes (one copy of each byte); a short body is httpx's error."""
    pieces = response.iter_bytes()
    parts: list[bytes] = []
    held = 0
    for size in sizes:
        while held < size:
            piece = next(pieces, None)
            if piece is None:
                raise httpx.RemoteProtocolError("the response ended before the chunks asked for")
            parts.append(piece)
            held += len(piece)
        leftover = held - size
        if leftover:
            last = parts[-1]
            parts[-1] = last[: len(last) - leftover]
        yield parts[0] if len(parts) == 1 else b"".join(parts)
        parts = [last[len(last) - leftover :]] if leftover else []
        held = leftover
    if held or next(pieces, None):
        raise StorageUnavailable("the registry answered more bytes than the chunks asked for")


def _model(name: str) -> str:
    return f"/models/{check_model_name(name)}"


def _alias(name: str, alias: str) -> str:
    return f"{_model(name)}/aliases/{check_alias(alias)}"


def _retention(name: str | None) -> str:
    """The global policy's path, or a model's own."""
    return "/retention" if name is None else f"{_model(name)}/retention"


def _version(ref: str) -> str:
    return _version_of(parse_ref(ref))


def _version_of(ref: Ref) -> str:
    """The contract's ``{ref}`` selector: ``3``, ``latest``, ``@alias`` or ``@sha256:…``."""
    if ref.version is not None:
        selector = str(ref.version)
    elif ref.alias is not None or ref.digest is not None:
        selector = f"@{ref.alias or ref.digest}"
    else:
        selector = "latest"
    return f"{_model(ref.name)}/versions/{selector}"


def _target(target: str) -> str:
    """A tag's or description's owner: a bare name is the model; any other reference form is a version."""
    parsed = parse_ref(target)
    if parsed == Ref(parsed.name) and "/" not in target:
        return _model(parsed.name)
    return _version_of(parsed)


def _name_segment(kind: str, name: object) -> str:
    """A user, group or member name as a path segment; '', '.' and '..' would change the path itself."""
    if not isinstance(name, str) or name in ("", ".", ".."):
        raise InvalidInput(f"invalid {kind} name {str(name)[:200]!r}")
    return _segment(name)


def _segment(text: str) -> str:
    """One path segment: '/' and everything else outside the unreserved set percent-encoded."""
    return quote(text, safe="")


def _paging(limit: int, page_token: str | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {"limit": limit}
    if page_token is not None:
        params["page_token"] = page_token
    return params


def _idempotency_key(key: Any) -> str:
    if key is None:
        return uuid.uuid4().hex
    if not isinstance(key, str) or not 0 < len(key) <= _MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(f"invalid idempotency key: expected 1-{_MAX_IDEMPOTENCY_KEY} characters")
    if not key.isascii() or not key.isprintable():
        raise InvalidInput("invalid idempotency key: over HTTP it must be printable ASCII (it is a header)")
    return key


def _commit_body(
    manifest: Manifest,
    *,
    metrics: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str = "",
    lineage: Mapping[str, Any] | Lineage | None = None,
    signature: Any = None,
    aliases: Sequence[str] | None = None,
    version: Any = None,
) -> dict[str, Any]:
    """The POST body; the same keyword arguments as the registry's ``commit_version`` (others: TypeError)."""
    body = {
        "manifest": manifest.to_json(),
        "metrics": metrics or {},
        "params": params or {},
        "tags": tags or {},
        "description": description,
        "lineage": lineage.to_dict() if isinstance(lineage, Lineage) else lineage,
        "signature": signature,
        "aliases": list(aliases or ()),
    }
    if version is not None:  # only then: a server that predates imports refuses the unknown field
        body["version"] = version
    if not _portable(body):
        # JSON would refuse or silently change it (NaN, int keys…): the registry's validators say why.
        check_metrics(metrics)
        check_strings("param", params, max_value=MAX_PARAM_VALUE)
        check_strings("tag", tags, max_value=MAX_TAG_VALUE)
        check_description(description)
        check_lineage(lineage)
        check_signature(signature)
        raise InvalidMetadata("metadata holds values JSON cannot carry (NaN, infinity, non-string keys…)")
    return body


def _portable(value: Any) -> bool:
    """Whether JSON carries ``value`` unchanged (tuples become lists, which the registry treats alike)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _portable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_portable(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int)


def _build(build: Callable[[Any], T], data: Any) -> T:
    """A result rebuilt from its wire shape; a shape we do not know means we are not talking to modelreg."""
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise StorageUnavailable(f"the registry answered with an unexpected document: {error!r}") from None


def _record(kind: type[R], data: Any) -> R:
    result: R = _build(kind.from_dict, data)
    return result


def _page(kind: type[R], data: Any) -> Page[R]:
    token = _build(_optional_str, _field(data, "next_page_token"))
    return Page(items=_items(kind, data), next_page_token=token)


def _items(kind: type[R], data: Any) -> list[R]:
    return [_record(kind, item) for item in _build(list, _field(data, "items"))]


def _optional_str(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _field(data: Any, key: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise StorageUnavailable(f"the registry answered with an unexpected document: no {key!r} field")
    return data[key]


def _flags(values: list[Any]) -> list[bool]:
    if not isinstance(values, list) or not all(isinstance(value, bool) for value in values):
        raise TypeError(f"expected a list of booleans, got {values!r:.200}")
    return values


def _chunk_lists(files: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    return {digest: [(d, int(size)) for d, size in chunks] for digest, chunks in files.items()}
