"""Turning an HTTP response into data or into a precise, secret-free error."""

from __future__ import annotations

import re
import typing as t
from urllib.parse import parse_qsl, urlsplit

import orjson
import requests

from taps_shared import redact
from taps_shared.errors import (
    ForbiddenError,
    HTTPStatusError,
    RetryableStatusError,
    UnauthorizedError,
)

_ATTR = "_taps_json_body"
_MESSAGE_KEYS = ("error_description", "message", "errorMessage", "detail", "error", "title")
_CODE_KEYS = ("name", "code", "errorCode", "error", "type")
_MAX_API_MESSAGE = 200
RETRY_STATUSES = frozenset({408, 425, 429})
#: Header and query parameter names whose values are credentials.
_CREDENTIAL_NAME = re.compile(r"(?i)auth|token|key|secret|sign|password|session|cookie")
_SCHEMES = ("bearer ", "basic ", "token ")


def json_body(response: requests.Response) -> t.Any:
    """The decoded JSON body, decoded once (orjson) and cached on the response.

    Raises orjson.JSONDecodeError (a ValueError) when the body is not JSON.
    """
    try:
        return getattr(response, _ATTR)
    except AttributeError:
        body = orjson.loads(response.content)
        setattr(response, _ATTR, body)
        return body


def api_error_message(response: requests.Response) -> str:
    """The API's own error code and message, scrubbed and short; never the raw body."""
    try:
        body = json_body(response)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("error"), dict):  # {"error": {"code": ..., "message": ...}}
        body = body["error"]
    message = next((_text(body[k]) for k in _MESSAGE_KEYS if _text(body.get(k))), "")
    code = next(
        (str(body[k]) for k in _CODE_KEYS if isinstance(body.get(k), str) and body[k] != message),
        "",
    )
    text = ": ".join(part for part in (code, message) if part)
    text = redact.scrub(_without_sent_credentials(" ".join(text.split()), response))
    return text[:_MAX_API_MESSAGE] + ("..." if len(text) > _MAX_API_MESSAGE else "")


def _without_sent_credentials(text: str, response: requests.Response) -> str:
    """`text` with every credential the request carried masked: a server may echo them,
    and per-request values (an HMAC signature, say) are never registered as secrets."""
    request = response.request
    if request is None:
        return text
    values = [v for k, v in request.headers.items() if _CREDENTIAL_NAME.search(k)]
    values += [
        v for k, v in parse_qsl(urlsplit(request.url or "").query) if _CREDENTIAL_NAME.search(k)
    ]
    for value in map(str, values):
        parts = [value]  # the whole value, then the credential after its scheme
        if value.lower().startswith(_SCHEMES):
            parts.append(value.split(" ", 1)[1].strip())
        for part in parts:
            if len(part) >= redact.MIN_SECRET_LENGTH:
                text = text.replace(part, redact.MASK)
    return text


def _text(value: t.Any) -> str:
    """A message field as text: a string, or a list of strings (validation errors)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    return ""


def describe_call(response: requests.Response, label: str) -> str:
    """`<label>: GET /path` (the query string is left out: it may carry signatures)."""
    method = response.request.method if response.request is not None else "GET"
    return f"{label}: {method} {urlsplit(response.url).path}"


def check_response(response: requests.Response, label: str) -> None:
    """Raise the right error for a failed response; decode a successful one.

    429, 408, 425 and 5xx are retryable, and so is a 2xx whose body is not JSON (a proxy's
    HTML page, a truncated body). 401, 403 and other 4xx are fatal with the API's message.
    """
    status = response.status_code
    where = describe_call(response, label)
    if 200 <= status < 300:
        try:
            json_body(response)
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            msg = f"{where} returned {status} with a body that is not valid JSON ({kind})"
            raise RetryableStatusError(msg, response) from None
        return
    api_message = api_error_message(response)
    text = f"{where} returned {status} {response.reason or ''}".rstrip()
    if api_message:
        text += f" ({api_message})"
    if status in RETRY_STATUSES or status >= 500:
        raise RetryableStatusError(text, response)
    error = {401: UnauthorizedError, 403: ForbiddenError}.get(status, HTTPStatusError)
    raise error(text, status, api_message)
