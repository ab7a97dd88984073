"""The OpenAPI description and Swagger UI, for logged-in users, with vendored assets.

FastAPI's own /docs loads Swagger UI from a CDN; the centre may have no internet, so the
app is built with `docs_url=None` and this page points at `web_ui/static/vendor/`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse

from web_ui.deps import CurrentUser

pages = APIRouter(include_in_schema=False)
api = APIRouter(include_in_schema=False)

SWAGGER = "/static/vendor/swagger-ui"


@pages.get("/docs")
def swagger_ui(user: CurrentUser) -> Response:
    """Swagger UI, all of it served from this box."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Siaga API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        # No online validator badge: it would fetch from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


@api.get("/openapi.json")
def openapi_document(request: Request, user: CurrentUser) -> JSONResponse:
    """The API's OpenAPI description."""
    document: dict[str, Any] = request.app.openapi()
    return JSONResponse(document)
