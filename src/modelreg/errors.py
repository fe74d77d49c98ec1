"""One exception tree, end to end: class ⇄ stable code ⇄ HTTP status ⇄ CLI exit status.

    ModelregError
    ├── InvalidInput (400, exit 2)
    │   ├── InvalidName            "invalid model name 'a b': use letters, digits, '.', '_', '-' …"
    │   ├── InvalidAlias           "invalid alias 'latest': reserved word"
    │   ├── InvalidReference       "invalid reference 'x//3'"
    │   ├── InvalidPath            "invalid file path '../etc/passwd': '..' is not allowed"
    │   ├── InvalidMetadata        "metric 'auc' is not a finite number: nan"
    │   ├── InvalidFilter          "invalid filter at position 12: expected a value after '>'"
    │   ├── InvalidDigest          "invalid digest 'md5:…': expected sha256:<64 hex>"
    │   ├── InvalidPageToken       "invalid page token"
    │   ├── EmptyModel             "nothing to push: 'out/model' holds no files"
    │   ├── InvalidPolicy          "invalid policy: rule[2].approvals (line 9): expected an integer 0 to 100"
    │   ├── MethodNotAllowed (405) "method DELETE is not allowed on /api/v1/models"
    │   └── RangeNotSatisfiable (416) "range bytes=900-999 is outside the file (500 bytes)"
    ├── NotFound (404, exit 3)
    │   ├── ModelNotFound          "model 'churn' not found"
    │   ├── VersionNotFound        "version 7 of model 'churn' not found"
    │   ├── AliasNotFound          "alias 'champion' of model 'churn' not found"
    │   ├── TagNotFound            "tag 'team' not found on model 'churn'"
    │   ├── TokenNotFound          "no active token named 'ci'"
    │   ├── DeploymentNotFound     "model 'churn' is not recorded as serving prod-eu"
    │   ├── HoldNotFound           "churn/3 is not under legal hold"
    │   ├── RetentionPolicyNotFound "no such retention policy: model 'churn' has none"
    │   ├── PromotionNotFound      "promotion request 12 not found"
    │   ├── PolicyNotFound         "no promotion policy is stored"
    │   ├── PrincipalNotFound      "user 'alice' not found"
    │   ├── RoleBindingNotFound    "user:alice holds no contributor binding on 'risk-*'"
    │   ├── ChunkNotFound          "chunk sha256:ab… not found"
    │   ├── PathNotFound           "no such file or directory: 'out/model'"
    │   ├── ExperimentNotFound     "experiment '7' not found"
    │   ├── RunNotFound            "run '5f0c…' not found"
    │   ├── LoggedModelNotFound    "logged model 'm-5f0c…' not found"
    │   └── ArtifactNotFound       "artifact '1/5f0c…/artifacts/model/MLmodel' not found"
    ├── Conflict (409, exit 4)
    │   ├── ModelAlreadyExists     "model 'churn' already exists"
    │   ├── ExperimentAlreadyExists "experiment 'fraud' already exists"
    │   ├── DestinationExists      "destination 'deploy/model' exists and is not empty"
    │   ├── VersionDeleted         "version 3 of model 'churn' is deleted"
    │   ├── VersionPurged (410)    "version 3 of model 'churn' is purged: its files are gone"
    │   ├── VersionProtected       "churn/3 cannot be purged: alias @champion, legal hold"
    │   ├── VersionExists          "model 'churn' has had versions up to 7: an imported version needs …"
    │   ├── IdempotencyKeyReused   "this Idempotency-Key was already used for a different request"
    │   ├── SchemaMismatch         "the target database is at schema revision 0009; this modelreg knows 0005"
    │   ├── RegistryMismatch       "the target holds another registry (its first audit event differs)"
    │   ├── PrincipalAlreadyExists "group 'risk-team' already exists"
    │   ├── PolicyCheckFailed      "churn/3 fails 2 policy check(s) for production: …" (details.failed)
    │   ├── PromotionClosed        "promotion request 12 is already applied"
    │   ├── PromotionExpired       "promotion request 12 expired at 2026-03-04T12:00:00+00:00"
    │   ├── AlreadyApproved        "bob has already approved promotion request 12"
    │   └── PolicyFromFile         "the promotion policy comes from MODELREG_POLICY_FILE; edit that file"
    ├── IntegrityError (422, exit 5)
    │   ├── DigestMismatch         "chunk sha256:ab… does not match its content (got sha256:cd…)"
    │   ├── CorruptFile            "file 'weights.bin' of churn/3 failed verification"
    │   ├── MigrationIncomplete    "the target differs from the source: 2 problem(s); see details.problems"
    │   ├── ImportIncomplete       "the target differs from the MLflow source: 1 problem(s)"
    │   └── AuditChainBroken       "the audit chain is broken at event 41: event 41 was altered: …"
    ├── PayloadTooLarge (413, exit 2)
    ├── AuthenticationRequired (401, exit 6)
    ├── PermissionDenied (403, exit 6)
    │   └── SeparationOfDuties     "alice requested promotion request 12: someone else must approve it"
    ├── StorageUnavailable (503, exit 7)   "chunk store unavailable: …" (retryable)
    └── ChunkBeingCollected (503, exit 7)  "2 chunk(s) of this version are being garbage collected: …"
                                           (retryable after uploading them again)

Every class has a class-level ``code``; ``ModelregError.from_code`` rebuilds the right class from a wire
error so the HTTP SDK raises exactly what the embedded one does.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AliasNotFound",
    "AlreadyApproved",
    "ArtifactNotFound",
    "AuditChainBroken",
    "AuthenticationRequired",
    "ChunkBeingCollected",
    "ChunkNotFound",
    "Conflict",
    "CorruptFile",
    "DeploymentNotFound",
    "DestinationExists",
    "DigestMismatch",
    "EmptyModel",
    "ExperimentAlreadyExists",
    "ExperimentNotFound",
    "HoldNotFound",
    "IdempotencyKeyReused",
    "ImportIncomplete",
    "IntegrityError",
    "InvalidAlias",
    "InvalidDigest",
    "InvalidFilter",
    "InvalidInput",
    "InvalidMetadata",
    "InvalidName",
    "InvalidPageToken",
    "InvalidPath",
    "InvalidPolicy",
    "InvalidReference",
    "LoggedModelNotFound",
    "MethodNotAllowed",
    "MigrationIncomplete",
    "ModelAlreadyExists",
    "ModelNotFound",
    "ModelregError",
    "NotFound",
    "PathNotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "PolicyCheckFailed",
    "PolicyFromFile",
    "PolicyNotFound",
    "PrincipalAlreadyExists",
    "PrincipalNotFound",
    "PromotionClosed",
    "PromotionExpired",
    "PromotionNotFound",
    "RangeNotSatisfiable",
    "RegistryMismatch",
    "RetentionPolicyNotFound",
    "RoleBindingNotFound",
    "RunNotFound",
    "SchemaMismatch",
    "SeparationOfDuties",
    "StorageUnavailable",
    "TagNotFound",
    "TokenNotFound",
    "VersionDeleted",
    "VersionExists",
    "VersionNotFound",
    "VersionProtected",
    "VersionPurged",
]


class ModelregError(Exception):
    """Base of every error modelreg raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500
    exit_status: ClassVar[int] = 1
    retryable: ClassVar[bool] = False
    _by_code: ClassVar[dict[str, type[ModelregError]]] = {}

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            ModelregError._by_code[cls.code] = cls

    def to_dict(self) -> dict[str, Any]:
        """The one wire shape: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    @classmethod
    def from_code(cls, code: str, message: str, details: dict[str, Any] | None = None) -> ModelregError:
        """Rebuild the class that carries ``code``; unknown codes become a plain ``ModelregError``."""
        error_class = cls._by_code.get(code, ModelregError)
        return error_class(message, details=details)

    @classmethod
    def all_codes(cls) -> dict[str, type[ModelregError]]:
        return dict(sorted(cls._by_code.items()))


class InvalidInput(ModelregError):
    code = "INVALID_INPUT"
    http_status = 400
    exit_status = 2


class InvalidName(InvalidInput):
    code = "INVALID_NAME"


class InvalidAlias(InvalidInput):
    code = "INVALID_ALIAS"


class InvalidReference(InvalidInput):
    code = "INVALID_REFERENCE"


class InvalidPath(InvalidInput):
    code = "INVALID_PATH"


class InvalidMetadata(InvalidInput):
    code = "INVALID_METADATA"


class InvalidFilter(InvalidInput):
    code = "INVALID_FILTER"


class InvalidDigest(InvalidInput):
    code = "INVALID_DIGEST"


class InvalidPageToken(InvalidInput):
    code = "INVALID_PAGE_TOKEN"


class EmptyModel(InvalidInput):
    code = "EMPTY_MODEL"


class InvalidPolicy(InvalidInput):
    """A promotion policy document that is not valid TOML, has an unknown key, a wrong type, a bad gate
    expression or a bad target. ``details`` names the ``field`` and, where known, the ``line``.
    Example: "invalid policy: rule[1].gates[0] (line 4): expected 'metrics.KEY OP NUMBER|production'"."""

    code = "INVALID_POLICY"


class PayloadTooLarge(InvalidInput):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class MethodNotAllowed(InvalidInput):
    """The HTTP method is not one the route accepts (the response's ``Allow`` header lists those)."""

    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class RangeNotSatisfiable(InvalidInput):
    """A ``Range`` header that selects no byte of the file."""

    code = "RANGE_NOT_SATISFIABLE"
    http_status = 416


class NotFound(ModelregError):
    code = "NOT_FOUND"
    http_status = 404
    exit_status = 3


class ModelNotFound(NotFound):
    code = "MODEL_NOT_FOUND"


class VersionNotFound(NotFound):
    code = "VERSION_NOT_FOUND"


class AliasNotFound(NotFound):
    code = "ALIAS_NOT_FOUND"


class TagNotFound(NotFound):
    code = "TAG_NOT_FOUND"


class TokenNotFound(NotFound):
    code = "TOKEN_NOT_FOUND"


class DeploymentNotFound(NotFound):
    code = "DEPLOYMENT_NOT_FOUND"


class HoldNotFound(NotFound):
    code = "HOLD_NOT_FOUND"


class RetentionPolicyNotFound(NotFound):
    code = "RETENTION_POLICY_NOT_FOUND"


class ChunkNotFound(NotFound):
    code = "CHUNK_NOT_FOUND"


class PathNotFound(NotFound):
    code = "PATH_NOT_FOUND"


class PromotionNotFound(NotFound):
    code = "PROMOTION_NOT_FOUND"


class PolicyNotFound(NotFound):
    code = "POLICY_NOT_FOUND"


class PrincipalNotFound(NotFound):
    """No such user or group, or no active token of that name (``user:``, ``group:``, ``token:``)."""

    code = "PRINCIPAL_NOT_FOUND"


class RoleBindingNotFound(NotFound):
    code = "ROLE_BINDING_NOT_FOUND"


class ExperimentNotFound(NotFound):
    code = "EXPERIMENT_NOT_FOUND"


class RunNotFound(NotFound):
    code = "RUN_NOT_FOUND"


class LoggedModelNotFound(NotFound):
    code = "LOGGED_MODEL_NOT_FOUND"


class ArtifactNotFound(NotFound):
    code = "ARTIFACT_NOT_FOUND"


class Conflict(ModelregError):
    code = "CONFLICT"
    http_status = 409
    exit_status = 4


class ModelAlreadyExists(Conflict):
    code = "MODEL_ALREADY_EXISTS"


class ExperimentAlreadyExists(Conflict):
    code = "EXPERIMENT_ALREADY_EXISTS"


class DestinationExists(Conflict):
    code = "DESTINATION_EXISTS"


class VersionDeleted(Conflict):
    code = "VERSION_DELETED"


class VersionPurged(Conflict):
    """The version's files were purged (retention or an explicit purge): its metadata, lineage and history
    stay readable, its content is gone for good. 410 Gone: unlike a soft delete, nothing can bring it back.
    Example: "version 3 of model 'churn' is purged: its files are gone"."""

    code = "VERSION_PURGED"
    http_status = 410


class VersionProtected(Conflict):
    """The version holds an alias, is in production or is under legal hold, so it cannot be purged (nor,
    under legal hold, deleted). ``details.reasons`` lists each protection ("alias:champion", "production",
    "hold"). Example: "churn/3 cannot be purged: alias @champion, legal hold"."""

    code = "VERSION_PROTECTED"


class VersionExists(Conflict):
    """A version was to be registered under an explicit number (an import, ``version:import``) that the model
    has used already, or one below its highest: numbers only ever go up and are never reused, not even those
    of deleted versions (``details.last_version`` is the highest the model ever had). Nothing was stored.
    Example: "model 'churn' has had versions up to 7: an imported version needs a number above 7, not 5"."""

    code = "VERSION_EXISTS"


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"


class SchemaMismatch(Conflict):
    """A database is at another schema revision than this modelreg's (a migration needs both at its own).
    Example: "the target database is at schema revision 0009; this modelreg knows up to 0005"."""

    code = "SCHEMA_MISMATCH"


class PrincipalAlreadyExists(Conflict):
    code = "PRINCIPAL_ALREADY_EXISTS"


class RegistryMismatch(Conflict):
    """A migration's target already holds a different registry; a resumed migration needs the same one.
    Example: "the target holds another registry (its first audit event differs from the source's)"."""

    code = "REGISTRY_MISMATCH"


class PolicyCheckFailed(Conflict):
    """A version fails the promotion policy's checks for its target, at request or at apply time. Nothing
    changed (not even an approval). ``details.failed`` lists EVERY failed check as ``{"check", "reason"}``.
    Example: "churn/3 fails 2 policy check(s) for production: signature, metrics.auc >= 0.85"."""

    code = "POLICY_CHECK_FAILED"


class PromotionClosed(Conflict):
    """The promotion request is already applied, rejected or cancelled: those states are final.
    Example: "promotion request 12 is already rejected"."""

    code = "PROMOTION_CLOSED"


class PromotionExpired(Conflict):
    """The promotion request passed its expiry time without enough approvals; it is now shown as expired.
    Example: "promotion request 12 expired at 2026-03-04T12:00:00+00:00"."""

    code = "PROMOTION_EXPIRED"


class AlreadyApproved(Conflict):
    """Each approver counts once. Example: "bob has already approved promotion request 12"."""

    code = "ALREADY_APPROVED"


class PolicyFromFile(Conflict):
    """The server reads its promotion policy from ``MODELREG_POLICY_FILE``; the stored one cannot be changed.
    Example: "the promotion policy comes from the file /etc/modelreg/policy.toml: edit that file"."""

    code = "POLICY_FROM_FILE"


class IntegrityError(ModelregError):
    """Stored or transferred bytes do not match their sha256. Never silent, never retried blindly."""

    code = "INTEGRITY_ERROR"
    http_status = 422
    exit_status = 5


class DigestMismatch(IntegrityError):
    code = "DIGEST_MISMATCH"


class CorruptFile(IntegrityError):
    code = "CORRUPT_FILE"


class MigrationIncomplete(IntegrityError):
    """A migration's verification found the target unlike the source (``details.problems`` lists them);
    running the migration again copies what is missing. Example: "the target differs from the source: 2
    problem(s); see details.problems"."""

    code = "MIGRATION_INCOMPLETE"


class ImportIncomplete(IntegrityError):
    """An import's reconciliation found the target unlike the source (``details.problems``)."""

    code = "IMPORT_INCOMPLETE"


class AuditChainBroken(IntegrityError):
    """An audit verification found a missing, altered or reordered event (``modelreg audit verify``)."""

    code = "AUDIT_CHAIN_BROKEN"


class AuthenticationRequired(ModelregError):
    code = "AUTHENTICATION_REQUIRED"
    http_status = 401
    exit_status = 6


class PermissionDenied(ModelregError):
    code = "PERMISSION_DENIED"
    http_status = 403
    exit_status = 6


class SeparationOfDuties(PermissionDenied):
    """Whoever requested a promotion cannot approve or reject it (four eyes), whatever their role.
    Example: "alice requested promotion request 12: someone else must approve it"."""

    code = "SEPARATION_OF_DUTIES"


class StorageUnavailable(ModelregError):
    code = "STORAGE_UNAVAILABLE"
    http_status = 503
    exit_status = 7
    retryable = True


class ChunkBeingCollected(ModelregError):
    """A commit referenced chunks that garbage collection is deleting (or has just deleted).

    Nothing was registered. Retryable, but not by resending the same request: ask which chunks are missing,
    upload them again, then commit again (``modelreg.transfer.push`` does this by itself).
    Example: "2 chunk(s) of this version are being garbage collected: upload them again, then commit".
    """

    code = "CHUNK_BEING_COLLECTED"
    http_status = 503
    exit_status = 7
    retryable = True
