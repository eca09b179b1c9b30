"""OAuth2 authenticators: a cached access token, refreshed before it expires and once
after a 401, obtained through the tap's own transport (retries, rate limit, redaction).

`OAuth2Auth` holds everything grant-independent; a subclass says which grant it posts.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import stat
import threading
import time
import typing as t
from pathlib import Path
from urllib.parse import urlsplit

import requests

from taps_shared import redact
from taps_shared.auth import HumanAuth, basic_pair, credential
from taps_shared.errors import ConfigError, HTTPStatusError, ResponseError, TapError
from taps_shared.responses import json_body

ClientAuth = t.Literal["form", "json", "basic"]
#: Sends a prepared request with retries and error mapping; returns a 2xx response.
Send = t.Callable[[requests.PreparedRequest, str], requests.Response]

DEFAULT_EXPIRES_IN = 3600
MAX_SAFETY_MARGIN = 60.0
_logger = logging.getLogger(__name__)


class OAuth2Auth(HumanAuth):
    """Bearer access tokens from an OAuth2 token endpoint.

    The token is minted on first use, re-minted `refresh_margin` seconds before
    `expires_in` runs out, and re-minted once when the API answers 401.
    One instance serves every stream of a run; minting is serialised by a lock.
    """

    #: What to tell the user when the token endpoint refuses the credentials.
    rejection_hint = "check the client credentials"

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        send: Send,
        client_auth: ClientAuth = "form",
        scope: str | None = None,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = credential(client_id, "client_id")
        self.client_secret = credential(client_secret, "client_secret")
        self.client_auth = client_auth
        self.scope = scope
        self._send = send
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        redact.register(self.client_secret)
        self._basic = basic_pair(self.client_id, self.client_secret)

    def grant(self) -> dict[str, str]:
        """The grant-specific fields of the token request."""
        raise NotImplementedError

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._mint()
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def handle_unauthorized(self) -> bool:
        with self._lock:
            self._mint()
        return True

    def _mint(self) -> None:
        fields = {**self.grant(), **({"scope": self.scope} if self.scope else {})}
        headers = {"Accept": "application/json"}
        if self.client_auth == "basic":
            headers["Authorization"] = f"Basic {self._basic}"
        else:
            fields |= {"client_id": self.client_id, "client_secret": self.client_secret}
        body = {"json": fields} if self.client_auth == "json" else {"data": fields}
        request = requests.Request("POST", self.token_url, headers=headers, **body).prepare()
        try:
            response = self._send(request, "OAuth token request")
        except HTTPStatusError as exc:
            msg = f"{exc}: the token endpoint refused the request; {self.rejection_hint}"
            raise ConfigError(msg) from None
        payload = json_body(response)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            path = urlsplit(self.token_url).path
            msg = f"OAuth token request: POST {path} returned no access_token"
            raise ResponseError(msg)
        redact.register(token, payload.get("refresh_token"))
        self.on_token(payload)
        lifetime = _seconds(payload.get("expires_in"))
        self._token = token
        self._refresh_at = self._clock() + lifetime - refresh_margin(lifetime)

    def on_token(self, payload: dict[str, t.Any]) -> None:
        """Hook for grants that keep more of the token response (a rotated refresh token)."""


class ClientCredentialsAuth(OAuth2Auth):
    """The `client_credentials` grant: the client id and secret buy an access token."""

    rejection_hint = "check client_id and client_secret"

    def grant(self) -> dict[str, str]:
        return {"grant_type": "client_credentials"}


def refresh_margin(lifetime: float) -> float:
    """How long before a token's expiry to replace it: 60 s for ordinary lifetimes; for
    short ones a tenth, but at least half the lifetime up to 5 s, so that a slow moment
    (latency, a busy machine, clock skew) cannot let a token lapse in flight."""
    return min(MAX_SAFETY_MARGIN, max(lifetime / 10, min(5.0, lifetime / 2)))


def _seconds(value: t.Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return float(DEFAULT_EXPIRES_IN)
    return seconds if seconds > 0 else float(DEFAULT_EXPIRES_IN)


class RefreshTokenAuth(OAuth2Auth):
    """The `refresh_token` grant, keeping rotated refresh tokens.

    When the server answers with a new refresh token, it replaces the old one for the rest
    of the run and is written to `cache_path` when one is given; the next run reads it from
    there in preference to the configured token. With a cache, each refresh holds the
    cache's lock, re-reads the cache (another run sharing it may have rotated the token)
    and starts only once the cache is known to be writable, so two runs never spend the
    same token and a rotated token is never lost to an unwritable cache.
    """

    rejection_hint = "re-authorize to obtain a new refresh token"

    def __init__(self, *, refresh_token: str, cache_path: str | None = None, **kwargs: t.Any):
        super().__init__(**kwargs)
        self.cache = TokenCache(cache_path) if cache_path else None
        configured = credential(refresh_token, "refresh_token")
        self.refresh_token = (self.cache.read() if self.cache else None) or configured
        redact.register(refresh_token, self.refresh_token)

    def grant(self) -> dict[str, str]:
        return {"grant_type": "refresh_token", "refresh_token": self.refresh_token}

    def _mint(self) -> None:
        if self.cache is None:
            super()._mint()
            return
        with self.cache.locked():
            self.refresh_token = self.cache.read() or self.refresh_token
            redact.register(self.refresh_token)
            super()._mint()

    def on_token(self, payload: dict[str, t.Any]) -> None:
        rotated = payload.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self.refresh_token:
            self.refresh_token = rotated
            if self.cache:
                self.cache.write(rotated)


class TokenCache:
    """A refresh token kept in a file only its owner can read (JSON, mode 0600), with a
    lock file beside it (`<name>.lock`) that serialises refreshes across processes.

    Never through a symbolic link: a link at the cache path is refused (whoever planted it
    chose where the token goes), and the file is replaced atomically by a new one created
    exclusively under a random name (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600), so no file or
    link waiting at the temporary path is ever reused. A cache others can read is
    tightened to 0600, with a warning.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser()

    def read(self) -> str | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error(exc) from None
        try:
            with os.fdopen(fd, "rb") as handle:
                self._tighten(handle.fileno())
                text = handle.read()
        except OSError as exc:
            raise self._error(exc) from None
        try:
            data = json.loads(text)
        except ValueError:
            msg = f"token_cache_path {self.path} is not a readable token cache; remove it"
            raise ConfigError(msg) from None
        token = data.get("refresh_token") if isinstance(data, dict) else None
        return token if isinstance(token, str) and token else None

    def write(self, refresh_token: str) -> None:
        """Replace the file atomically, with one that never had wider permissions."""
        try:
            fd, temporary = self._create_temporary()
            try:
                with os.fdopen(fd, "w") as handle:
                    json.dump({"refresh_token": refresh_token}, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)  # the rename too survives a crash
            finally:
                os.close(folder)
        except OSError as exc:
            raise self._error(exc, lost=True) from None

    @contextlib.contextmanager
    def locked(self) -> t.Iterator[None]:
        """Hold the cache's lock, once the cache is known to be writable: a refresh token
        (or an authorization code) is spent only when its successor can be kept."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock = self.path.with_name(f"{self.path.name}.lock")
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise self._error(exc) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _logger.info(
                    "Another run is refreshing the token in token_cache_path %s: waiting",
                    self.path,
                )
                fcntl.flock(fd, fcntl.LOCK_EX)
            self.check_writable()
            yield
        finally:
            os.close(fd)  # releases the lock

    def check_writable(self) -> None:
        """Fail, naming the setting, unless a new cache file can replace this one."""
        if self.path.is_symlink():
            raise self._error(OSError(errno.ELOOP, "a symbolic link"))
        try:
            fd, temporary = self._create_temporary()
            os.close(fd)
            temporary.unlink()
        except OSError as exc:
            raise self._error(exc) from None

    def _create_temporary(self) -> tuple[int, Path]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        return os.open(temporary, flags, 0o600), temporary

    def _tighten(self, fd: int) -> None:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            os.fchmod(fd, 0o600)
            _logger.warning(
                "token_cache_path %s was open to others (mode %04o): now 0600",
                self.path,
                mode,
            )

    def _error(self, exc: OSError, *, lost: bool = False) -> ConfigError:
        """One line naming the setting, for a cache that cannot be used safely; `lost`
        when a rotated token could not be kept (the next run must re-authorize)."""
        if exc.errno == errno.ELOOP:
            msg = (
                f"token_cache_path {self.path} is a symbolic link; the token is never "
                "written through one: set token_cache_path to the file itself"
            )
        elif lost:
            msg = (
                f"token_cache_path {self.path}: the rotated refresh token could not be "
                f"written ({exc.strerror or type(exc).__name__}); re-authorize"
            )
        else:
            msg = (
                f"token_cache_path {self.path} cannot be used "
                f"({exc.strerror or type(exc).__name__}); no token was spent: "
                "point token_cache_path at a file in a writable folder"
            )
        return ConfigError(msg)


def exchange_code(
    *,
    token_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    send: Send,
) -> dict[str, t.Any]:
    """The authorization-code grant, run once to obtain a first refresh token."""
    fields = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    redact.register(client_secret, code)
    request = requests.Request("POST", token_url, data=fields).prepare()
    try:
        payload = json_body(send(request, "OAuth code exchange"))
    except HTTPStatusError as exc:
        msg = f"{exc}: the code was refused (codes are single-use and expire quickly)"
        raise ConfigError(msg) from None
    redact.register(payload.get("access_token"), payload.get("refresh_token"))
    return payload


class SubjectRefusedError(TapError):
    """The API will not issue a token for this subject (an end user): skip it, go on."""

    def __init__(self, subject: str, reason: str, *, first: bool) -> None:
        super().__init__(f"no access token for {subject}: {reason}")
        self.subject = subject
        self.reason = reason
        self.first = first


class SubjectTokens:
    """Access tokens per subject (one end user each), minted on demand and cached for the
    run; re-minted before `expires_in` runs out (`refresh_margin`) and once after
    a 401. `mint(subject)` returns the token response, or raises SubjectRefusedError; a
    refusal is remembered, so a subject is refused once per run, not once per stream."""

    def __init__(
        self,
        mint: t.Callable[[str], dict[str, t.Any]],
        *,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self._mint = mint
        self._clock = clock
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}  # one per subject: users mint in parallel
        self._tokens: dict[str, tuple[str, float]] = {}
        self._refused: dict[str, str] = {}

    def token(self, subject: str, *, renew: bool = False) -> str:
        with self._lock:
            lock = self._locks.setdefault(subject, threading.Lock())
        with lock:
            if subject in self._refused:
                raise SubjectRefusedError(subject, self._refused[subject], first=False)
            cached = self._tokens.get(subject)
            if renew or cached is None or self._clock() >= cached[1]:
                cached = self._issue(subject)
            return cached[0]

    def _issue(self, subject: str) -> tuple[str, float]:
        try:
            payload = self._mint(subject)
        except SubjectRefusedError as exc:
            self._refused[subject] = exc.reason
            raise
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise ResponseError(f"the token response for {subject} has no access_token")
        redact.register(token, payload.get("refresh_token"))
        lifetime = _seconds(payload.get("expires_in"))
        issued = (token, self._clock() + lifetime - refresh_margin(lifetime))
        self._tokens[subject] = issued
        return issued

    def auth(self, subject: str) -> SubjectBearerAuth:
        """The authenticator of requests made on behalf of `subject`."""
        return SubjectBearerAuth(self, subject)

    def outcome(self) -> tuple[int, dict[str, str]]:
        """How many subjects got a token this run, and why each refused one was refused."""
        with self._lock:
            return len(self._tokens), dict(self._refused)


class SubjectBearerAuth(HumanAuth):
    """`Authorization: Bearer <the subject's token>`; a 401 re-mints that token once."""

    def __init__(self, tokens: SubjectTokens, subject: str) -> None:
        self.tokens = tokens
        self.subject = subject

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.tokens.token(self.subject)}"
        return request

    def handle_unauthorized(self) -> bool:
        self.tokens.token(self.subject, renew=True)
        return True
