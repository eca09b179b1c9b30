"""What is particular to Human API: bare JSON arrays paged with `limit`/`offset` and an
`X-Total-Count` header, compact `updated_since` dates, no order guarantee, and two
credentials: the App Key (Application API) and one access token per end user (Data API)."""

from __future__ import annotations

import typing as t

import requests

from tap_humanapi import schemas
from taps_shared import HumanRESTStream, TotalOffsetPaginator
from taps_shared.dates import parse_datetime, to_compact_z
from taps_shared.oauth import SubjectRefusedError
from taps_shared.schemas import schema_loader

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_humanapi.tap import TapHumanApi


load_schema = schema_loader(schemas)


class HumanApiStream(HumanRESTStream):
    """A Human API list: incremental on `updatedAt`, sorted on the tap side."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    records_key = None
    replication_key: str | None = "updatedAt"
    api_order = "unordered"
    paged = True

    @property
    def humanapi(self) -> TapHumanApi:
        return t.cast("TapHumanApi", self._tap)

    @property
    def page_size(self) -> int:
        return int(self.config.get("page_size", 500))

    def get_new_paginator(self) -> TotalOffsetPaginator | None:
        if not self.paged:
            return None
        return TotalOffsetPaginator(
            self.page_size,
            label=self.name,
            records_key=None,
            total_key=None,
            limit_key=None,
            total_header="X-Total-Count",
        )

    def page_params(self, next_page_token: t.Any) -> dict[str, t.Any]:
        return {"limit": self.page_size, "offset": next_page_token or 0} if self.paged else {}

    def incremental_params(self, since: str | None) -> dict[str, t.Any]:
        # The documented compact form has whole seconds: the filter may return up to a
        # second more, which the base stream drops.
        return {"updated_since": to_compact_z(parse_datetime(since, "bookmark"))} if since else {}


class AppStream(HumanApiStream):
    """The Application API (`/v1/apps/{clientId}`), authenticated with the App Key."""

    @property
    def url_base(self) -> str:
        return f"{self.tap.base_url}/v1/apps/{self.config['client_id']}"


class BatchStream(AppStream):
    """A wellness batch query: every user's records of one type, each with `humanId`.
    With `client_user_ids`, only the records of those users (read by `users`) are kept."""

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        kept = super().post_process(row, context)
        if kept is None:
            return None
        human_id = kept.get("humanId")
        if self.config.get("client_user_ids") and human_id not in self.humanapi.external_ids:
            return None
        return kept if self.humanapi.in_shard(human_id) else None


class UserStream(HumanApiStream):
    """The Data API (`/v1/human`) for one user: that user's own access token, one bookmark
    per user, and `humanId` on every record. A user without a token is skipped."""

    @property
    def url_base(self) -> str:
        return f"{self.tap.base_url}/v1/human"

    @property
    def authenticator(self) -> requests.auth.AuthBase:
        return self.humanapi.user_tokens.auth(self.humanapi.external_ids[self._part.subject])

    def begin_partition(self, context: Context | None) -> None:
        assert context is not None  # a child of users
        self._part.subject = context["humanId"]

    def request_records(self, context: Context | None) -> t.Iterable[dict]:
        try:
            yield from super().request_records(context)
        except SubjectRefusedError as exc:
            if exc.first:
                self.logger.warning(
                    "Skipping user %s: Human API issues no access token for it (%s)",
                    self._part.subject,
                    exc.reason,
                )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        kept = super().post_process(row, context)
        if kept is not None and "humanId" not in kept:
            kept["humanId"] = self._part.subject
        return kept
