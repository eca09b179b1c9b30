"""Local emulator of the OpenHuman API: contract (A) of shared/specs/openhuman.md here, and
contract (B), the hosted TinyHumans backend, in :mod:`human_sandbox.openhuman_backend`,
served by the same server for every path outside ``/v1`` and ``/oauth``.

The documented part (openhumanwiki.com's authentication page) is reproduced as written:
``sk_`` API keys and ``at_`` access tokens sent as ``Authorization: Bearer``, the OAuth 2.0
authorization-code flow at ``/oauth/authorize`` and ``/oauth/token`` (form-encoded;
``grant_type=authorization_code`` or ``refresh_token``) answering
``{access_token: "at_…", refresh_token: "rt_…", expires_in, token_type: "Bearer"}``,
``GET /v1/agents`` and the wiki's error body ``{"error": {"code", "message", "status"}}``.

Everything else is the spec's *proposal* (ASSUMPTION, invented for testing): the
``{data, has_more, next_cursor}`` envelope with opaque keyset cursors, ``limit`` 20 by
default and at most 100, the ``updated_after``/``created_after`` filters, the resources
beyond agents (conversations, messages, memories, runs, usage), refresh-token rotation,
the ``scope`` field of the token response, ``token_expired`` and ``insufficient_scope``,
and a fixed 60-second rate-limit window per credential with ``X-RateLimit-*`` headers.

One :class:`EmulatorServer` plays both hosts: the API under ``/v1`` (``api.tinyhumans.ai``),
the hosted backend (B) at the root of the same host, and OAuth under ``/oauth``
(``auth.tinyhumans.ai``). Data is generated deterministically
from ``seed`` and ``size`` (number of agents); only tokens and codes are random.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import secrets
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode

import orjson

from human_sandbox import datagen as dg
from human_sandbox.core import Emulator, EmulatorServer, Request, Response, json_response
from human_sandbox.drift import Drift, drift_records
from human_sandbox.openhuman_backend import RESOURCES as BACKEND_RESOURCES
from human_sandbox.openhuman_backend import Backend

# Fake test credentials (not secrets).
API_KEY = "sk_test_openhuman_5f0c2e9a"  # read + write
READONLY_NOSCOPE_KEY = "sk_test_noscope_11aa"  # valid, but without the read scope
CLIENT_ID = "ohc_test_client_7d2b"
CLIENT_SECRET = "ohs_test_secret_c4e81f0a"
REDIRECT_URI = "http://127.0.0.1/callback"

#: Scopes the wiki lists, in the order they are written back.
SCOPES = ("read", "write", "delete", "admin")
API_KEYS: dict[str, frozenset[str]] = {
    API_KEY: frozenset({"read", "write"}),
    READONLY_NOSCOPE_KEY: frozenset(),
}
#: The same keys as `x-api-key` on the hosted backend's machine routes (B's scopes).
BACKEND_API_KEYS: dict[str, frozenset[str]] = {
    API_KEY: frozenset({"read", "write", "inference"}),
    READONLY_NOSCOPE_KEY: frozenset(),
}
#: The one account behind every OAuth grant (rate limits count per user, not per token).
OAUTH_USER = "usr_test_openhuman"

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
RATE_WINDOW_S = 60
CODE_TTL_S = 600
RESOURCES = ("agents", "conversations", "messages", "memories", "runs", "usage")
#: Drift mode (resource -> what changes): nested objects gain undeclared fields, and the
#: fields the contract gives a list of values for get values outside it.
DRIFT = {
    "agents": Drift(enums={"status"}),
    "messages": Drift(nested=("tokens",), enums={"role"}),
    "memories": Drift(enums={"source_type"}),
    "runs": Drift(nested=("usage",), enums={"status"}),
}
ID_PREFIX = {
    "agents": "agt_",
    "conversations": "conv_",
    "messages": "msg_",
    "memories": "mem_",
    "runs": "run_",
}

#: Generated activity lies in 2024-2025 (days after the datagen anchor, 2023-01-01).
LO_DAY = (date(2024, 1, 1) - dg.ANCHOR_DATE).days
HI_DAY = dg.SPAN_DAYS
USAGE_DAYS = 60
USAGE_LAST_DAY = date(2025, 12, 31)

# model -> (USD per million input tokens, USD per million output tokens)
MODELS: dict[str, tuple[float, float]] = {
    "claude-3-5-sonnet": (3.0, 15.0),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "llama-3.1-70b": (0.6, 0.6),
    "neocortex-1": (0.4, 1.6),
}
MODEL_NAMES = tuple(sorted(MODELS))

# fmt: off
_AGENT_ROLES = (
    "Research Assistant", "Inbox Triage", "Meeting Notes", "Sales Copilot", "Support Agent",
    "Code Reviewer", "Travel Planner", "Recruiting Screener", "Finance Digest",
    "Daily Briefing", "Knowledge Curator", "Social Scheduler",
)
_AGENT_DESCRIPTIONS = (
    "Summarises new documents and flags what needs a reply.",
    "Reads the inbox every 20 minutes and drafts answers.",
    "Joins calls, takes notes and files action items.",
    "Prepares account briefs before customer meetings.",
    "Answers first-line questions from the help centre.",
    "Reviews pull requests against the team's style guide.",
    "Keeps the Memory Tree tidy: merges duplicates, tags notes.",
)
_CHANNELS = ("desktop", "telegram", "discord", "slack", "email")
_TAGS = ("work", "personal", "beta", "team", "cron", "ops", "écriture", "日本語")
_USER_LINES = (
    "Can you summarise yesterday's meeting with {name}?",
    "Draft a reply to {name} about the offsite in Lisbon.",
    "What did we decide about the Q3 roadmap?",
    "Find the invoice from Müller GmbH and check the total.",
    "Remind me what {name} said about the hiring plan.",
    "Schedule a follow-up with {name} next Tuesday at 10:00.",
    "Translate this note into Spanish: « on se voit demain ».",
    "List the open action items from this week.",
)
_ASSISTANT_LINES = (
    "Here is a short summary: {name} agreed to ship the beta on Friday; two risks remain.",
    "I drafted a reply and saved it to your outbox for review.",
    "The roadmap decision was to postpone the mobile app to Q4 and focus on search.",
    "The invoice total is €1 240,50 including VAT; it matches the purchase order.",
    "{name} asked for two more engineers and one designer before September.",
    "Done — the follow-up is in your calendar. I also shared the agenda.",
    "Traducción: «nos vemos mañana».",
    "There are 4 open items; the oldest is from Monday.",
)
_SYSTEM_LINES = (
    "You are a helpful assistant with access to the user's Memory Tree.",
    "You are concise. Cite the memory you used for every claim.",
)
_TOOLS = ("memory.search", "calendar.create_event", "gmail.draft", "web.fetch", "notion.query")
_NAMESPACES = ("default", "work", "personal", "research", "support")
_MEMORY_TITLES = (
    "Notes: weekly sync with {name}",
    "Email thread — contract renewal",
    "Chat with {name} about onboarding",
    "Product spec: search v2",
    "Travel plans for the Berlin offsite",
    "Reading list: agents and memory",
    "Customer call: Nordlys AS",
    "Recipe ideas from {name}",
)
_SOURCE_TYPES = ("doc", "chat", "email")
# fmt: on

#: Run statuses with their weights.
_RUN_STATUSES = ("completed",) * 14 + ("failed",) * 2 + ("cancelled", "running", "queued")
_AGENT_STATUSES = ("active",) * 7 + ("paused",) * 2 + ("archived",)


# --------------------------------------------------------------------------------------
# Error bodies
# --------------------------------------------------------------------------------------

_CODE_BY_STATUS = {
    400: "invalid_request",
    401: "invalid_api_key",
    403: "insufficient_scope",
    404: "resource_not_found",
    429: "rate_limit",
}
INVALID_API_KEY_MESSAGE = "API key is invalid or expired"


def api_error(status: int, code: str, message: str) -> dict[str, Any]:
    """The wiki's error body."""
    return {"error": {"code": code, "message": message, "status": status}}


