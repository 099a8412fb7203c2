"""The Recognition page (/recognition) and GET /api/v1/recognition: what the gallery's size
implies for the recognizer's decisions (threshold in use, expected share of strangers taken
for an employee), as the recognizer last reported it, and the rule at other gallery sizes.

Reading only: viewers and admins may see it (kiosks may not); nothing here is audited.
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, jsonify, render_template
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from services.common.recognition_status import (
    RecognitionStatus,
    RuleAtSize,
    read_status,
    rule_at,
)
from services.web.context import ctx
from services.web.inputs import accepts

bp = Blueprint("recognition", __name__)

# Largest gallery one may ask about: far beyond any site, small enough for any arithmetic.
MAX_ASKED_GALLERY = 10_000_000


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


class RecognitionQuery(BaseModel):
    # Unknown query parameters (a cache-buster) are ignored, never used.
    model_config = ConfigDict(extra="ignore", frozen=True)
    # The bounds on the int itself: on the union they would also be applied to None.
    gallery_embeddings: Annotated[
        Annotated[int, Field(ge=1, le=MAX_ASKED_GALLERY)] | None,
        BeforeValidator(_blank_is_none),
        Field(description="Also show the rule for a gallery of this many enrolled photos"),
    ] = None


def _asked(status: RecognitionStatus | None, query: RecognitionQuery) -> RuleAtSize | None:
    if status is None or query.gallery_embeddings is None:
        return None
    return rule_at(status, query.gallery_embeddings)


@bp.get("/recognition")
@accepts(query=RecognitionQuery)
def page(query: RecognitionQuery):
    status = read_status(ctx().cache)
    return render_template(
        "recognition.html",
        status=status,
        asked=_asked(status, query),
        asked_size=query.gallery_embeddings,
    )


@bp.get("/api/v1/recognition")
@accepts(query=RecognitionQuery)
def api_status(query: RecognitionQuery):
    """The recognizer's decision rule for the gallery it holds, as it last reported it.

    ``reported`` is false until a recognizer has reported (it does when it starts and when the
    gallery changes). ``threshold`` is the similarity a face needs; ``rule`` says where it
    comes from: ``calibrated`` (it rises with ``gallery_embeddings`` so that about
    ``target_fpir`` of strangers are taken for an employee), ``configured`` (MATCH_THRESHOLD
    is set) or ``uncalibrated`` (no calibration for the model: a fixed threshold, and no
    expected rate). ``expected_fpir`` is the expected share of strangers accepted; ``outlook``
    the rule at 2, 5 and 10 times the gallery, and ``asked`` at ``gallery_embeddings`` when
    that is given.
    """
    status = read_status(ctx().cache)
    if status is None:
        return jsonify({"reported": False})
    body = status.model_dump(mode="json", exclude={"calibration_table"})
    asked = _asked(status, query)
    body = {"reported": True, **body}
    if asked is not None:
        body["asked"] = asked.model_dump(mode="json")
    return jsonify(body)
