"""Operations: liveness, readiness and metrics. No token needed."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from modelreg.api.responses import ERRORS, answers
from modelreg.digest import Digest
from modelreg.errors import ModelregError, StorageUnavailable
from modelreg.registry.service import Registry

__all__ = ["router"]

router = APIRouter(tags=["operations"], responses=ERRORS)

# A digest no chunk has in practice: asking the store whether it exists is a cheap, real round trip.
_PROBE = Digest("sha256:" + "0" * 64)


@router.get("/healthz", **answers(dict[str, str], description='{"status": "ok"}'))
async def healthz() -> Response:
    """The process is alive (no database or storage call)."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz", **answers(dict[str, str], description='{"status": "ready"}'))
def readyz(request: Request) -> Response:
    """Ready to serve: a database query and a chunk-store call both succeeded; else 503."""
    registry: Registry = request.app.state.registry
    try:
        registry.check_ready()
    except ModelregError:
        raise
    except Exception as error:  # a backend bug must still read as "not ready", not as a crash
        raise StorageUnavailable(f"readiness check failed: {type(error).__name__}") from error
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=Response, responses={200: {"description": "Prometheus text format"}})
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process (see docs/api.md)."""
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
