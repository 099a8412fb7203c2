"""Every HTTP input (path, query string, form, JSON body) is parsed by a pydantic model here,
before a view sees it; the OpenAPI document is generated from the same declarations.

A view declares its inputs with :func:`accepts`; it is then called with the validated path
values and with ``query=`` and ``body=`` model instances. A value of the wrong type or shape is
answered ``400 invalid_input`` naming the field, and nothing the caller sent ever reaches a
database query unparsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict

from services.web.errors import ApiError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class InputSpec:
    """What a view reads from a request; kept on the view for the OpenAPI document."""

    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    # Media types the body may come in; the first is the one documented as preferred.
    media: tuple[str, ...] = (JSON,)
    # Multipart file fields (name -> description): files are never part of the body model.
    files: tuple[tuple[str, str], ...] = ()
    body_required: bool = True
    # OpenAPI "content" of a body no model describes (an image posted as is), read by the view.
    raw_body: dict[str, Any] | None = None


def accepts(
    *,
    path: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    media: tuple[str, ...] = (JSON,),
    files: dict[str, str] | None = None,
    body_required: bool = True,
    raw_body: dict[str, Any] | None = None,
) -> Callable:
    """Parse the request's inputs with these models before calling the view."""
    spec = InputSpec(
        path, query, body, media, tuple((files or {}).items()), body_required, raw_body
    )

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(**path_values: Any):
            arguments: dict[str, Any] = {}
            if spec.path is not None:
                values = parse(spec.path, path_values, "path")
                arguments.update({name: getattr(values, name) for name in spec.path.model_fields})
            else:
                arguments.update(path_values)
            if spec.query is not None:
                arguments["query"] = parse(spec.query, _flat(request.args), "query")
            if spec.body is not None:
                arguments["body"] = parse_body(spec)
            return view(**arguments)

        wrapper.input_spec = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate


def input_spec(view: Callable) -> InputSpec | None:
    return getattr(view, "input_spec", None)


def parse(model: type[ModelT], data: Any, where: str) -> ModelT:
    """Validate ``data`` with ``model``; a failure is a 400 that names the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc, where) from None


def parse_body(spec: InputSpec) -> BaseModel:
    assert spec.body is not None
    mimetype = request.mimetype
    if JSON in spec.media and (mimetype == JSON or mimetype.endswith("+json")):
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # "[[[[...": nested deeper than the parser's stack
            data = None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "the body must be a JSON object")
        return parse(spec.body, data, "body")
    if (FORM in spec.media and mimetype == FORM) or (
        MULTIPART in spec.media and mimetype == MULTIPART
    ):
        return parse(spec.body, _flat(request.form), "body")
    if not mimetype and not spec.body_required:
        return parse(spec.body, {}, "body")
    raise ApiError(415, "unsupported_media_type", f"send the body as {' or '.join(spec.media)}")


def parse_form(model: type[ModelT]) -> ModelT:
    """Parse a page's form fields (server-rendered pages post url-encoded or multipart forms)."""
    return parse(model, _flat(request.form), "form")


def _flat(values: MultiDict) -> dict[str, str]:
    # A repeated parameter is ambiguous; the first value wins, as Flask's .get() does.
    return {key: values.getlist(key)[0] for key in values}


def invalid_input(exc: ValidationError, where: str) -> ApiError:
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or where
    message = first["msg"]
    # Pydantic's own words for a few cases read badly to a person filling in a form.
    if first["type"] == "extra_forbidden":
        message = "is not an accepted field"
    return ApiError(400, "invalid_input", f"{where} field {field!r}: {message}", field=field)
