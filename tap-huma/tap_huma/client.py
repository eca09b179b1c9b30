"""What is particular to Huma: `{total, items}` pages with `limit`/`offset`, per-endpoint
page-size maxima, full-table streams announced with one ACTIVATE_VERSION each."""

from __future__ import annotations

import typing as t

from singer_sdk.streams import Stream

from tap_huma import schemas
from taps_shared import HumanRESTStream, TotalOffsetPaginator
from taps_shared.schemas import schema_loader

load_schema = schema_loader(schemas)


class FullTableVersion(Stream):
    """Full-table streams emit ACTIVATE_VERSION (so targets can drop deleted rows) once
    per stream, not once per parent record as the SDK would for child streams."""

    _version_announced = False

    @property
    def emit_activate_version_messages(self) -> bool:  # type: ignore[override]
        if self._version_announced or not self.config.get("emit_activate_version_messages"):
            return False
        self._version_announced = True
        return True


class HumaStream(FullTableVersion, HumanRESTStream):
    """A Huma Open API endpoint."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    records_key: str | None = "items"
    #: The endpoint's maximum `limit`; None for endpoints that are not paged.
    page_limit: int | None = None

    def get_new_paginator(self) -> TotalOffsetPaginator | None:
        if self.page_limit is None:
            return None
        return TotalOffsetPaginator(
            self.page_limit, label=self.name, records_key="items", limit_key=None
        )

    def page_params(self, next_page_token: t.Any) -> dict[str, t.Any]:
        if self.page_limit is None:
            return {}
        return {"limit": self.page_limit, "offset": next_page_token or 0}
