"""Reading an MLflow request message as MLflow's server does, with our errors for anything malformed.

MLflow sends a GET's request message as query parameters (a repeated field repeats its key) and every other
method's as a JSON body with the protobuf's snake_case field names. Unknown fields are ignored, as
protobuf's JSON parser does with ``ignore_unknown_fields``. Where MLflow's server would silently coerce bad
input (a metric value "x", an unknown status), we refuse it with ``InvalidInput``
(→ ``INVALID_PARAMETER_VALUE``): storing a guess is worse than an error the client can act on.

    message = await mlflow_message(request)          # FastAPI dependency: ``Message``
    message.required_string("run_id")                # "Missing value for required parameter 'run_id'."
    message.integer("start_time")                    # 1700000000000, or "1700000000000" (proto JSON int64)
    message.key_values("tags")                       # [{"key": k, "value": v}, …] → {k: v}
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import Depends, Request

from modelreg.errors import InvalidInput

__all__ = ["Message", "MlflowMessage", "mlflow_message"]

_INT64 = (-(2**63), 2**63 - 1)


class Message:
    """The fields of one request message, with typed accessors that refuse what MLflow's protos refuse.

    From a query string, a parameter given once is a string and one given several times a list, so
    ``strings`` reads repeated fields either way and a scalar accessor refuses a repeated parameter."""

    def __init__(self, fields: dict[str, Any], *, prefix: str = "") -> None:
        self._fields = fields
        self._prefix = prefix  # where a nested message sits, for error messages: "metrics[2]."

    def has(self, name: str) -> bool:
        return self._fields.get(name) is not None

    def raw(self, name: str) -> Any:
        """The field as sent (an enum, which may come by name or by number)."""
        return self._fields.get(name)

    def string(self, name: str) -> str | None:
        """A string field; None when absent (an empty string stays "")."""
        value = self._fields.get(name)
        if value is None or isinstance(value, str):
            return value
        raise self.invalid(name, value, "a string")

    def required_string(self, name: str) -> str:
        """A string field that must be present and non-empty (MLflow's ``_assert_required``)."""
        value = self.string(name)
        if not value:
            raise self.missing(name)
        return value

    def integer(self, name: str) -> int | None:
        value = self._fields.get(name)
        if value is None or value == "":
            return None
        number = _as_int(value)
        if number is None:
            raise self.invalid(name, value, "an integer")
        return number

    def required_integer(self, name: str) -> int:
        value = self.integer(name)
        if value is None:
            raise self.missing(name)
        return value

    def number(self, name: str) -> float | None:
        """A double: a JSON number, or one of proto JSON's strings "NaN", "Infinity", "-Infinity"."""
        value = self._fields.get(name)
        if value is None:
            return None
        number = _as_float(value)
        if number is None:
            raise self.invalid(name, value, "a number")
        return number

    def required_number(self, name: str) -> float:
        value = self.number(name)
        if value is None:
            raise self.missing(name)
        return value

    def boolean(self, name: str) -> bool | None:
        value = self._fields.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.invalid(name, value, "true or false")

    def strings(self, name: str, *, required: bool = False) -> list[str]:
        value = self._fields.get(name)
        values = [value] if isinstance(value, str) else value
        if values is None or values == []:
            if required:
                raise self.missing(name)
            return []
        if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
            raise self.invalid(name, value, "a list of strings")
        return values

    def messages(self, name: str, *, required: bool = False) -> list[Message]:
        """A repeated message field, each element a ``Message`` (errors name it as ``name[i].field``)."""
        value = self._fields.get(name)
        if value is None or value == []:
            if required:
                raise self.missing(name)
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.invalid(name, value, "a list of objects")
        return [Message(item, prefix=f"{self._prefix}{name}[{index}].") for index, item in enumerate(value)]

    def message(self, name: str) -> Message:
        """A nested message field (absent: an empty one)."""
        value = self._fields.get(name)
        if value is None:
            return Message({}, prefix=f"{self._prefix}{name}.")
        if not isinstance(value, dict):
            raise self.invalid(name, value, "an object")
        return Message(value, prefix=f"{self._prefix}{name}.")

    def key_values(self, name: str, *, key: str = "key") -> dict[str, str]:
        """``[{"key": k, "value": v}, …]`` → ``{k: v}`` (a later duplicate key wins, as MLflow's stores do).

        A missing value is "", as protobuf reads an absent string field; a missing key is refused."""
        pairs: dict[str, str] = {}
        for item in self.messages(name):
            pairs[item.required_string(key)] = item.string("value") or ""
        return pairs

    def missing(self, name: str) -> InvalidInput:
        return InvalidInput(
            f"Missing value for required parameter '{self._prefix}{name}'. See the API docs for more "
            "information about request parameters.",
            details={"parameter": f"{self._prefix}{name}"},
        )

    def invalid(self, name: str, value: Any, expected: str) -> InvalidInput:
        shown = json.dumps(value, default=str)[:200]
        return InvalidInput(
            f"Invalid value {shown} for parameter '{self._prefix}{name}' supplied: expected {expected}.",
            details={"parameter": f"{self._prefix}{name}"},
        )


async def mlflow_message(request: Request) -> Message:
    """FastAPI dependency: the request message (query parameters for GET, else the JSON body).

    The body was already bounded by ``BodyLimit``. An empty body is an empty message; a JSON string holding
    JSON (what some older MLflow clients send) is decoded once more, as MLflow's server does."""
    if request.method == "GET":
        query: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        return Message({key: values[0] if len(values) == 1 else values for key, values in query.items()})
    raw = await request.body()
    if not raw.strip():
        return Message({})
    try:
        body = json.loads(raw)
        if isinstance(body, str):
            body = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    return Message(body)


MlflowMessage = Annotated[Message, Depends(mlflow_message)]


def _as_int(value: Any) -> int | None:
    """An int64 as proto JSON gives it: a JSON integer, an integral float, or a decimal string."""
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    digits = value.removeprefix("-") if isinstance(value, str) else ""
    decimal = digits.isascii() and digits.isdigit()
    if isinstance(value, bool) or not (integral or decimal):
        return None
    number = int(value)
    return number if _INT64[0] <= number <= _INT64[1] else None


def _as_float(value: Any) -> float | None:
    """A double as proto JSON gives it: a JSON number, or a string ("NaN", "Infinity", "0.5")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    if isinstance(value, str) and value in special:
        return special[value]
    try:
        return float(value)
    except (ValueError, OverflowError):  # "x"; an integer beyond a double's range
        return None
