"""The server-side incremental filter of a stream, as data: which parameter carries the
bookmark, in which format, whether the API compares inclusively, and which parameters ask
for ascending order."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from datetime import timedelta

from taps_shared.dates import parse_datetime, to_compact_z, to_iso_z

#: How a bookmark is written in the filter: ISO-8601 with milliseconds and Z, the compact
#: `YYYYMMDDTHHmmssZ` (whole seconds, rounded down), or the date alone.
Format = t.Literal["iso", "compact", "date"]
_FORMATS: dict[str, t.Callable[[t.Any], str]] = {
    "iso": to_iso_z,
    "compact": to_compact_z,
    "date": lambda moment: moment.date().isoformat(),
}


@dataclass(frozen=True)
class IncrementalFilter:
    """`?<param>=<bookmark>` plus the sort parameters, on every page of a sync.

    A coarse filter (a compact or date format, or an API that rounds down) is safe: the
    stream drops records older than the bookmark. An exclusive one (`inclusive=False`) is
    sent one millisecond early, so records sharing the bookmark's instant are kept.
    """

    param: str
    format: Format = "iso"
    inclusive: bool = True
    #: Parameters asking for ascending order by the replication key.
    sort: t.Mapping[str, t.Any] = field(default_factory=dict)
    #: Sent when there is no bookmark (an API that orders only when it filters, say).
    initial: str | None = None

    def params(self, since: str | None) -> dict[str, t.Any]:
        """The query parameters for a sync starting at `since` (None: from the start)."""
        params = dict(self.sort)
        if since is None:
            if self.initial is not None:
                params[self.param] = self.initial
            return params
        moment = parse_datetime(since, "bookmark")
        if not self.inclusive:
            moment -= timedelta(milliseconds=1)
        params[self.param] = _FORMATS[self.format](moment)
        return params