def api_error_body(status: int) -> bytes:
    """Body of injected status faults and app crashes: 5xx -> ``internal_error``."""
    if status >= 500:
        return orjson.dumps(api_error(status, "internal_error", "Internal server error"))
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return orjson.dumps(api_error(status, _CODE_BY_STATUS.get(status, "error"), phrase))


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad(message: str) -> _ApiError:
    return _ApiError(400, "invalid_request", message)


def _not_found(message: str = "Resource not found") -> _ApiError:
    return _ApiError(404, "resource_not_found", message)


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    """RFC 6749 §5.2 error body (the token endpoint does not use the API's shape)."""
    return json_response(
        status, {"error": error, "error_description": description}, {**_NO_STORE, **(headers or {})}
    )


def parse_scope(text: str) -> frozenset[str]:
    """Space-separated scope string -> set; ValueError on an unknown scope."""
    scopes = frozenset(text.split())
    unknown = scopes - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s): {sorted(unknown)}")
    return scopes


def scope_string(scopes: frozenset[str]) -> str:
    return " ".join(s for s in SCOPES if s in scopes)


# --------------------------------------------------------------------------------------
# Data generation
# --------------------------------------------------------------------------------------


def _id(rng: Any, resource: str) -> str:
    return ID_PREFIX[resource] + dg.make_id(rng)


def _cost(model: str, input_tokens: int, output_tokens: int) -> float:
    price_in, price_out = MODELS[model]
    return round((input_tokens * price_in + output_tokens * price_out) / 1_000_000, 6)


