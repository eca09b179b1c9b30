"""Finding secrets in what a tap (or Meltano running it) printed.

Two checks: known secret values (configured, minted, sent), in any of the encodings a log
line could carry them; and credential shapes whose value is not masked (an Authorization
header, a bearer token, `access_token=...`), for logs where the values are not known.
Light on purpose: `scripts/reliability_report.py --scan-logs` uses it without the taps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import yaml

MASK = "****"
#: Credential shapes, as taps_shared.redact knows them; group "value" is the credential.
SHAPES = re.compile(
    r"(?i)authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token)?\s*(?P<value>[^\s,;'\")}\]]+)"
    r"|\bbearer\s+(?P<bearer>[A-Za-z0-9._~+/=-]{8,})"
    r"|(?:access_token|refresh_token|client_secret|api_key|apikey|signature)=(?P<param>[^&\s'\"]+)"
)


def forms(secret: str) -> set[str]:
    """Every form a secret can take in a log line: as sent (URL-encoded for a path or a
    query, form-encoded, JSON-escaped with or without ASCII escapes) and as a message may
    have made it (whitespace collapsed, or stripped: a trailing newline dropped)."""
    found = set()
    for text in {secret, secret.strip(), " ".join(secret.split())}:
        found |= {
            text,
            quote(text, safe=""),
            quote(text),
            quote_plus(text),
            json.dumps(text)[1:-1],
            json.dumps(text, ensure_ascii=False)[1:-1],
        }
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """`origin: line` for each secret that shows in `text`, in any of its `forms`."""
    found = []
    for secret, origin in secrets.items():
        for form in sorted(forms(secret)):
            at = text.find(form)
            if at >= 0:
                start = text.rfind("\n", 0, at) + 1
                end = text.find("\n", at)
                found.append(f"{origin}: {text[start : end if end >= 0 else None][:300]}")
                break
    return found


def unmasked_credentials(text: str) -> list[str]:
    """Lines holding a credential shape whose value is not the mask."""
    found = []
    for line in text.splitlines():
        for match in SHAPES.finditer(line):
            value = match.group("value") or match.group("bearer") or match.group("param") or ""
            if value and value.strip("*") and value.lower() not in ("bearer", "basic", "token"):
                found.append(line[:300])
                break
    return found


def meltano_secrets(meltano_yml: Path) -> dict[str, str]:
    """The values of every `sensitive` extractor setting set in any environment of a
    meltano.yml (the demo's sandbox holds the emulators' test credentials)."""
    project = yaml.safe_load(meltano_yml.read_text())
    sensitive = {
        (plugin["name"], setting["name"])
        for plugin in project.get("plugins", {}).get("extractors", [])
        for setting in plugin.get("settings", [])
        if setting.get("sensitive")
    }
    found = {}
    for environment in project.get("environments", []):
        plugins = (environment.get("config") or {}).get("plugins", {})
        for plugin in plugins.get("extractors", []):
            for key, value in (plugin.get("config") or {}).items():
                if (plugin["name"], key) in sensitive and isinstance(value, str):
                    found[value] = f"{environment['name']} {plugin['name']} {key}"
    return found


def scan_logs(folder: Path, secrets: dict[str, str]) -> dict[str, list[str]]:
    """Per log file under `folder`, what leaks: known secrets and unmasked credentials."""
    report = {}
    for path in sorted(folder.rglob("*.log")):
        text = path.read_text(errors="replace")
        found = leaks(text, secrets) + unmasked_credentials(text)
        if found:
            report[str(path)] = found
    return report
