"""The OpenAPI document, generated from the URL map, from the pydantic models each view parses
its inputs with (services.web.inputs) and from those it answers with (services.web.responses),
so it cannot drift from the routes, the checks or the answers."""

from __future__ import annotations

import inspect
import re
from typing import Any

from flask import current_app
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.web.inputs import MULTIPART, InputSpec, input_spec
from services.web.responses import Error, response_model

API_PREFIX = "/api/v1"
_CONVERTER = re.compile(r"<(?:[a-z_]+:)?([a-zA-Z_][a-zA-Z0-9_]*)>")

# Endpoints that wait for a recognizer's answer (enrolment and its preview).
_ASKS_THE_RECOGNIZER = frozenset(
    {
        "api.create_employee",
        "api.add_employee_photos",
        "api.preview_employee_face",
        "api.assign_unknown_face",
        "api.assign_unknown_face_group",
    }
)

# Answers other than 200 OK on success.
_SUCCESS_STATUS = {
    "api.create_employee": "201",
    "api.create_token": "201",
    "api.upload_frame": "202",
}

_WRITE_ERRORS = {
    "409": "Duplicate name, or the face is already enrolled as another employee",
    "413": "Upload too large",
    "415": "Not an image / unsupported media type",
    "422": "No face, several faces, or a face too small, blurred or turned to be judged",
    "429": "Too many requests at once; try again after Retry-After seconds",
}


def openapi_path(rule: str) -> str:
    return _CONVERTER.sub(r"{\1}", rule)


def api_rules() -> list:
    return sorted(
        (r for r in current_app.url_map.iter_rules() if r.rule.startswith(API_PREFIX)),
        key=lambda r: r.rule,
    )


def build_document() -> dict[str, Any]:
    rules = api_rules()
    views = {rule.endpoint: current_app.view_functions[rule.endpoint] for rule in rules}
    specs = {endpoint: input_spec(view) for endpoint, view in views.items()}
    answers = {endpoint: response_model(view) for endpoint, view in views.items()}
    schemas = _model_schemas(
        [spec for spec in specs.values() if spec is not None],
        [Error, *(model for model in answers.values() if model is not None)],
    )
    paths: dict[str, dict[str, Any]] = {}
    for rule in rules:
        view = views[rule.endpoint]
        spec = specs[rule.endpoint]
        doc = inspect.getdoc(view) or rule.endpoint
        details = _success(answers[rule.endpoint])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {
                "operationId": rule.endpoint.replace(".", "_")
                + ("" if method == "GET" else f"_{method.lower()}"),
                "summary": doc.splitlines()[0],
                "description": doc,
                "parameters": _parameters(rule, spec, schemas),
                "responses": _responses(rule.endpoint, method, details),
            }
            body = _request_body(spec, schemas)
            if body is not None:
                operation["requestBody"] = body
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
                'frames. Errors are JSON {"error": {"code": ..., "message": ...}}; an invalid '
                'input is 400 "invalid_input" with the "field" named.'
            ),
        },
        "servers": [{"url": API_PREFIX}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": schemas,
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }


def _model_schemas(
    specs: list[InputSpec], answers: list[type[BaseModel]]
) -> dict[str, dict[str, Any]]:
    """JSON Schemas of every input model (as validated) and answer model (as serialised), by
    model name, with references between them."""
    inputs: set[type[BaseModel]] = set()
    for spec in specs:
        inputs.update(m for m in (spec.path, spec.query, spec.body) if m is not None)
    by_name = sorted(inputs, key=lambda m: m.__name__)
    _, definitions = models_json_schema(
        [(model, "validation") for model in by_name]
        + [(model, "serialization") for model in sorted(set(answers), key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    return dict(definitions.get("$defs", {}))


def _success(model: type[BaseModel] | None) -> dict[str, Any]:
    if model is None:
        return {}
    return {
        "success": {
            # The model's own docstring (getdoc would fall back to pydantic's BaseModel's).
            "description": (model.__dict__.get("__doc__") or model.__name__)
            .strip()
            .splitlines()[0],
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def _parameters(rule, spec: InputSpec | None, schemas: dict[str, dict]) -> list[dict]:
    parameters = []
    path_schema = schemas.get(spec.path.__name__, {}) if spec and spec.path else {}
    for name in sorted(rule.arguments):
        schema = path_schema.get("properties", {}).get(name, {"type": "string"})
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    if spec is not None and spec.query is not None:
        query_schema = schemas[spec.query.__name__]
        required = set(query_schema.get("required", ()))
        for name, schema in query_schema.get("properties", {}).items():
            parameter = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": schema,
            }
            if "description" in schema:
                parameter["description"] = schema["description"]
            parameters.append(parameter)
    return parameters


def _request_body(spec: InputSpec | None, schemas: dict[str, dict]) -> dict | None:
    if spec is None:
        return None
    if spec.raw_body is not None:
        return {"required": True, "content": spec.raw_body}
    if spec.body is None:
        return None
    reference = {"$ref": f"#/components/schemas/{spec.body.__name__}"}
    content: dict[str, dict] = {}
    for media in spec.media:
        if media == MULTIPART and spec.files:
            model_schema = schemas[spec.body.__name__]
            files = {
                name: {"type": "string", "format": "binary", "description": text}
                for name, text in spec.files
            }
            content[media] = {
                "schema": {
                    "type": "object",
                    "properties": {**model_schema.get("properties", {}), **files},
                }
            }
        else:
            content[media] = {"schema": reference}
    return {"required": spec.body_required, "content": content}


def _responses(endpoint: str, method: str, details: dict) -> dict[str, dict]:
    responses: dict[str, dict] = {
        _SUCCESS_STATUS.get(endpoint, "200"): details.get("success", {"description": "Success"}),
        "400": {
            "description": "Invalid input (the field is named), or a missing CSRF token on a "
            "cookie session",
            "content": _json_error(),
        },
        "401": {"description": "Not logged in / no valid token", "content": _json_error()},
        "403": {"description": "The caller's role does not allow this", "content": _json_error()},
        "404": {"description": "Not found", "content": _json_error()},
        "503": {
            "description": "MongoDB, Redis or the message broker cannot be reached just "
            "now; try again shortly",
            "content": _json_error(),
        },
    }
    if endpoint in _ASKS_THE_RECOGNIZER:
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
    return responses


def _json_error() -> dict:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
