"""What every Human-family tap shares: auth, the resilient REST stream, paging, redaction."""

from taps_shared.auth import BasicAuth, BearerTokenAuth, HeaderAuth, HmacSignedAuth, HumanAuth
from taps_shared.errors import ConfigError, PaginationError, TapError
from taps_shared.pagination import (
    CursorPaginator,
    GuardedPaginator,
    PageGuard,
    PageIndexPaginator,
    TotalOffsetPaginator,
)
from taps_shared.ratelimit import RateLimiter
from taps_shared.rest import HumanRESTStream
from taps_shared.retry import RetryPolicy
from taps_shared.tap import HumanTap

__all__ = [
    "BasicAuth",
    "BearerTokenAuth",
    "ConfigError",
    "CursorPaginator",
    "GuardedPaginator",
    "HeaderAuth",
    "HmacSignedAuth",
    "HumanAuth",
    "HumanRESTStream",
    "HumanTap",
    "PageGuard",
    "PageIndexPaginator",
    "PaginationError",
    "RateLimiter",
    "RetryPolicy",
    "TapError",
    "TotalOffsetPaginator",
]
