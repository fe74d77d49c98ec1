"""Interoperability with other registries: importing an MLflow registry (``modelreg import-mlflow``).

Built on the public SDK (``modelreg.connect``) on one side and the other registry's own client on the
other, so an import runs the same rules, permissions and audit as any push.
"""

from __future__ import annotations

from modelreg.interop.mlflow_import import OnOutcome, import_mlflow
from modelreg.interop.report import ImportReport, ModelReconciliation, Side, VersionOutcome

__all__ = ["ImportReport", "ModelReconciliation", "OnOutcome", "Side", "VersionOutcome", "import_mlflow"]
