"""How the API answers JSON: orjson straight to bytes.

The response models (models.py) document each shape in /openapi.json; answers are not
re-validated through pydantic on the way out (a 2,000-tool-call replay would cost more to validate
than to build). Tests validate real answers against the models instead.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

JSON = "application/json"


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


def raw_json_response(body: bytes) -> Response:
    """An answer already serialised (the answer cache keeps bytes)."""
    return Response(body, media_type=JSON)
