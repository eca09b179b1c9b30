"""What a tap extracts of its API: every read endpoint the vendor documents, with the
streams that extract it or the reason none does.

    COVERAGE = Coverage([
        Endpoint("GET /people", "people"),
        Endpoint("GET /people/{id}", left_out="lookup by id: the list returns the same record"),
    ])

Each tap's README shows its table (`scripts/readme_tables.py`), and a test fails when a
stream has no row or a row names a stream the tap does not have: the table cannot drift
from the code, and a reader learns what is not extracted and why.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """One documented read endpoint: the streams that extract it, or why none does."""

    route: str  # "GET /people", as the vendor documents it
    streams: tuple[str, ...] | str = ()
    left_out: str = ""  # why no stream extracts it

    def __post_init__(self) -> None:
        if isinstance(self.streams, str):
            object.__setattr__(self, "streams", (self.streams,))
        if bool(self.streams) == bool(self.left_out):
            msg = f"coverage of {self.route}: give its streams or why it is left out, not both"
            raise ValueError(msg)


class Coverage:
    """A tap's documented read endpoints, in the order its README lists them."""

    def __init__(self, endpoints: t.Sequence[Endpoint]) -> None:
        self.endpoints = list(endpoints)

    def problems(self, streams: t.Iterable[str]) -> list[str]:
        """How the table and the tap's streams disagree: empty when they agree."""
        have = list(streams)
        named = [name for endpoint in self.endpoints for name in endpoint.streams]
        out = [f"stream {name} has no row" for name in have if name not in named]
        gone = [name for name in named if name not in have]
        out += [f"a row names stream {name}, which the tap lacks" for name in gone]
        return out

    def table(self) -> str:
        """The README's "API coverage" table (markdown)."""
        extracted = sum(bool(endpoint.streams) for endpoint in self.endpoints)
        lines = [
            f"{extracted} of {len(self.endpoints)} documented read endpoints are extracted.",
            "",
            "| endpoint | extracted by |",
            "|---|---|",
        ]
        for endpoint in self.endpoints:
            cell = ", ".join(f"`{name}`" for name in endpoint.streams) or (
                f"left out: {endpoint.left_out}"
            )
            lines.append(f"| `{endpoint.route}` | {cell.replace('|', chr(92) + '|')} |")
        return "\n".join(lines)
