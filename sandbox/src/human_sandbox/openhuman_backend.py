"""Contract (B) of shared/specs/openhuman.md: the hosted TinyHumans backend, which
:class:`human_sandbox.openhuman.OpenHumanEmulator` serves beside contract (A).

From the vendor's official SDK (github.com/tinyhumansai/sdk) and the product's own client
(tinyhumansai/openhuman ``src/api/rest.rs``), reproduced as they are written:

- Routes at the root, no ``/v1`` prefix: ``/auth/me``, ``/teams``, ``/medulla/v1/…``,
  ``/memory/documents``, ``/openai/v1/models``...
- ``Authorization: Bearer <token>`` (a user's JWT or issued token) on every route, and
  ``x-api-key: <key>`` on "some machine routes"; API-key scopes are read, write, inference.
- The envelope ``{"success": true, "data": …}``; a failure ``{"success": false, "error" |
  "message", "errorCode", "details"}``, *not always with a non-2xx status* (the SDK checks
  ``success`` on a 200 too). ``/openai/v1/*`` answers in OpenAI's own shape, without it.
- ``limit``/``offset`` on the paged lists (memory documents, credit transactions); the
  other lists are bare arrays in ``data`` (tasks, workflows and the roster one level down:
  ``{tasks: […]}``, ``{workflows: […]}``, ``{workers: […]}``; memory ``{documents: […]}``;
  integrations ``{integrations: […]}``).
- The fields the SDK types document: SessionSummary, Message, EventEnvelope, Task,
  WorkflowDescriptor, RosterWorker, OrchestrationEvent, IntegrationSummary, the memory
  document; ``lastActiveAt``, ``ts``, ``at``, ``cooldownUntil`` and OpenAI's ``created`` are
  Unix seconds.

ASSUMPTIONS (invented here, and marked so in the tap's README): which routes count as
"machine routes" (``/medulla``, ``/orchestration``, ``/memory``, ``/openai``; ``/openai``
needs the inference scope, the others read), the error codes and messages, ``limit``
20 by default and at most 100, newest-first order of the paged lists, the fields of every
object the SDK types as a dynamic response (the user, API keys, budgets, spend caps,
teams, members, invites, usage, credit balance and transactions, the current plan,
orchestration sessions, webhook tunnels), and that an API key listing and a webhook tunnel
carry their secret (``key``, ``signingSecret``): a careless API may, and the tap must not
pass them on.

Data is deterministic from ``seed`` and ``size`` (the emulator's number of agents).
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Collection
from typing import Any

from human_sandbox import datagen as dg
from human_sandbox.core import Request, Response, json_response
from human_sandbox.drift import Drift, drift_records

#: A user's bearer token for the backend (a fake JWT: not a secret).
BACKEND_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfdGVzdF9iYWNrZW5kIn0.dGVzdF9zaWduYXR1cmVfOWYx"

#: Seconds from the Unix epoch to the datagen anchor (2023-01-01T00:00:00Z).
ANCHOR_S = 1_672_531_200
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
#: Route prefixes that accept `x-api-key` (assumed) and the scope each needs.
MACHINE_ROUTES = {"/medulla/": "read", "/orchestration/": "read", "/memory/": "read"}
MACHINE_ROUTES["/openai/"] = "inference"

#: Routes with one list or object each, by stream.
STATIC: dict[str, str] = {
    "/auth/me": "me",
    "/auth/integrations": "integrations",
    "/api-keys": "api_keys",
    "/budgets": "budgets",
    "/spend-caps": "spend_caps",
    "/teams": "teams",
    "/teams/me/usage": "team_usage",
    "/payments/credits/balance": "credit_balance",
    "/payments/credits/transactions": "credit_transactions",
    "/payments/stripe/currentPlan": "current_plan",
    "/medulla/v1/sessions": "sessions",
    "/medulla/v1/tasks": "tasks",
    "/medulla/v1/workflows": "workflows",
    "/medulla/v1/roster": "roster",
    "/orchestration/v1/sessions": "orchestration_sessions",
    "/memory/documents": "memory_documents",
    "/webhooks/core": "webhooks",
    "/openai/v1/models": "models",
}
#: A list per parent record: (path pattern, stream, the parent stream).
CHILDREN: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"/teams/([^/]+)/members"), "team_members", "teams"),
    (re.compile(r"/teams/([^/]+)/invites"), "team_invites", "teams"),
    (re.compile(r"/medulla/v1/sessions/([^/]+)/messages"), "session_messages", "sessions"),
    (re.compile(r"/medulla/v1/sessions/([^/]+)/events"), "session_events", "sessions"),
    (
        re.compile(r"/orchestration/v1/sessions/([^/]+)/messages"),
        "orchestration_session_messages",
        "orchestration_sessions",
    ),
)
#: One record by id: (path pattern, stream, id field).
DETAILS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"/teams/([^/]+)"), "teams", "id"),
    (re.compile(r"/webhooks/core/([^/]+)"), "webhooks", "id"),
    (re.compile(r"/memory/documents/([^/]+)"), "memory_documents", "document_id"),
)
#: The objects (one record each) and the wrappers the lists come in, as the SDK has them.
OBJECTS = ("me", "spend_caps", "team_usage", "credit_balance", "current_plan")
WRAPPED = {
    "integrations": "integrations",
    "tasks": "tasks",
    "workflows": "workflows",
    "roster": "workers",
    "memory_documents": "documents",
}
PAGED = ("credit_transactions", "memory_documents")
#: The field a child record's parent is known by, and the parent's id field.
PARENT_KEYS = {"teams": ("teamId", "id"), "sessions": ("sessionId", "sessionId")}
PARENT_KEYS["orchestration_sessions"] = ("sessionId", "sessionId")
RESOURCES = (*STATIC.values(), *(stream for _, stream, _ in CHILDREN))
#: Drift mode: nested objects that gain undeclared fields, fields with documented values.
DRIFT = {
    "api_keys": Drift(nested=("spendCaps",)),
    "budgets": Drift(nested=("seats[]",)),
    "team_usage": Drift(nested=("byModel[]",)),
    "current_plan": Drift(enums={"plan"}),
    "sessions": Drift(enums={"status"}),
    "session_messages": Drift(enums={"role"}),
    "session_events": Drift(nested=("event",), enums={"kind"}),
    "tasks": Drift(nested=("recurrence", "source"), enums={"status", "frequency"}),
    "roster": Drift(nested=("budgets[]",)),
    "orchestration_session_messages": Drift(enums={"role"}),
}

# fmt: off
_PROVIDERS = ("google", "slack", "notion", "github", "gmail", "linear", "telegram", "discord")
_TEAM_NAMES = ("Platform", "Research", "Growth", "Support", "Nordlys AS", "Müller GmbH", "東京")
_TASK_TITLES = (
    "Triage the support inbox", "Draft the weekly investor note", "Review open pull requests",
    "Summarise the Lisbon offsite notes", "Renew the Müller GmbH contract",
    "Prepare the Q3 roadmap review", "Clean up the Memory Tree", "Follow up with Nordlys AS",
)
_SESSION_TITLES = (
    "Inbox zero", "Hiring plan", "Roadmap Q3", "Travel: Berlin", None, "Customer call prep",
    "Research: agents and memory", "Traducción",
)
_USER_LINES = (
    "What is on my calendar tomorrow?", "Summarise the thread with Nordlys AS.",
    "Draft a reply to the offsite email.", "Find the invoice from Müller GmbH.",
)
_ASSISTANT_LINES = (
    "You have three meetings; the first is at 09:30.", "Done: the draft is in your outbox.",
    "The invoice total is €1 240,50 including VAT.", "Here is a summary in five bullet points.",
)
_NAMESPACES = ("default", "work", "personal", "research", "support")
_DOC_TITLES = (
    "Weekly sync notes", "Contract renewal thread", "Onboarding checklist", "Search v2 spec",
    "Berlin offsite plan", "Reading list: agents", "Nordlys AS call", "Recettes d'été",
)
_MODELS = (
    ("claude-3-5-sonnet", "anthropic"), ("gpt-4o", "openai"), ("gpt-4o-mini", "openai"),
    ("llama-3.1-70b", "meta"), ("neocortex-1", "tinyhumans"),
)
_HARNESSES = ("claude-code", "codex", "openhuman", None)
_SEAT_PLANS = ("BASIC", "PRO")
_PLANS = ("BASIC_MONTHLY", "BASIC_YEARLY", "PRO_MONTHLY", "PRO_YEARLY")
# fmt: on

#: Activity lies in 2024-2025 (days after the datagen anchor).
LO_DAY = 365
HI_DAY = dg.SPAN_DAYS


def unix_s(ms: int) -> int:
    """Unix seconds of `ms` milliseconds after the datagen anchor."""
    return ANCHOR_S + ms // 1000


class _Fail(Exception):
    """An error answer of the backend (ASSUMED codes and messages)."""

    def __init__(
        self, status: int, code: str, message: str, key: str = "error", **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.key, self.extra = (
            status,
            code,
            message,
            key,
            extra,
        )

    def response(self) -> Response:
        body = {"success": False, self.key: self.message, "errorCode": self.code, **self.extra}
        headers = {"WWW-Authenticate": 'Bearer realm="tinyhumans"'} if self.status == 401 else {}
        return json_response(self.status, body, headers)


class _Builder:
    """Builds the dataset; each resource draws from an rng stream of its own."""

    def __init__(self, seed: int, size: int) -> None:
        self.seed, self.size = seed, size
        self.user_id = self.rng("user").randbytes(12).hex()

    def rng(self, *labels: str) -> Any:
        return dg.sub_rng(self.seed, "backend", *labels)

    def build(self) -> tuple[dict[str, Any], dict[str, dict[str, list[dict]]]]:
        """(stream -> its object or list, child stream -> parent id -> list)."""
        n = self.size
        top: dict[str, Any] = {}
        children: dict[str, dict[str, list[dict]]] = {s: {} for _, s, _ in CHILDREN}
        teams = [self.team(i) for i in range(1 + n // 8)]
        top["teams"] = teams
        for team in teams:
            members, invites = self.team_people(team)
            children["team_members"][team["id"]] = members
            children["team_invites"][team["id"]] = invites
        top["me"] = self.me(teams)
        top["integrations"] = [self.integration(i) for i in range(2 + n // 6)]
        top["api_keys"] = [self.api_key(i) for i in range(1 + n // 5)]
        top["budgets"] = [self.budget(team) for team in teams]
        top["spend_caps"] = self.spend_caps()
        top["team_usage"] = self.team_usage(teams[0])
        transactions = [self.transaction(i) for i in range(3 * n)]
        top["credit_transactions"] = transactions
        top["credit_balance"] = self.credit_balance(transactions)
        top["current_plan"] = self.current_plan()
        sessions = []
        for i in range(n):
            session, messages, events = self.session(i)
            sessions.append(session)
            children["session_messages"][session["sessionId"]] = messages
            children["session_events"][session["sessionId"]] = events
        top["sessions"] = sessions
        top["tasks"] = [self.task(i) for i in range(n)]
        top["workflows"] = [self.workflow(i) for i in range(1 + n // 4)]
        top["roster"] = [self.worker(i) for i in range(1 + n // 6)]
        orchestration = []
        for i in range(1 + n // 3):
            session, messages = self.orchestration_session(i)
            orchestration.append(session)
            children["orchestration_session_messages"][session["sessionId"]] = messages
        top["orchestration_sessions"] = orchestration
        top["memory_documents"] = [self.document(i) for i in range(2 * n)]
        top["webhooks"] = [self.webhook(i) for i in range(1 + n // 6)]
        top["models"] = [self.model(i) for i in range(len(_MODELS))]
        return top, children

    # -- account and teams --------------------------------------------------------------

    def me(self, teams: list[dict]) -> dict[str, Any]:
        rng = self.rng("me")
        first, last = dg.person_name(rng)
        created, updated = dg.created_updated(rng, 0, LO_DAY)
        return {
            "id": self.user_id,
            "email": dg.email(first, last, "example.com"),
            "firstName": first,
            "lastName": last,
            "username": dg.ascii_slug(first + last),
            "activeTeamId": teams[0]["id"],
            "createdAt": dg.iso_ms(created),
            "updatedAt": dg.iso_ms(updated),
        }

    def integration(self, i: int) -> dict[str, Any]:
        rng = self.rng("integration", str(i))
        return {
            "id": rng.randbytes(12).hex(),
            "provider": _PROVIDERS[i % len(_PROVIDERS)],
            "createdAt": dg.iso_ms(dg.timestamp_ms(rng, LO_DAY, HI_DAY)),
        }

    def api_key(self, i: int) -> dict[str, Any]:
        rng = self.rng("api_key", str(i))
        secret = "thk_live_" + dg.make_id(rng, 32)
        created = dg.timestamp_ms(rng, LO_DAY, HI_DAY - 30)
        scopes = ["read", "write", "inference"][: 1 + int(rng.random() * 3)]
        return {
            "id": "key_" + dg.make_id(rng, 16),
            "name": f"{dg.pick(rng, ('CI', 'Laptop', 'Zapier', 'Cron', 'Medulla'))} key {i + 1}",
            "key": secret,  # the secret value: a careless API sends it back (assumed)
            "prefix": secret[:13],
            "scopes": scopes,
            "allowedIps": ["203.0.113.0/24"] if rng.random() < 0.3 else [],
            "expiresAt": dg.maybe(rng, 0.4, dg.iso_ms(created + 365 * dg.DAY_MS)),
            "createdAt": dg.iso_ms(created),
            "lastUsedAt": dg.maybe(rng, 0.7, dg.iso_ms(created + dg.amount(rng, 1, 20) * 3600_000)),
            "spendCaps": {
                "dailyUsd": dg.maybe(rng, 0.5, float(dg.amount(rng, 5, 50))),
                "monthlyUsd": dg.maybe(rng, 0.6, float(dg.amount(rng, 50, 500, 10))),
            },
        }

    def team(self, i: int) -> dict[str, Any]:
        rng = self.rng("team", str(i))
        name = _TEAM_NAMES[i % len(_TEAM_NAMES)]
        return {
            "id": rng.randbytes(12).hex(),
            "name": name,
            "slug": dg.ascii_slug(name) or f"team{i}",
            "role": "owner" if i == 0 else dg.pick(rng, ("admin", "member")),
            "memberCount": 0,  # set once its members exist
            "plan": dg.pick(rng, ("FREE", "PRO", "TEAM")),
            "createdAt": dg.iso_ms(dg.timestamp_ms(rng, LO_DAY, HI_DAY - 60)),
        }

    def team_people(self, team: dict) -> tuple[list[dict], list[dict]]:
        rng = self.rng("team_people", team["id"])
        members = []
        for j in range(2 + int(rng.random() * 4)):
            first, last = dg.person_name(rng)
            user = self.user_id if j == 0 else rng.randbytes(12).hex()
            members.append(
                {
                    "userId": user,
                    "email": dg.email(first, last, "example.com", j),
                    "name": f"{first} {last}",
                    "role": team["role"] if j == 0 else dg.pick(rng, ("admin", "member")),
                    "joinedAt": dg.iso_ms(dg.timestamp_ms(rng, LO_DAY, HI_DAY)),
                }
            )
        team["memberCount"] = len(members)
        invites = []
        for _ in range(1 + int(rng.random() * 3)):
            created = dg.timestamp_ms(rng, LO_DAY, HI_DAY - 10)
            first, last = dg.person_name(rng)
            invites.append(
                {
                    "id": rng.randbytes(12).hex(),
                    "email": dg.maybe(rng, 0.6, dg.email(first, last, "example.org")),
                    "role": "member",
                    "maxUses": dg.pick(rng, (1, 5, 10)),
                    "uses": int(rng.random() * 2),
                    "createdBy": self.user_id,
                    "expiresAt": dg.iso_ms(created + 7 * dg.DAY_MS),
                    "createdAt": dg.iso_ms(created),
                }
            )
        return members, invites

    def budget(self, team: dict) -> dict[str, Any]:
        rng = self.rng("budget", team["id"])
        limit = float(dg.amount(rng, 100, 2000, 50))
        seats = [
            {
                "id": "seat_" + dg.make_id(rng, 12),
                "plan": dg.pick(rng, _SEAT_PLANS),
                "priority": k + 1,
                "agentIds": ["agt_" + dg.make_id(rng) for _ in range(int(rng.random() * 3))],
                "enabled": rng.random() < 0.8,
            }
            for k in range(1 + int(rng.random() * 3))
        ]
        return {
            "id": "bdg_" + dg.make_id(rng, 16),
            "teamId": team["id"],
            "period": "monthly",
            "limitUsd": limit,
            "spentUsd": round(limit * rng.random(), 2),
            "cycleStart": "2025-12-01T00:00:00.000Z",
            "cycleEnd": "2026-01-01T00:00:00.000Z",
            "seats": seats,
        }

    def spend_caps(self) -> dict[str, Any]:
        rng = self.rng("spend_caps")
        return {
            "dailyLimitUsd": float(dg.amount(rng, 10, 100, 5)),
            "monthlyLimitUsd": float(dg.amount(rng, 100, 1000, 50)),
            "dailySpentUsd": round(rng.random() * 10, 2),
            "monthlySpentUsd": round(rng.random() * 100, 2),
            "updatedAt": dg.iso_ms(dg.timestamp_ms(rng, HI_DAY - 30, HI_DAY)),
        }

    def team_usage(self, team: dict) -> dict[str, Any]:
        rng = self.rng("team_usage")
        by_model = []
        for name, _owner in _MODELS[: 2 + int(rng.random() * 3)]:
            by_model.append(
                {
                    "model": name,
                    "requests": dg.amount(rng, 10, 5000),
                    "spentUsd": round(rng.random() * 80, 2),
                }
            )
        spent = round(sum(m["spentUsd"] for m in by_model), 2)
        budget = float(dg.amount(rng, 300, 3000, 100))
        return {
            "teamId": team["id"],
            "cycleStart": "2025-12-01T00:00:00.000Z",
            "cycleEnd": "2026-01-01T00:00:00.000Z",
            "requests": sum(m["requests"] for m in by_model),
            "spentUsd": spent,
            "budgetUsd": budget,
            "remainingUsd": round(budget - spent, 2),
            "byModel": by_model,
        }

    # -- billing ------------------------------------------------------------------------

    def transaction(self, i: int) -> dict[str, Any]:
        rng = self.rng("transaction", str(i))
        kind = dg.pick(rng, ("usage",) * 6 + ("topUp", "topUp", "refund", "grant"))
        amount = round(rng.random() * (50 if kind != "usage" else 2), 2) + 0.01
        return {
            "id": "ctx_" + dg.make_id(rng, 16),
            "type": kind,
            "amountUsd": -amount if kind == "usage" else amount,
            "description": {
                "usage": "Inference usage",
                "topUp": "Credit top-up",
                "refund": "Refund",
                "grant": "Promotional credit",
            }[kind],
            "gateway": dg.pick(rng, ("stripe", "coinbase")) if kind == "topUp" else None,
            "createdAt": dg.iso_ms(dg.timestamp_ms(rng, LO_DAY, HI_DAY)),
        }

    @staticmethod
    def credit_balance(transactions: list[dict]) -> dict[str, Any]:
        balance = round(100 + sum(t["amountUsd"] for t in transactions), 2)
        last = max((t["createdAt"] for t in transactions), default="2025-01-01T00:00:00.000Z")
        return {"balanceUsd": balance, "currency": "USD", "autoRecharge": False, "updatedAt": last}

    def current_plan(self) -> dict[str, Any]:
        rng = self.rng("plan")
        plan = dg.pick(rng, _PLANS)
        return {
            "plan": plan,
            "status": "active",
            "interval": "year" if plan.endswith("YEARLY") else "month",
            "currentPeriodStart": "2025-12-01T00:00:00.000Z",
            "currentPeriodEnd": "2026-01-01T00:00:00.000Z",
            "cancelAtPeriodEnd": rng.random() < 0.2,
        }

    # -- agents' work -------------------------------------------------------------------

    def session(self, i: int) -> tuple[dict, list[dict], list[dict]]:
        rng = self.rng("session", str(i))
        session_id = "ses_" + dg.make_id(rng, 20)
        t = dg.timestamp_ms(rng, LO_DAY, HI_DAY - 3)
        messages: list[dict] = []
        events: list[dict] = []
        for k in range(2 + int(rng.random() * 5)):
            t += dg.amount(rng, 2_000, 900_000)
            role = "user" if k % 2 == 0 else "assistant"
            self.exchange(rng, messages, events, session=session_id, role=role, t=t)
        session = {
            "sessionId": session_id,
            "title": _SESSION_TITLES[i % len(_SESSION_TITLES)],
            "lastActiveAt": unix_s(t),
            "status": dg.pick(rng, ("active", "idle", "idle", "archived")),
            "lastSeq": messages[-1]["seq"],
        }
        return session, messages, events

    @staticmethod
    def exchange(
        rng: Any, messages: list[dict], events: list[dict], *, session: str, role: str, t: int
    ) -> None:
        """One message of `session` at `t`, and its events (with a cycle around an
        assistant's answer)."""
        cycle = "cyc_" + dg.make_id(rng, 12)
        body = dg.pick(rng, _USER_LINES if role == "user" else _ASSISTANT_LINES)
        seq = len(messages) + 1
        messages.append({"seq": seq, "role": role, "body": body, "ts": unix_s(t), "cycleId": cycle})
        kinds: list[dict[str, Any]] = [{"kind": role, "body": body}]
        if role == "assistant":
            duration = dg.amount(rng, 300, 9_000)
            kinds = [
                {"kind": "cycle_start", "cycleId": cycle},
                *kinds,
                {
                    "kind": "cycle_end",
                    "cycleId": cycle,
                    "passCount": dg.amount(rng, 1, 4),
                    "durationMs": duration,
                    "error": False,
                },
            ]
        for event in kinds:
            events.append(
                {
                    "seq": len(events) + 1,
                    "at": unix_s(t),
                    "sessionId": session,
                    "cycleId": cycle,
                    "event": event,
                }
            )

    def task(self, i: int) -> dict[str, Any]:
        rng = self.rng("task", str(i))
        created, updated = dg.created_updated(rng, LO_DAY, HI_DAY - 5)
        recurrence = None
        if rng.random() < 0.4:
            frequency = dg.pick(rng, ("daily", "weekly", "monthly", "everyDays"))
            recurrence = {
                "frequency": frequency,
                "intervalDays": dg.amount(rng, 2, 14) if frequency == "everyDays" else None,
                "nextAt": dg.iso_ms(updated + dg.DAY_MS),
            }
        source = None
        if rng.random() < 0.35:
            number = dg.amount(rng, 1, 900)
            source = {
                "provider": "github",
                "sourceId": f"tinyhumansai/openhuman#{number}",
                "url": f"https://github.com/tinyhumansai/openhuman/issues/{number}",
            }
        return {
            "id": "tsk_" + dg.make_id(rng, 16),
            "title": dg.pick(rng, _TASK_TITLES),
            "description": dg.pick(rng, _ASSISTANT_LINES),
            "status": dg.pick(rng, ("open", "open", "inProgress", "done", "cancelled")),
            "recurrence": recurrence,
            "source": source,
            "createdAt": dg.iso_ms(created),
            "updatedAt": dg.iso_ms(updated),
            "lastSyncedAt": dg.iso_ms(updated) if source else None,
            "dispatch": {"state": "queued", "attempts": 1} if rng.random() < 0.3 else None,
        }

    def workflow(self, i: int) -> dict[str, Any]:
        rng = self.rng("workflow", str(i))
        return {
            "id": "wf_" + dg.make_id(rng, 12),
            "name": dg.pick(rng, ("Morning briefing", "PR review", "Invoice filing", "Triage")),
            "description": dg.maybe(rng, 0.7, dg.pick(rng, _ASSISTANT_LINES)),
            "nodeCount": dg.amount(rng, 2, 30),
            "enabled": rng.random() < 0.8,
            "triggerKind": dg.pick(rng, ("manual", "cron", "webhook")),
            "agentId": "agt_" + dg.make_id(rng),
            "workspaceId": dg.maybe(rng, 0.5, "ws_" + dg.make_id(rng, 12)),
        }

    def worker(self, i: int) -> dict[str, Any]:
        rng = self.rng("worker", str(i))
        total = dg.amount(rng, 8, 64) * 1024**3
        budgets = [
            {
                "provider": dg.pick(rng, ("anthropic", "openai")),
                "window": dg.pick(rng, ("5h", "weekly")),
                "remainingTokens": dg.maybe(rng, 0.8, dg.amount(rng, 0, 2_000_000)),
                "limitTokens": dg.maybe(rng, 0.8, 2_000_000),
                "cooldownUntil": dg.maybe(
                    rng, 0.4, unix_s(dg.timestamp_ms(rng, HI_DAY - 2, HI_DAY))
                ),
                "source": "harness",
            }
            for _ in range(int(rng.random() * 3))
        ]
        return {
            "registryId": "wrk_" + dg.make_id(rng, 16),
            "label": f"worker-{i + 1}",
            "description": dg.pick(rng, ("Build box", "MacBook", "GPU node", "Home server")),
            "availability": dg.pick(rng, ("available", "busy", "offline")),
            "harness": dg.pick(rng, _HARNESSES),
            "address": f"10.0.0.{i + 10}:7400",
            "handle": dg.maybe(rng, 0.5, f"@worker{i + 1}"),
            "walletPeerId": dg.maybe(rng, 0.3, "12D3Koo" + dg.make_id(rng, 20)),
            "cpuCores": dg.pick(rng, (4, 8, 16, 32)),
            "totalMemBytes": total,
            "availableMemBytes": int(total * rng.random()),
            "primaryIpv4": f"192.168.1.{i + 20}",
            "tags": sorted(rng.sample(("gpu", "linux", "macos", "fast", "eu"), 2)),
            "selected": i == 0,
            "capabilities": {"tools": ["shell", "browser"], "maxContext": 200_000},
            "budgets": budgets,
        }

    def orchestration_session(self, i: int) -> tuple[dict, list[dict]]:
        rng = self.rng("orchestration", str(i))
        session_id = "orc_" + dg.make_id(rng, 20)
        t = created = dg.timestamp_ms(rng, LO_DAY, HI_DAY - 3)
        messages = []
        for k in range(2 + int(rng.random() * 4)):
            t += dg.amount(rng, 1_000, 600_000)
            role = "system" if k == 0 and rng.random() < 0.3 else ("user", "assistant")[k % 2]
            messages.append(
                {
                    "seq": k + 1,
                    "role": role,
                    "sender": "agt_" + dg.make_id(rng) if role != "user" else "operator",
                    "body": dg.pick(rng, _USER_LINES if role == "user" else _ASSISTANT_LINES),
                    "ts": unix_s(t),
                    "kind": "message",
                }
            )
        session = {
            "sessionId": session_id,
            "counterpartAgentId": "agt_" + dg.make_id(rng),
            "protocol": 1,
            "lastSeq": len(messages),
            "createdAt": dg.iso_ms(created),
            "updatedAt": dg.iso_ms(t),
        }
        return session, messages

    def document(self, i: int) -> dict[str, Any]:
        rng = self.rng("document", str(i))
        created, updated = dg.created_updated(rng, LO_DAY, HI_DAY)
        return {
            "document_id": dg.make_id(rng, 8).lower() + "-" + dg.make_id(rng, 12).lower(),
            "namespace": dg.pick(rng, _NAMESPACES),
            "title": dg.pick(rng, _DOC_TITLES),
            "chunk_count": dg.amount(rng, 1, 60),
            "created_at": dg.iso_ms(created),
            "updated_at": dg.iso_ms(updated),
            "user_id": self.user_id,
        }

    def webhook(self, i: int) -> dict[str, Any]:
        rng = self.rng("webhook", str(i))
        created, updated = dg.created_updated(rng, LO_DAY, HI_DAY)
        ident = "wh_" + dg.make_id(rng, 16)
        return {
            "id": ident,
            "name": dg.pick(rng, ("GitHub events", "Stripe", "Calendar", "Home Assistant")),
            "description": dg.maybe(rng, 0.6, "Forwards events to the local agent"),
            "isActive": rng.random() < 0.8,
            "url": f"https://hooks.tinyhumans.ai/t/{ident}",
            "signingSecret": "whsec_" + dg.make_id(rng, 32),  # a careless API sends it (assumed)
            "createdAt": dg.iso_ms(created),
            "updatedAt": dg.iso_ms(updated),
        }

    def model(self, i: int) -> dict[str, Any]:
        name, owner = _MODELS[i]
        rng = self.rng("model", name)
        return {
            "id": name,
            "object": "model",
            "created": unix_s(dg.timestamp_ms(rng, 0, LO_DAY)),
            "owned_by": owner,
        }


def _drifted(
    top: dict[str, Any], children: dict[str, dict[str, list[dict]]]
) -> tuple[dict[str, Any], dict[str, dict[str, list[dict]]]]:
    """The dataset as a later API version might send it (`human_sandbox.drift`)."""
    out: dict[str, Any] = {}
    for stream, value in top.items():
        rows = [value] if stream in OBJECTS else value
        changed = drift_records(rows, DRIFT.get(stream, Drift()))
        out[stream] = changed[0] if stream in OBJECTS else changed
    kids = {}
    for stream, by_parent in children.items():
        flat = [(parent, row) for parent, rows in by_parent.items() for row in rows]
        changed = drift_records([row for _, row in flat], DRIFT.get(stream, Drift()))
        regrouped: dict[str, list[dict]] = {parent: [] for parent in by_parent}
        for (parent, _), row in zip(flat, changed, strict=True):
            regrouped[parent].append(row)
        kids[stream] = regrouped
    return out, kids


class Backend:
    """The hosted backend's routes, served by `OpenHumanEmulator.handle` for every path
    outside `/v1` and `/oauth`.

    api_keys: `x-api-key` value -> its scopes. missing: streams whose routes answer 404;
    forbidden: 403; unsuccessful: 200 with `success: false`.
    """

    def __init__(
        self,
        *,
        seed: int,
        size: int,
        api_keys: dict[str, frozenset[str]],
        missing: Collection[str] = (),
        forbidden: Collection[str] = (),
        unsuccessful: Collection[str] = (),
        drift: bool = False,
    ) -> None:
        unknown = (set(forbidden) | set(unsuccessful)) - set(RESOURCES)
        if unknown:
            raise ValueError(f"unknown backend resources: {sorted(unknown)}")
        self.api_keys = api_keys
        self.missing = frozenset(missing)
        self.forbidden = frozenset(forbidden)
        self.unsuccessful = frozenset(unsuccessful)
        self.top, self.children = _Builder(seed, size).build()
        if drift:
            self.top, self.children = _drifted(self.top, self.children)
        self.seed = seed
        self._advances = 0
        self._lock = threading.RLock()

    # -- what tests read ----------------------------------------------------------------

    @property
    def data(self) -> dict[str, list[dict[str, Any]]]:
        """Every stream's records as served (an object as its one record), a child's with
        its parent's key added, as the tap emits it next to them."""
        with self._lock:
            out = {s: copy.deepcopy([v] if s in OBJECTS else v) for s, v in self.top.items()}
            for _, stream, parent in CHILDREN:
                key = PARENT_KEYS[parent][0]
                out[stream] = [
                    {**row, key: parent_id}
                    for parent_id, rows in self.children[stream].items()
                    for row in copy.deepcopy(rows)
                ]
            return out

    # -- changes between runs -----------------------------------------------------------

    def _latest_ms(self) -> int:
        """One whole second after the latest instant of the dataset."""
        latest = 0
        for rows in self.data.values():
            for row in rows:
                for key in ("lastActiveAt", "ts", "at"):
                    if isinstance(row.get(key), int):
                        latest = max(latest, (row[key] - ANCHOR_S) * 1000)
                for key in ("updatedAt", "updated_at", "createdAt"):
                    if isinstance(row.get(key), str):
                        latest = max(latest, dg.ms_of(row[key]))
        return (latest // 1000 + 1) * 1000

    def advance(self, n: int) -> dict[str, list[str]]:
        """`n` sessions get a new exchange (so a later `lastActiveAt` and new messages and
        events), `n` tasks and `n` memory documents an edit, all strictly later than
        anything before. Returns the ids changed, by stream."""
        with self._lock:
            self._advances += 1
            rng = dg.sub_rng(self.seed, "backend", "advance", str(self._advances))
            t = self._latest_ms()
            changed: dict[str, list[str]] = {"sessions": [], "tasks": [], "memory_documents": []}
            for session in rng.sample(self.top["sessions"], n):
                sid = session["sessionId"]
                messages = self.children["session_messages"][sid]
                events = self.children["session_events"][sid]
                for role in ("user", "assistant"):
                    _Builder.exchange(rng, messages, events, session=sid, role=role, t=t)
                session["lastActiveAt"] = unix_s(t)
                session["lastSeq"] = messages[-1]["seq"]
                changed["sessions"].append(sid)
            for task in rng.sample(self.top["tasks"], n):
                task["status"] = "done"
                task["updatedAt"] = dg.iso_ms(t)
                changed["tasks"].append(task["id"])
            for document in rng.sample(self.top["memory_documents"], n):
                document["chunk_count"] += 1
                document["updated_at"] = dg.iso_ms(t)
                changed["memory_documents"].append(document["document_id"])
            return changed

    # -- serving ------------------------------------------------------------------------

    def handle(self, req: Request, path: str, method: str) -> Response:
        try:
            self._authenticate(req, path)
            if method != "GET":
                raise _Fail(405, "METHOD_NOT_ALLOWED", f"Method {req.method} not allowed")
            return self._route(req, path)
        except _Fail as failure:
            return failure.response()

    def _authenticate(self, req: Request, path: str) -> None:
        scheme, _, token = (req.header("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            if token.strip() != BACKEND_TOKEN:
                raise _Fail(401, "INVALID_TOKEN", "Invalid or expired token")
            return
        key = (req.header("x-api-key") or "").strip()
        if not key:
            raise _Fail(401, "UNAUTHORIZED", "Authentication required")
        scopes = self.api_keys.get(key)
        if scopes is None:
            raise _Fail(401, "INVALID_API_KEY", "Invalid API key")
        needed = next((s for p, s in MACHINE_ROUTES.items() if path.startswith(p)), None)
        if needed is None:
            raise _Fail(401, "UNAUTHORIZED", "This route requires a bearer token, not an API key")
        if needed not in scopes:
            raise _Fail(403, "INSUFFICIENT_SCOPE", f"This API key lacks the '{needed}' scope")

    def _check(self, stream: str) -> None:
        if stream in self.missing:
            raise _Fail(404, "NOT_FOUND", "Route not found")
        if stream in self.forbidden:
            raise _Fail(403, "FORBIDDEN", "You do not have access to this resource")
        if stream in self.unsuccessful:
            raise _Fail(200, "UPSTREAM_UNAVAILABLE", f"{stream} is temporarily unavailable")

    def _route(self, req: Request, path: str) -> Response:
        stream = STATIC.get(path)
        if stream is not None:
            self._check(stream)
            return self._list(req, stream)
        for pattern, child, parent in CHILDREN:
            found = pattern.fullmatch(path)
            if found:
                self._check(child)
                with self._lock:
                    rows = self.children[child].get(found.group(1))
                if rows is None:
                    raise _Fail(404, "NOT_FOUND", f"{_singular(parent)} not found")
                return _ok(rows)
        for pattern, stream, id_field in DETAILS:
            found = pattern.fullmatch(path)
            if found:
                self._check(stream)
                return _ok(self._one(req, stream, id_field, found.group(1)))
        raise _Fail(404, "NOT_FOUND", "Route not found")

    def _one(self, req: Request, stream: str, id_field: str, ident: str) -> dict[str, Any]:
        namespace = req.q("namespace")
        with self._lock:
            for row in self.top[stream]:
                if row[id_field] == ident and namespace in (None, row.get("namespace")):
                    return dict(row)
        raise _Fail(404, "NOT_FOUND", f"{_singular(stream)} not found")

    def _list(self, req: Request, stream: str) -> Response:
        with self._lock:
            value = self.top[stream]
            if stream == "models":  # OpenAI's shape, without the envelope
                return json_response(200, {"object": "list", "data": value})
            if stream in OBJECTS:
                return _ok(value)
            rows: list[dict[str, Any]] = list(value)
        if stream in PAGED:
            rows = self._page(req, stream, rows)
        return _ok({WRAPPED[stream]: rows} if stream in WRAPPED else rows)

    def _page(self, req: Request, stream: str, rows: list[dict]) -> list[dict]:
        """Newest first, `?namespace=` for memory documents, then `limit`/`offset`."""
        limit = _integer(req.q("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _integer(req.q("offset"), "offset", 0, 0, None)
        if stream == "memory_documents":
            namespace = (req.q("namespace") or "").strip()
            rows = [r for r in rows if not namespace or r["namespace"] == namespace]
            rows.sort(key=lambda r: (r["created_at"], r["document_id"]), reverse=True)
        else:
            rows.sort(key=lambda r: (r["createdAt"], r["id"]), reverse=True)
        return rows[offset : offset + limit]


def _ok(data: Any) -> Response:
    return json_response(200, {"success": True, "data": data})


def _singular(stream: str) -> str:
    return _SINGULAR.get(stream, "Record")


_SINGULAR = {
    "teams": "Team",
    "sessions": "Session",
    "orchestration_sessions": "Session",
    "webhooks": "Webhook",
    "memory_documents": "Document",
}


def _integer(raw: str | None, name: str, default: int, lo: int, hi: int | None) -> int:
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = lo - 1
    if value < lo or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise _Fail(
            400,
            "VALIDATION_ERROR",
            f"'{name}' must be an integer {bounds}",
            key="message",
            details={"field": name},
        )
    return value
