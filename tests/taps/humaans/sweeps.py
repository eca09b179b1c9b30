"""Telling the key sweep's requests from the listing's, for tests that count requests."""

from __future__ import annotations

import typing as t

from human_sandbox.core import RequestLog


def is_sweep(request: RequestLog) -> bool:
    """A request of the key sweep (ids only, `$select[]=id`), not of the listing."""
    return "$select[]" in request.query


def listing_requests(requests: t.Iterable[RequestLog], path: str) -> list[RequestLog]:
    """The requests that read the listing of `path` (the key sweep's left out)."""
    return [r for r in requests if r.path == path and not is_sweep(r)]
