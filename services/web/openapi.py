"""The OpenAPI document, generated from the URL map so it cannot drift from the routes."""

from __future__ import annotations

import inspect
import re

from flask import current_app

API_PREFIX = "/api/v1"
_CONVERTER = re.compile(r"<(?:[a-z_]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>")

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

_BOX_SCHEMA = {
    "type": "object",
    "required": ["x", "y", "width", "height"],
    "properties": {name: {"type": "integer"} for name in ("x", "y", "width", "height")},
}

_FACE_PREVIEW_SCHEMA = {
    "type": "object",
    "required": ["face_data_url", "face_box"],
    "properties": {
        "face_data_url": {
            "type": "string",
            "description": "The aligned face crop as a data:image/jpeg;base64 URL",
        },
        "face_box": {"$ref": "#/components/schemas/BoundingBox"},
    },
}

_PHOTO_FORM = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {
                "photo": {"type": "string", "format": "binary"},
                "camera_id": {
                    "type": "string",
                    "description": "Use this camera's latest live frame when no photo is sent",
                },
            },
        }
    }
}

# What the URL map cannot tell: request bodies and success answers, by endpoint.
_OPERATION_DETAILS: dict[str, dict] = {
    "api.preview_employee_face": {
        "requestBody": {"required": True, "content": _PHOTO_FORM},
        "success": {
            "description": "The face a registration would take from the photo",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/FacePreview"}}
            },
        },
    },
}

# Endpoints that wait for a recognizer's answer (enrolment and its preview).
_ASKS_THE_RECOGNIZER = frozenset(
    {
        "api.create_employee",
        "api.add_employee_photos",
        "api.preview_employee_face",
        "api.assign_unknown_face",
    }
)

_WRITE_ERRORS = {
    "400": "Invalid input (or missing CSRF token on a cookie session)",
    "403": "The caller's role does not allow this",
    "404": "Not found",
    "409": "Duplicate name",
    "413": "Upload too large",
    "415": "Not an image / unsupported media type",
    "422": "No face or several faces in the photo",
}


def openapi_path(rule: str) -> str:
    return _CONVERTER.sub(r"{\1}", rule)


def api_rules() -> list:
    return sorted(
        (r for r in current_app.url_map.iter_rules() if r.rule.startswith(API_PREFIX)),
        key=lambda r: r.rule,
    )


def build_document() -> dict:
    paths: dict[str, dict] = {}
    for rule in api_rules():
        view = current_app.view_functions[rule.endpoint]
        doc = inspect.getdoc(view) or rule.endpoint
        summary = doc.splitlines()[0]
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in rule.arguments
        ]
        details = _OPERATION_DETAILS.get(rule.endpoint, {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            responses: dict[str, dict] = {
                "200": details.get("success", {"description": "Success"}),
                "401": {"description": "Not logged in / no valid token", "content": _json_error()},
                "503": {
                    "description": "MongoDB, Redis or the message broker cannot be reached just "
                    "now; try again shortly",
                    "content": _json_error(),
                },
            }
            if rule.endpoint in _ASKS_THE_RECOGNIZER:
                responses["504"] = {
                    "description": "The recognizer did not answer in time",
                    "content": _json_error(),
                }
            if method != "GET":
                responses.update(
                    {
                        code: {"description": text, "content": _json_error()}
                        for code, text in _WRITE_ERRORS.items()
                    }
                )
            operation = {
                "operationId": rule.endpoint.replace(".", "_")
                + ("" if method == "GET" else f"_{method.lower()}"),
                "summary": summary,
                "description": doc,
                "parameters": parameters,
                "responses": responses,
            }
            if "requestBody" in details:
                operation["requestBody"] = details["requestBody"]
            paths.setdefault(openapi_path(rule.rule[len(API_PREFIX) :] or "/"), {})[
                method.lower()
            ] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Attendance API",
            "version": "1.0.0",
            "description": (
                "Face-recognition attendance: employees, attendance, unknown faces, kiosk "
                'frames. Errors are JSON {"error": {"code": ..., "message": ...}}.'
            ),
        },
        "servers": [{"url": API_PREFIX}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": {
                "Error": _ERROR_SCHEMA,
                "BoundingBox": _BOX_SCHEMA,
                "FacePreview": _FACE_PREVIEW_SCHEMA,
            },
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }


def _json_error() -> dict:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
