"""The OpenAPI description and Swagger UI, for technicians only, with vendored assets.

Other roles get 403: the API's map is a technician's tool, not an operator's.

FastAPI's own /docs loads Swagger UI from a CDN; the centre may have no internet, so the
app is built with `docs_url=None` and this page points at `web_ui/static/vendor/`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse

from web_ui.core.deps import TechnicianUser

pages = APIRouter(include_in_schema=False)
api = APIRouter(include_in_schema=False)

SWAGGER = "/static/vendor/swagger-ui"


@pages.get("/docs")
def swagger_ui(user: TechnicianUser) -> Response:
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


# The error answers the app's handlers give (`web_ui.app`), documented on every operation
# they can come from, so a client (and the schema tests) can rely on the document listing
# every status an operation answers: 404 where a path names an item that may not exist;
# 400 and 409 where a change is refused for a reason no schema can express (a user name
# already taken, a call no longer on its line).
ERROR_REF = {"$ref": "#/components/schemas/ErrorPublic"}
ERROR_ANSWERS = {
    "400": "Refused: the request breaks a rule its schema cannot express.",
    "404": "No such item (or no longer there).",
    "409": "Refused in the current state (the message says why).",
}
CHANGING_METHODS = frozenset({"post", "put", "patch", "delete"})


def _error_statuses(method: str, operation: dict[str, Any]) -> list[str]:
    statuses = []
    if any(parameter.get("in") == "path" for parameter in operation.get("parameters", [])):
        statuses.append("404")
    if method in CHANGING_METHODS:
        statuses += ["400", "409"]
    return statuses


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with the error answers of `ERROR_ANSWERS` added where they apply."""
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(method, operation):
                responses.setdefault(
                    status,
                    {
                        "description": ERROR_ANSWERS[status],
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    return document


@api.get("/openapi.json")
def openapi_document(request: Request, user: TechnicianUser) -> JSONResponse:
    """The API's OpenAPI description, with every error answer an operation can give."""
    document: dict[str, Any] = request.app.openapi()  # built once, then kept by the app
    return JSONResponse(document_errors(document))  # adds only what is missing
