"""One error shape for the API ({"error": {"code", "message"}}) and friendly pages for people."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from services.common.domain.errors import RefusedRequest
from services.common.outages import is_outage

logger = logging.getLogger(__name__)

# Stable codes of refusals (enrolment, employees, accounts and tokens) -> HTTP status: the one
# place where the domain's refusals become HTTP answers. Codes not named here are 400.
ERROR_STATUS = {
    "name_required": 400,
    "name_too_long": 400,
    "name_invalid": 400,
    "photo_required": 400,
    "invalid_name": 400,
    "invalid_role": 400,
    "weak_password": 400,
    "duplicate_name": 409,
    "duplicate_account": 409,
    "last_admin": 409,
    "face_already_enrolled": 409,
    "image_too_large": 413,
    "not_an_image": 415,
    "no_face": 422,
    "several_faces": 422,
    "face_too_small": 422,
    "face_blurred": 422,
    "face_turned": 422,
    "not_found": 404,
}

# What a client told "unavailable" should wait before trying again.
RETRY_AFTER_S = 5


class ApiError(Exception):
    """An error to report to the client with a status, a stable code and a readable message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after_s: int | None = None,
        **details: str,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        # Sent as Retry-After (429, 503): when the client may usefully try again.
        self.retry_after_s = retry_after_s
        # Machine-readable specifics (the bad field, the conflicting employee) for API clients.
        self.details = details

    @classmethod
    def from_refusal(cls, exc: RefusedRequest) -> ApiError:
        error = cls(ERROR_STATUS.get(exc.code, 400), exc.code, str(exc))
        conflicting = getattr(exc, "conflicting_employee_id", None)
        if conflicting:
            error.details["employee_id"] = str(conflicting)
        return error


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/live/")


def error_response(status: int, code: str, message: str, details: dict | None = None):
    if wants_json():
        return jsonify({"error": {"code": code, "message": message, **(details or {})}}), status
    return render_template("error.html", status=status, code=code, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        response = make_response(error_response(exc.status, exc.code, exc.message, exc.details))
        if exc.retry_after_s is not None:
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.errorhandler(RefusedRequest)
    def _refused(exc: RefusedRequest):
        error = ApiError.from_refusal(exc)
        return error_response(error.status, error.code, error.message, error.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        code = {
            413: "payload_too_large",
            404: "not_found",
            405: "method_not_allowed",
        }.get(status, (exc.name or "error").lower().replace(" ", "_"))
        message = exc.description or exc.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH") or 0
            message = f"the upload is larger than the limit of {limit / 1_048_576:.0f} MB"
        return error_response(status, code, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if is_outage(exc):
            # MongoDB or Redis is away: say so (and when to come back) instead of "internal error".
            logger.warning(
                "%s %s: a dependency is unavailable: %s: %s",
                request.method,
                request.path,
                type(exc).__name__,
                exc,
            )
            response = make_response(
                error_response(
                    503,
                    "service_unavailable",
                    "the database or cache cannot be reached just now; try again in a moment",
                )
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return response
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an internal error occurred")
