"""What is particular to Human API: bare JSON arrays paged with `limit`/`offset` and an
`X-Total-Count` header, compact `updated_since` filters, no order guarantee, and two
credentials: the App Key (Application API) and one access token per end user (Data API),
minted by `POST <auth_url>/v1/connect/token`."""

from __future__ import annotations

import hashlib
import logging
import typing as t
from collections import Counter

from taps_shared import HumanRESTStream, IncrementalFilter, OffsetPaging
from taps_shared.errors import ConfigError, HTTPStatusError, ResponseError, UnauthorizedError
from taps_shared.oauth import SubjectBearerAuth, SubjectRefusedError, SubjectTokens
from taps_shared.responses import json_body

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from taps_shared.transport import Transport


class AppUsers:
    """The app's users this run extracts: their externalId (client_user_id) by humanId,
    whether `user_shard` covers them, and their Data API tokens, minted on demand."""

    def __init__(
        self,
        *,
        transport: Transport,
        token_url: str,
        client_id: str,
        client_secret: str,
        wanted: t.Sequence[str] | None = None,
        shard: str | None = None,
    ) -> None:
        self.transport = transport
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.wanted = set(wanted or ())
        self.shard = shard
        #: humanId → externalId (client_user_id) of the users read in this run.
        self.external_ids: dict[str, str] = {}
        self.tokens = SubjectTokens(self._mint)

    def in_shard(self, human_id: str | None) -> bool:
        """Whether this run's `user_shard` covers the user (stable across runs and hosts)."""
        if not self.shard:
            return True
        index, count = (int(part) for part in self.shard.split("/"))
        if index >= count:
            msg = f"user_shard {self.shard!r}: the shard index must be below the shard count"
            raise ConfigError(msg)
        digest = hashlib.sha256(str(human_id).encode()).digest()
        return int.from_bytes(digest[:8], "big") % count == index

    def admit(self, user: dict) -> bool:
        """Whether the run extracts this user (`client_user_ids`, `user_shard`); if so it
        is remembered, so its data can be read."""
        if self.wanted and user.get("externalId") not in self.wanted:
            return False
        if not self.in_shard(user.get("humanId")):
            return False
        self.external_ids[user["humanId"]] = user["externalId"]
        return True

    def covers(self, human_id: str | None) -> bool:
        """Whether a batch record of this user belongs to the run."""
        if self.wanted and human_id not in self.external_ids:
            return False
        return self.in_shard(human_id)

    def auth(self, human_id: str) -> SubjectBearerAuth:
        """The authenticator of the Data API requests made for this user."""
        return self.tokens.auth(self.external_ids[human_id])

    def check_tokens(self, logger: logging.Logger) -> None:
        """At the end of a run: no user got a token (a wrong `auth_url` answers every
        request alike) fails the run; some users without one are counted in one line."""
        minted, refused = self.tokens.outcome()
        if not refused:
            return
        reasons = Counter(refused.values()).most_common()
        why = "; ".join(f"{n} with {reason}" for reason, n in reasons)
        if not minted:
            msg = (
                f"Human API issued no access token for any of the {len(refused)} user(s) "
                f"asked ({why}) at {self.token_url}: check auth_url, client_id and "
                "client_secret; the users' Data API streams were not read"
            )
            raise ConfigError(msg)
        logger.warning(
            "Human API issued no access token for %d of %d user(s) (%s): their Data API "
            "streams were skipped",
            len(refused),
            minted + len(refused),
            why,
        )

    def _mint(self, external_id: str) -> dict[str, t.Any]:
        """`POST <auth_url>/v1/connect/token` with `type: access` for one user."""
        body = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "client_user_id": external_id,
            "type": "access",
        }
        request = self.transport.prepare("POST", self.token_url, json=body)
        try:
            response = self.transport.send(request, "Human API token request", setting="auth_url")
        except UnauthorizedError as exc:
            msg = f"{exc}: check client_id and client_secret"
            raise ConfigError(msg) from None
        except HTTPStatusError as exc:
            reason = f"{exc.status} {exc.api_message}".strip()
            raise SubjectRefusedError(external_id, reason, first=True) from None
        payload = json_body(response)
        if not isinstance(payload, dict):
            msg = f"the Human API token response from {self.token_url} is not a JSON object"
            raise ResponseError(msg)
        return payload


#: Streams whose records carry `timeSeries` when asked with `time_series=true`.
TIME_SERIES_STREAMS = frozenset({"activities", "sleeps"})


class HumanApiStream(HumanRESTStream):
    """A Human API list: incremental on `updatedAt`, sorted on the tap side."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key: str | None = "updatedAt"
    records_key = None
    api_order = "unordered"
    paging = OffsetPaging(total_key=None, total_header="X-Total-Count")
    page_limit = 500
    # The documented compact form has whole seconds: the filter may return up to a second
    # more, which the base stream drops.
    incremental = IncrementalFilter("updated_since", format="compact")

    @property
    def users(self) -> AppUsers:
        return t.cast("AppUsers", t.cast("t.Any", self.tap).users)

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        params = super().get_url_params(context, next_page_token)
        if self.name in TIME_SERIES_STREAMS and self.config.get("time_series"):
            params["time_series"] = "true"
        return params


class AppStream(HumanApiStream):
    """The Application API (`/v1/apps/{clientId}`), authenticated with the App Key."""

    @property
    def url_base(self) -> str:
        return f"{self.tap.base_url}/v1/apps/{self.config['client_id']}"


class UsersStream(AppStream):
    """`GET /v1/apps/{clientId}/users`: every user of the app (or those in
    `client_user_ids`, or in `user_shard`). Full table: every user's data is read on every
    run, and the user record itself does not change when that data does. The users' Data
    API partitions are fetched `max_parallel_users` at a time."""

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        workers = int(self.config.get("max_parallel_users") or 4)
        return self.with_children_prefetched(super().get_records(context), context, workers)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        return row if self.users.admit(row) else None


class BatchStream(AppStream):
    """A wellness batch query: every user's records of one type, each with `humanId`;
    only those of the users the run covers are kept."""

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        kept = super().post_process(row, context)
        return kept if kept is not None and self.users.covers(kept.get("humanId")) else None


class UserStream(HumanApiStream):
    """The Data API (`/v1/human`) for one user: that user's own access token and one
    bookmark per user; a user without a token is skipped."""

    @property
    def url_base(self) -> str:
        return f"{self.tap.base_url}/v1/human"

    @property
    def authenticator(self) -> SubjectBearerAuth:  # type: ignore[override]
        return self.users.auth(self._part.subject)

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