class _Builder:
    """Builds the dataset; each agent (with its conversations, messages and runs) and each
    memory and usage day draws from an rng stream of its own."""

    def __init__(self, seed: int, size: int) -> None:
        self.seed = seed
        self.size = size

    def rng(self, *labels: str) -> Any:
        return dg.sub_rng(self.seed, *labels)

    def build(self) -> dict[str, list[dict[str, Any]]]:
        data: dict[str, list[dict[str, Any]]] = {name: [] for name in RESOURCES}
        prev: tuple[int, int] | None = None
        for i in range(self.size):
            rng = self.rng("agent", str(i))
            if i % 10 == 5 and prev is not None:
                times = prev  # created in the same batch as the previous agent: a tie
            else:
                times = dg.created_updated(rng, LO_DAY, HI_DAY - 60)
            prev = times
            agent = self.agent(rng, _id(rng, "agents"), *times)
            data["agents"].append(agent)
            for _ in range(2 + int(rng.random() * 3)):  # 2-4 conversations, 3 on average
                self.conversation(rng, agent, times[0], data)
        data["memories"] = self.memories()
        data["usage"] = self.usage()
        return data

    @staticmethod
    def agent(rng: Any, ident: str, created: int, updated: int) -> dict[str, Any]:
        first, _last = dg.person_name(rng)
        metadata: dict[str, Any] = {}
        if rng.random() > 0.15:
            metadata["owner"] = first
            metadata["channel"] = dg.pick(rng, _CHANNELS)
            metadata["temperature"] = round(rng.random(), 1)
            metadata["tags"] = sorted(rng.sample(_TAGS, int(rng.random() * 3)))
            if rng.random() < 0.3:
                metadata["schedule"] = "*/20 * * * *"
        return {
            "id": ident,
            "name": f"{dg.pick(rng, _AGENT_ROLES)} ({first})",
            "description": dg.maybe(rng, 0.75, dg.pick(rng, _AGENT_DESCRIPTIONS)),
            "model": dg.pick(rng, MODEL_NAMES),
            "status": dg.pick(rng, _AGENT_STATUSES),
            "created_at": dg.iso_ms(created),
            "updated_at": dg.iso_ms(updated),
            "metadata": metadata,
        }

    @staticmethod
    def _roles(rng: Any, n: int) -> list[str]:
        roles = ["system"] if rng.random() < 0.3 else []
        while len(roles) < n:
            roles += ["user", "assistant"]
            if rng.random() < 0.3:
                roles += ["tool", "assistant"]
        return roles[:n]

    def conversation(
        self, rng: Any, agent: dict[str, Any], agent_created: int, data: dict[str, list[Any]]
    ) -> None:
        lo_day = min(agent_created // dg.DAY_MS + 1, HI_DAY - 3)
        created = dg.timestamp_ms(rng, lo_day, HI_DAY - 2)
        conv_id = _id(rng, "conversations")
        name = dg.pick(rng, dg.FIRST_NAMES)
        roles = self._roles(rng, 2 + int(rng.random() * 7))  # 2-8 messages
        model = agent["model"]
        t = created
        context = 0
        user_times: list[int] = []
        messages = []
        for n, role in enumerate(roles):
            # A tool result is stamped with the same instant as the call: a created_at tie.
            if n and not (role == "tool" and rng.random() < 0.5):
                t += dg.amount(rng, 2_000, 600_000)
            if role == "system":
                content = dg.pick(rng, _SYSTEM_LINES)
            elif role == "user":
                content = dg.pick(rng, _USER_LINES).format(name=name)
                user_times.append(t)
            elif role == "assistant":
                content = dg.pick(rng, _ASSISTANT_LINES).format(name=name)
            else:
                tool = dg.pick(rng, _TOOLS)
                hits = dg.amount(rng, 0, 5)
                content = orjson.dumps({"tool": tool, "ok": True, "results": hits}).decode()
            size = max(1, len(content) // 4)
            if role == "assistant":
                tokens = {"input": context + dg.amount(rng, 50, 400), "output": size}
            else:
                tokens = {"input": size, "output": 0}
            context += size
            messages.append(
                {
                    "id": _id(rng, "messages"),
                    "conversation_id": conv_id,
                    "role": role,
                    "content": content,
                    "tokens": tokens,
                    "created_at": dg.iso_ms(t),
                }
            )
        updated = t
        if rng.random() < 0.3:  # renamed or archived later
            updated = min(t + int(rng.random() * 30 * dg.DAY_MS), HI_DAY * dg.DAY_MS - 1)
        data["conversations"].append(
            {
                "id": conv_id,
                "agent_id": agent["id"],
                "title": dg.maybe(rng, 0.9, f"{dg.pick(rng, _USER_LINES).format(name=name)[:48]}"),
                "status": "archived" if rng.random() < 0.2 else "active",
                "message_count": len(messages),
                "created_at": dg.iso_ms(created),
                "updated_at": dg.iso_ms(updated),
            }
        )
        data["messages"].extend(messages)
        for _ in range(1 + int(rng.random() * 3)):  # 1-3 runs, 2 on average
            data["runs"].append(self.run(rng, agent["id"], conv_id, model, user_times or [t]))

    @staticmethod
    def run(rng: Any, agent_id: str, conv_id: str, model: str, starts: list[int]) -> dict:
        created = dg.pick(rng, starts) + dg.amount(rng, 5, 900)
        status = dg.pick(rng, _RUN_STATUSES)
        started = None if status == "queued" else created + dg.amount(rng, 100, 5_000)
        completed = None
        if status in ("completed", "failed") or (status == "cancelled" and started):
            assert started is not None
            completed = started + dg.amount(rng, 1_000, 120_000)
        usage = None
        if started is not None:
            input_tokens = dg.amount(rng, 200, 20_000)
            output_tokens = dg.amount(rng, 0, 4_000) if status != "failed" else 0
            usage = {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
                "cost_usd": _cost(model, input_tokens, output_tokens),
            }
        updated = completed or started or created
        return {
            "id": _id(rng, "runs"),
            "agent_id": agent_id,
            "conversation_id": conv_id,
            "status": status,
            "created_at": dg.iso_ms(created),
            "started_at": dg.iso_ms(started) if started is not None else None,
            "completed_at": dg.iso_ms(completed) if completed is not None else None,
            "usage": usage,
            "updated_at": dg.iso_ms(updated),
        }

    def memories(self) -> list[dict[str, Any]]:
        out = []
        prev: tuple[int, int] | None = None
        for j in range(self.size):
            rng = self.rng("memory", str(j))
            times = prev if (j % 10 == 3 and prev) else dg.created_updated(rng, LO_DAY, HI_DAY)
            prev = times
            name = dg.pick(rng, dg.FIRST_NAMES)
            title = dg.pick(rng, _MEMORY_TITLES).format(name=name)
            out.append(
                {
                    "id": _id(rng, "memories"),
                    "namespace": dg.pick(rng, _NAMESPACES),
                    "title": title,
                    "content": f"{title}. " + dg.pick(rng, _ASSISTANT_LINES).format(name=name),
                    "source_type": dg.pick(rng, _SOURCE_TYPES),
                    "chunk_count": dg.amount(rng, 1, 40),
                    "created_at": dg.iso_ms(times[0]),
                    "updated_at": dg.iso_ms(times[1]),
                }
            )
        return out

    def usage(self) -> list[dict[str, Any]]:
        out = []
        for k in range(USAGE_DAYS - 1, -1, -1):
            day = (USAGE_LAST_DAY - timedelta(days=k)).isoformat()
            rng = self.rng("usage", day)
            for model in sorted(rng.sample(MODEL_NAMES, 2 + int(rng.random() * 2))):
                requests = dg.amount(rng, self.size, self.size * 60)
                input_tokens = requests * dg.amount(rng, 200, 2_000)
                output_tokens = requests * dg.amount(rng, 50, 600)
                out.append(
                    {
                        "date": day,
                        "model": model,
                        "requests": requests,
                        "input_tokens": input_tokens,
                        "output_tokens": output_tokens,
                        "cost_usd": _cost(model, input_tokens, output_tokens),
                    }
                )
        return out


_TIME_FIELDS = ("created_at", "updated_at", "started_at", "completed_at")


def _max_ms(data: dict[str, list[dict[str, Any]]]) -> int:
    best = ""
    for records in data.values():
        for rec in records:
            for name in _TIME_FIELDS:
                value = rec.get(name)
                if value and value > best:  # same ISO format throughout: text order is time
                    best = value
    return dg.ms_of(best) if best else 0


# --------------------------------------------------------------------------------------
# Serving indexes and cursors
# --------------------------------------------------------------------------------------


@dataclass
class _View:
    """Records of one list (after an equality filter) sorted ascending by ``keys``."""

    keys: list[tuple[Any, str]]
    blobs: list[bytes]


def _view(records: list[dict[str, Any]], key: Callable[[dict[str, Any]], tuple[Any, str]]) -> _View:
    pairs = sorted((key(r), orjson.dumps(r)) for r in records)
    return _View([k for k, _ in pairs], [b for _, b in pairs])


def encode_cursor(tag: str, key: tuple[Any, str]) -> str:
    raw = orjson.dumps({"v": 1, "t": tag, "k": list(key)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str) -> tuple[Any, str]:
    """Keyset position of a cursor made for ``tag``; 400 if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        obj = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise _bad("Invalid cursor") from None
    if not isinstance(obj, dict) or obj.get("v") != 1 or obj.get("t") != tag:
        raise _bad("Invalid cursor")
    key = obj.get("k")
    if (
        not isinstance(key, list)
        or len(key) != 2
        or not isinstance(key[0], int)
        or isinstance(key[0], bool)
        or not isinstance(key[1], str)
    ):
        raise _bad("Invalid cursor")
    return key[0], key[1]


def _parse_instant_us(raw: str, name: str) -> int:
    """ISO-8601 date-time -> microseconds after the datagen anchor (naive = UTC)."""
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _bad(f"'{name}' must be an ISO-8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - dg.ANCHOR
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _parse_date(raw: str | None, name: str) -> date:
    if raw is None or not raw.strip():
        raise _bad(f"'{name}' is required (YYYY-MM-DD)")
    text = raw.strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise _bad(f"'{name}' must be a date in YYYY-MM-DD format") from None


@dataclass
class _AccessToken:
    expires: float  # time.monotonic()
    scopes: frozenset[str]
    user: str


@dataclass
class _Grant:
    """What an authorization code or a refresh token stands for."""

    scopes: frozenset[str]
    user: str
    redirect_uri: str = ""
    expires: float = math.inf


# --------------------------------------------------------------------------------------
# Emulator
# --------------------------------------------------------------------------------------


class OpenHumanEmulator(Emulator):
    """OpenHuman API (contract A) on a local port; see the module docstring.

    seed/size: the dataset (size = number of agents). token_ttl: ``expires_in`` of access
    tokens, which stop working that many seconds after issue (``time.monotonic``).
    rate_limit_per_min: requests per fixed window per credential (None = off).
    rate_window_s: the window's length; 60 s as documented, shorter in tests.
    missing: resources this account's API does not offer (they answer 404), of (A) or (B).
    forbidden: (B) resources the credential may not read (403); unsuccessful: (B)
    resources answering 200 with ``success: false``.
    latency_ms: delay before every response. port: 0 picks a free port.
    drift: serve records as a later API version might (`human_sandbox.drift`, `DRIFT`).
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        size: int = 30,
        token_ttl: int = 3600,
        rate_limit_per_min: int | None = None,
        rate_window_s: float = RATE_WINDOW_S,
        missing: set[str] | frozenset[str] = frozenset(),
        forbidden: set[str] | frozenset[str] = frozenset(),
        unsuccessful: set[str] | frozenset[str] = frozenset(),
        latency_ms: int = 0,
        port: int = 0,
        drift: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        if rate_limit_per_min is not None and rate_limit_per_min < 1:
            raise ValueError("rate_limit_per_min must be at least 1 (or None)")
        unknown = set(missing) - set(RESOURCES) - set(BACKEND_RESOURCES)
        if unknown:
            raise ValueError(f"unknown resources in missing: {sorted(unknown)}")
        self.seed = seed
        self.size = size
        self.token_ttl = token_ttl
        self.rate_limit_per_min = rate_limit_per_min
        self.rate_window_s = rate_window_s
        self.missing = frozenset(missing)
        self.data: dict[str, list[dict[str, Any]]] = _Builder(seed, size).build()
        if drift:
            self.data = {
                r: drift_records(rows, DRIFT.get(r, Drift())) for r, rows in self.data.items()
            }
        self.backend = Backend(
            seed=seed,
            size=size,
            api_keys=BACKEND_API_KEYS,
            missing=self.missing,
            forbidden=forbidden,
            unsuccessful=unsuccessful,
            drift=drift,
        )
        self.token_requests: list[dict[str, Any]] = []
        self.rate_limited = 0
        self._max = _max_ms(self.data)
        self._mutations = 0
        self._lock = threading.RLock()
        self._views: dict[tuple[str, ...], _View] = {}
        self._by_id: dict[str, dict[str, dict[str, Any]]] = {}
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _Grant] = {}
        self._codes: dict[str, _Grant] = {}
        self._windows: dict[str, tuple[float, int]] = {}  # credential -> (start, count)
        self.server = EmulatorServer(
            self.handle, port=port, latency_ms=latency_ms, error_body=api_error_body
        )

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """API base, ``http://127.0.0.1:<port>/v1`` (the tap's ``api_url``)."""
        return f"{self.server.base_url}/v1"

    @property
    def auth_url(self) -> str:
        """OAuth base; the token endpoint is ``auth_url + "/oauth/token"``."""
        return self.server.base_url

    @property
    def backend_url(self) -> str:
        """Base of the hosted backend (B): the server's root (the tap's ``backend_url``)."""
        return self.server.base_url

    @property
    def token_url(self) -> str:
        return f"{self.auth_url}/oauth/token"

    @property
    def url(self) -> str:
        """What the CLI announces: the API base URL."""
        return self.api_url

    # -- OAuth helpers for tests ---------------------------------------------------------

    def issue_code(self, scope: str = "read write") -> str:
        """An authorization code for CLIENT_ID and REDIRECT_URI (single use, 10 minutes),
        as if the user had just approved ``scope`` at /oauth/authorize."""
        scopes = parse_scope(scope)
        code = "code_" + secrets.token_urlsafe(18)
        with self._lock:
            self._codes[code] = _Grant(
                scopes, OAUTH_USER, REDIRECT_URI, time.monotonic() + CODE_TTL_S
            )
        return code

    def issue_refresh_token(self, scope: str = "read write") -> str:
        """A valid refresh token, as if the user had authorized the client earlier."""
        scopes = parse_scope(scope)
        token = "rt_" + secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[token] = _Grant(scopes, OAUTH_USER)
        return token

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far is invalid from now on (401)."""
        with self._lock:
            self._access.clear()

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now: its next use gets 401
        ``token_expired``; refresh tokens stay valid."""
        now = time.monotonic()
        with self._lock:
            for access in self._access.values():
                access.expires = now

    def reset_rate_limits(self) -> None:
        """Start a fresh rate-limit window for every credential."""
        with self._lock:
            self._windows.clear()

    # -- mutations -----------------------------------------------------------------------

    def _next_ms(self) -> int:
        # Whole seconds past the newest instant, so new values are visibly and strictly later.
        self._max = (self._max // 1000 + 1) * 1000 + 1000
        return self._max

    def _changed(self, resource: str) -> None:
        for key in [k for k in self._views if k[0] == resource]:
            del self._views[key]
        self._by_id.pop(resource, None)

    def touch_agents(self, n: int) -> list[str]:
        """Edit ``n`` deterministically chosen agents; they all get one new updated_at
        strictly later than any instant in the dataset. Returns their ids."""
        with self._lock:
            agents = self.data["agents"]
            if not 0 <= n <= len(agents):
                raise ValueError(f"cannot touch {n} of {len(agents)} agents")
            self._mutations += 1
            rng = dg.sub_rng(self.seed, "touch", str(self._mutations))
            chosen = sorted(rng.sample(range(len(agents)), n))
            stamp = dg.iso_ms(self._next_ms())
            for i in chosen:
                agents[i] = {
                    **agents[i],
                    "description": f"Updated instructions (change {self._mutations})",
                    "updated_at": stamp,
                }
            self._changed("agents")
            return [agents[i]["id"] for i in chosen]

    def add_agents(self, n: int) -> list[str]:
        """Append ``n`` agents created (created_at = updated_at) after everything else."""
        if n < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            agents = self.data["agents"]
            self._mutations += 1
            rng = dg.sub_rng(self.seed, "add", str(self._mutations))
            stamp = self._next_ms()
            taken = {a["id"] for a in agents}
            ids = []
            for _ in range(n):
                ident = _id(rng, "agents")
                while ident in taken:
                    ident = _id(rng, "agents")
                taken.add(ident)
                agents.append(_Builder.agent(rng, ident, stamp, stamp))
                ids.append(ident)
            self._changed("agents")
            return ids

    # -- OAuth endpoints -----------------------------------------------------------------

    def _mint(self, scopes: frozenset[str], user: str, refresh_scopes: frozenset[str]) -> dict:
        access = "at_" + secrets.token_urlsafe(24)
        refresh = "rt_" + secrets.token_urlsafe(32)
        with self._lock:
            self._access[access] = _AccessToken(time.monotonic() + self.token_ttl, scopes, user)
            self._refresh[refresh] = _Grant(refresh_scopes, user)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.token_ttl,
            "token_type": "Bearer",
            "scope": scope_string(scopes),
        }

    def _client_ok(self, client_id: Any, client_secret: Any) -> bool:
        return (
            isinstance(client_id, str)
            and isinstance(client_secret, str)
            and hmac.compare_digest(client_id.encode(), CLIENT_ID.encode())
            and hmac.compare_digest(client_secret.encode(), CLIENT_SECRET.encode())
        )

    def _token_endpoint(self, req: Request) -> Response:
        """POST /oauth/token: authorization_code and refresh_token grants (RFC 6749)."""
        entry: dict[str, Any] = {
            "time": time.monotonic(),
            "grant_type": None,
            "ok": False,
            "error": None,
        }
        with self._lock:
            self.token_requests.append(entry)

        def fail(status: int, error: str, description: str, **headers: str) -> Response:
            entry["error"] = error
            return _oauth_error(status, error, description, headers)

        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return fail(
                400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
            )
        try:
            parsed = parse_qs(req.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return fail(400, "invalid_request", "Malformed form body")
        repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
        if repeated:
            return fail(400, "invalid_request", f"Parameter '{repeated[0]}' given more than once")
        fields = {k: v[0] for k, v in parsed.items()}
        grant_type = fields.get("grant_type") or None
        entry["grant_type"] = grant_type
        if grant_type is None:
            return fail(400, "invalid_request", "Missing grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            return fail(
                400, "unsupported_grant_type", f"Grant type '{grant_type}' is not supported"
            )

        authorization = req.header("authorization") or ""
        basic = authorization[:6].lower() == "basic "
        client_id: str | None
        client_secret: str | None
        if basic:
            if "client_secret" in fields:
                return fail(400, "invalid_request", "Use only one client authentication method")
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return fail(400, "invalid_request", "Malformed Basic credentials")
            raw_id, sep, raw_secret = decoded.partition(":")
            if not sep:
                return fail(400, "invalid_request", "Malformed Basic credentials")
            client_id, client_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            if fields.get("client_id", client_id) != client_id:
                return fail(400, "invalid_request", "client_id does not match Basic credentials")
        else:
            client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
        if not self._client_ok(client_id, client_secret):
            extra = {"WWW-Authenticate": 'Basic realm="oauth"'} if basic else {}
            return fail(401, "invalid_client", "Client authentication failed", **extra)

        if grant_type == "authorization_code":
            code, redirect_uri = fields.get("code"), fields.get("redirect_uri")
            if not code:
                return fail(400, "invalid_request", "Missing code")
            if not redirect_uri:
                return fail(400, "invalid_request", "Missing redirect_uri")
            with self._lock:
                grant = self._codes.pop(code, None)  # single use, even when the exchange fails
            if grant is None or time.monotonic() >= grant.expires:
                return fail(400, "invalid_grant", "Authorization code is invalid or has been used")
            if redirect_uri != grant.redirect_uri:
                return fail(400, "invalid_grant", "redirect_uri does not match the authorization")
            scopes = grant.scopes
        else:
            refresh_token = fields.get("refresh_token")
            if not refresh_token:
                return fail(400, "invalid_request", "Missing refresh_token")
            requested: frozenset[str] | None = None
            if fields.get("scope"):
                try:
                    requested = parse_scope(fields["scope"])
                except ValueError:
                    return fail(400, "invalid_scope", "Unknown scope requested")
            with self._lock:
                # Rotation: the token presented is spent whatever happens next.
                grant = self._refresh.pop(refresh_token, None)
            if grant is None:
                return fail(400, "invalid_grant", "Refresh token is invalid or has been used")
            if requested is not None and not requested <= grant.scopes:
                with self._lock:
                    self._refresh[refresh_token] = grant  # a refused request spends nothing
                return fail(400, "invalid_scope", "Requested scope exceeds the granted scope")
            scopes = requested if requested is not None else grant.scopes
        credentials = self._mint(scopes, grant.user, grant.scopes)
        entry["ok"] = True
        return json_response(200, credentials, _NO_STORE)

    def _authorize(self, req: Request) -> Response:
        """GET /oauth/authorize: the user approves at once; 302 to redirect_uri?code=..."""
        if req.q("client_id") != CLIENT_ID:
            return _oauth_error(400, "invalid_client", "Unknown client_id")
        redirect_uri = req.q("redirect_uri") or ""
        if redirect_uri != REDIRECT_URI:
            return _oauth_error(400, "invalid_request", "redirect_uri is not registered")
        params: dict[str, str] = {}
        if req.q("response_type") != "code":
            params["error"] = "unsupported_response_type"
        else:
            try:
                params["code"] = self.issue_code(req.q("scope") or "read")
            except ValueError:
                params["error"] = "invalid_scope"
        if req.q("state") is not None:
            params["state"] = req.q("state") or ""
        return Response(302, b"", {"Location": f"{redirect_uri}?{urlencode(params)}"})

    # -- API authentication and rate limit -----------------------------------------------

    def _authenticate(self, req: Request) -> tuple[str, frozenset[str]]:
        """(credential the rate limit counts against, scopes) or a 401 _ApiError."""
        scheme, _, token = (req.header("authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            scopes = API_KEYS.get(token)
            if scopes is not None:
                return f"key:{token}", scopes
            with self._lock:
                access = self._access.get(token)
            if access is not None:
                if time.monotonic() >= access.expires:
                    raise _ApiError(401, "token_expired", "Access token expired")
                return f"user:{access.user}", access.scopes
        raise _ApiError(401, "invalid_api_key", INVALID_API_KEY_MESSAGE)

    def _rate(self, credential: str) -> tuple[dict[str, str], bool]:
        """Count one request; (X-RateLimit-* headers, allowed)."""
        limit = self.rate_limit_per_min
        if limit is None:
            return {}, True
        now = time.monotonic()
        with self._lock:
            start, count = self._windows.get(credential, (now, 0))
            if now >= start + self.rate_window_s:
                start, count = now, 0
            allowed = count < limit
            if allowed:
                count += 1
            else:
                self.rate_limited += 1
            self._windows[credential] = (start, count)
        left = start + self.rate_window_s - now
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(limit - count),
            "X-RateLimit-Reset": str(math.ceil(time.time() + left)),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(left)))
        return headers, allowed

    # -- request handling ----------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """The app: OAuth endpoints under /oauth, the API (A) under /v1, the hosted
        backend (B) everywhere else."""
        path = req.path.rstrip("/") or "/"
        method = "GET" if req.method == "HEAD" else req.method
        if path == "/oauth/token":
            if method != "POST":
                return _oauth_error(405, "invalid_request", "Use POST", {"Allow": "POST"})
            return self._token_endpoint(req)
        if path == "/oauth/authorize":
            if method != "GET":
                return _oauth_error(405, "invalid_request", "Use GET", {"Allow": "GET"})
            return self._authorize(req)
        if path != "/v1" and not path.startswith("/v1/"):
            return self.backend.handle(req, path, method)
        headers: dict[str, str] = {}
        try:
            credential, scopes = self._authenticate(req)
            headers, allowed = self._rate(credential)
            if not allowed:
                raise _ApiError(429, "rate_limit", "Rate limit exceeded")
            if "read" not in scopes:
                raise _ApiError(403, "insufficient_scope", "This request requires the 'read' scope")
            if method != "GET":
                headers["Allow"] = "GET, HEAD"
                raise _ApiError(405, "method_not_allowed", f"Method {req.method} not allowed")
            response = self._route(req, path.split("/")[2:])
        except _ApiError as exc:
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="api", error="invalid_token"'
            response = json_response(exc.status, api_error(exc.status, exc.code, exc.message))
        response.headers.update(headers)
        return response

    def _route(self, req: Request, parts: list[str]) -> Response:
        n = len(parts)
        head = parts[0] if parts else ""
        resource = head
        if head == "conversations" and n == 3 and parts[2] == "messages":
            if "messages" in self.missing:
                raise _not_found("Resource 'messages' is not available for this account")
        elif head not in RESOURCES or head == "messages" or n > (1 if head == "usage" else 2):
            raise _not_found()
        if resource in self.missing:
            raise _not_found(f"Resource '{resource}' is not available for this account")
        if head == "usage":
            return self._list_usage(req)
        if n == 2:
            return json_response(200, self._get(head, parts[1]))
        if n == 3:
            return self._list_messages(req, parts[1])
        filters = {"conversations": "agent_id", "memories": "namespace", "runs": "agent_id"}
        field = filters.get(head)
        value = (req.q(field) or "").strip() if field else ""
        return self._list(req, head, field if value else None, value, "updated_after")

    # -- lists ---------------------------------------------------------------------------

    def _get(self, resource: str, ident: str) -> dict[str, Any]:
        with self._lock:
            index = self._by_id.get(resource)
            if index is None:
                index = {r["id"]: r for r in self.data[resource]}
                self._by_id[resource] = index
        record = index.get(ident)
        if record is None:
            singular = resource[:-1].capitalize()
            raise _not_found(f"{singular} '{ident}' not found")
        return record

    def _view_of(
        self, resource: str, order: str, field: str | None, value: str, records: Callable
    ) -> _View:
        key = (resource, order, field or "", value)
        with self._lock:
            view = self._views.get(key)
            if view is None:
                rows = [r for r in records() if field is None or r.get(field) == value]
                view = _view(rows, lambda r: (dg.ms_of(r[order]), r["id"]))
                self._views[key] = view
            return view

    @staticmethod
    def _limit(req: Request) -> int:
        raw = req.q("limit")
        if raw is None or raw.strip() == "":
            return DEFAULT_LIMIT
        try:
            value = int(raw.strip())
        except ValueError:
            raise _bad("'limit' must be an integer between 1 and 100") from None
        if not 1 <= value <= MAX_LIMIT:
            raise _bad("'limit' must be an integer between 1 and 100")
        return value

    @staticmethod
    def _envelope(blobs: list[bytes], next_cursor: str | None) -> Response:
        body = b'{"data":[%b],"has_more":%b,"next_cursor":%b}' % (
            b",".join(blobs),
            b"true" if next_cursor else b"false",
            orjson.dumps(next_cursor),
        )
        return json_response(200, body)

    def _page(
        self,
        req: Request,
        view: _View,
        tag: str,
        *,
        ascending: bool,
        lo: int = 0,
        hi: int | None = None,
    ) -> Response:
        """One page of ``view[lo:hi]`` walked up (or down) from the request's cursor."""
        limit = self._limit(req)
        keys = view.keys
        hi = len(keys) if hi is None else hi
        cursor = req.q("cursor")
        position = decode_cursor(cursor, tag) if cursor else None
        if ascending:
            start = max(lo, bisect_right(keys, position)) if position else lo
            stop = min(hi, start + limit)
            picked = range(start, stop)
            more = stop < hi
        else:
            end = min(hi, bisect_left(keys, position)) if position else hi
            start = max(lo, end - limit)
            picked = range(end - 1, start - 1, -1)
            more = start > lo
        blobs = [view.blobs[i] for i in picked]
        next_cursor = encode_cursor(tag, keys[picked[-1]]) if more and blobs else None
        return self._envelope(blobs, next_cursor)

    def _list(
        self, req: Request, resource: str, field: str | None, value: str, after_param: str
    ) -> Response:
        records = lambda: self.data[resource]  # noqa: E731
        raw_after = req.q(after_param)
        if raw_after is not None and raw_after.strip():
            threshold_ms = _parse_instant_us(raw_after, after_param) // 1000
            view = self._view_of(resource, "updated_at", field, value, records)
            lo = bisect_left(view.keys, (threshold_ms + 1,))
            return self._page(req, view, f"{resource}:u", ascending=True, lo=lo)
        view = self._view_of(resource, "created_at", field, value, records)
        return self._page(req, view, f"{resource}:c", ascending=False)

    def _list_messages(self, req: Request, conv_id: str) -> Response:
        self._get("conversations", conv_id)  # 404 for an unknown conversation
        records = lambda: self.data["messages"]  # noqa: E731
        view = self._view_of("messages", "created_at", "conversation_id", conv_id, records)
        tag = f"messages:{conv_id}"
        raw_after = req.q("created_after")
        if raw_after is not None and raw_after.strip():
            threshold_ms = _parse_instant_us(raw_after, "created_after") // 1000
            lo = bisect_left(view.keys, (threshold_ms + 1,))
            return self._page(req, view, f"{tag}:a", ascending=True, lo=lo)
        return self._page(req, view, f"{tag}:d", ascending=False)

    def _list_usage(self, req: Request) -> Response:
        start = _parse_date(req.q("start_date"), "start_date")
        end = _parse_date(req.q("end_date"), "end_date")
        if start > end:
            raise _bad("'start_date' must not be after 'end_date'")
        key = ("usage", "date")
        with self._lock:
            view = self._views.get(key)
            if view is None:
                view = _view(
                    self.data["usage"],
                    lambda r: (date.fromisoformat(r["date"]).toordinal(), r["model"]),
                )
                self._views[key] = view
        lo = bisect_left(view.keys, (start.toordinal(),))
        hi = bisect_left(view.keys, (end.toordinal() + 1,))
        return self._page(req, view, "usage", ascending=True, lo=lo, hi=hi)
