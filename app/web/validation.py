"""422 items in FastAPI's own shape (loc, msg, type), for checks made inside an endpoint.

Shared by the JSON API and the pages that accept the same bodies (the New run form's progress
stream), so a field path reads the same wherever the error is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

# Union tags show up in validation paths; clean_loc removes them again so that `loc` is the
# scenario's own field path. Capitalised so they never collide with a field.
SCENARIO_TAG = "Scenario"
EXAMPLE_TAG = "ExampleRun"
_UNION_TAGS = {SCENARIO_TAG, EXAMPLE_TAG}


def clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """The field path without the request-union tag: [body, guest, ram_bytes]."""
    out: list[str | int] = [part if isinstance(part, int) else str(part) for part in loc]
    if len(out) >= 2 and out[0] == "body" and out[1] in _UNION_TAGS:
        del out[1]
    return out


def _clean_msg(msg: str) -> str:
    # pydantic prefixes custom validator messages; the user only needs the message.
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def validation_items(
    errors: Sequence[Any], prefix: Sequence[str | int] = ()
) -> list[dict[str, Any]]:
    """Only loc, msg and type: `input` may be huge and `ctx` may hold exception objects."""
    return [
        {
            "loc": clean_loc([*prefix, *error.get("loc", ())]),
            "msg": _clean_msg(str(error.get("msg", "invalid value"))),
            "type": str(error.get("type", "value_error")),
        }
        for error in errors
    ]


def scenario_validation_error(
    error: ValidationError, prefix: Sequence[str | int]
) -> RequestValidationError:
    """Turn a scenario checked inside an endpoint into the same 422 as a checked body."""
    return RequestValidationError(validation_items(error.errors(), prefix))
