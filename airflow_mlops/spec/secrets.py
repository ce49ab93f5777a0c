"""Find credentials in a parsed spec: secret-named keys, URIs with userinfo or secret query keys, token shapes.

Every string is searched, keys included, wherever it sits and whatever whitespace surrounds it. A finding
names where and what kind of secret it is, never the secret itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Key names (after normalising case, camelCase and -/_/./space) whose last word(s) mean "this is a credential".
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "authorization",
        "auth",
        "bearer",
        "cookie",
        "signature",
        "sig",
    }
)
SECRET_PAIRS = frozenset({"api_key", "access_key", "secret_key", "private_key", "account_key", "signing_key"})
GLUED_SUFFIXES = tuple(sorted({w for w in SECRET_WORDS if len(w) >= 5} | {p.replace("_", "") for p in SECRET_PAIRS}))
# Query/fragment keys that carry a credential only inside a URL (``?key=…`` is a Google API key).
QUERY_ONLY = frozenset({"key", "code", "sas"})

_URI_USERINFO = re.compile(r"\b[a-z][a-z0-9+.\-]*://([^\s/?#]*)@", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"(^|[?&;#\s,{(\"'])([A-Za-z][A-Za-z0-9_.\-]*)\s*(=|:(?!\s|//))\s*([^\s&;,'\"}]+)")
_TOKEN_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")),
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("an API secret key (sk-…)", re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}")),
    ("a Stripe key", re.compile(r"\b[rs]k_(live|test)_[A-Za-z0-9]{16,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    ("a private key block", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("an HTTP Authorization value", re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/-]{16,}=*")),
)


def words(name: str) -> list[str]:
    """``"X-Amz-Signature"``, ``"clientSecret"``, ``" API key "`` → lower-case words."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name.strip())
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]


def secret_name(name: str, *, in_query: bool = False) -> bool:
    """Whether a key or parameter called ``name`` holds a credential, however it is spelled."""
    parts = words(name)
    if not parts:
        return False
    if parts[-1] in SECRET_WORDS or "_".join(parts[-2:]) in SECRET_PAIRS or "".join(parts[-2:]) in SECRET_WORDS:
        return True
    if parts[-1].endswith(GLUED_SUFFIXES):  # "accesstoken", "clientsecret", "dbpassword"
        return True
    return in_query and parts[-1] in QUERY_ONLY


def text_findings(text: str) -> list[str]:
    """Kinds of secret found in one string (empty when it looks clean). Never includes the secret."""
    found: list[str] = []
    for match in _URI_USERINFO.finditer(text):
        if match.group(1):
            found.append("a URI with a user name, password or token before '@'")
            break
    for match in _ASSIGNMENT.finditer(text):
        name, value = match.group(2), match.group(4)
        in_query = match.group(1) in ("?", "&", "#", ";")
        if value and secret_name(name, in_query=in_query):
            found.append(f"a credential assigned to {name[:40]!r}")
            break
    for kind, pattern in _TOKEN_SHAPES:
        if pattern.search(text):
            found.append(f"a value shaped like {kind}")
    return found


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return None


def _filled(value: Any) -> bool:
    """A value worth refusing under a secret-named key: a non-blank scalar, or a list holding one."""
    if value is None or isinstance(value, dict):
        return False
    if isinstance(value, list):
        return any(_filled(item) for item in value if not isinstance(item, list))
    text = _as_text(value)
    return bool(text.strip()) if text is not None else True


def findings(data: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    """``(location, kind, text)`` of every secret in a parsed document, keys and values alike.

    ``text`` is the offending key or value, for callers that must keep it out of other messages.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            key_text = _as_text(key)
            key_found = text_findings(key_text) if key_text is not None else []
            sub = (*loc, "<redacted>" if key_found else key)
            for kind in key_found:
                yield sub, f"key is {kind.removeprefix('a value shaped like ')}", key_text
            if key_text is not None and secret_name(key_text) and _filled(value):
                yield sub, f"{key_text.strip()[:40]!r} holds a credential", str(value)
            else:
                yield from findings(value, sub)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from findings(item, (*loc, i))
    else:
        text = _as_text(data)
        if text is not None:
            for kind in text_findings(text):
                yield loc, f"contains {kind}", text


def leaks(message: str, texts: set[str]) -> bool:
    """Whether ``message`` repeats one of the secret-bearing ``texts`` (or a fragment shaped like a secret)."""
    return bool(text_findings(message)) or any(t in message for t in texts)


def has_secret(value: Any) -> bool:
    """Whether ``value`` (any parsed YAML) holds something :func:`findings` reports."""
    return next(iter(findings(value)), None) is not None
