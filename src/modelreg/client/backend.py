"""What the SDK needs from a registry: the registry's use cases, in-process or over HTTP.

``modelreg.registry.service.Registry`` satisfies this Protocol directly (the embedded SDK); the HTTP
client implements the same methods by calling the REST API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from modelreg.transfer.pull import PullBackend
from modelreg.transfer.push import PushBackend
from modelreg.types import AliasChange, Model, ModelVersion, Page, StageChange

__all__ = ["Backend"]


class Backend(PushBackend, PullBackend, Protocol):
    def get_model(self, name: str) -> Model: ...
    def list_models(self, *, limit: int = 100, page_token: str | None = None) -> Page[Model]: ...
    def get_version(self, ref: str) -> ModelVersion: ...
    def list_versions(
        self, name: str, *, include_deleted: bool = False, limit: int = 100, page_token: str | None = None
    ) -> Page[ModelVersion]: ...
    def search_versions(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]: ...
    def search_models(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Model]: ...
    def alias_history(self, name: str, alias: str) -> list[AliasChange]: ...
    def stage_history(self, ref: str) -> list[StageChange]: ...
    def set_alias(self, name: str, alias: str, version: int) -> AliasChange: ...
    def delete_alias(self, name: str, alias: str) -> None: ...
    def set_tag(self, target: str, key: str, value: str) -> None: ...
    def delete_tag(self, target: str, key: str) -> None: ...
    def update_description(self, target: str, description: str) -> None: ...
    def set_stage(self, ref: str, stage: str) -> ModelVersion: ...
    def delete_version(self, ref: str) -> ModelVersion: ...
