"""Redact credentials from URIs before they reach a log line, an error message or an exception.

``redact_uri("http://bob:s3cret@mlflow:5000/?token=abc")`` → ``"http://***@mlflow:5000/?token=***"``.
:func:`mask_uri` also registers the secret parts with Airflow's secrets masker, so task logs hide them
wherever they appear (e.g. in a library's own error message).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters whose value is a credential (compared lower-case, by substring).
SECRET_KEYS = ("password", "passwd", "pwd", "secret", "token", "key", "signature", "sig", "credential", "auth", "sas")
_URI = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+")


def _secret_key(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_KEYS)


def secrets_of(uri: str) -> list[str]:
    """The credential parts of ``uri``: the userinfo's password (or a lone token) and secret query values."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, _, password = userinfo.partition(":")
        found.append(password or user)
    found += [value for key, value in parse_qsl(parts.query, keep_blank_values=True) if value and _secret_key(key)]
    return [s for s in found if s]


def redact_uri(uri: str | None) -> str:
    """``uri`` without userinfo (``***@host``) and with secret query values replaced by ``***``."""
    if not uri:
        return uri or ""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return MASK
    netloc, query, changed = parts.netloc, parts.query, False
    if "@" in netloc:
        netloc, changed = f"{MASK}@{netloc.rpartition('@')[2]}", True
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_key(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _secret_key(k) else v) for k, v in pairs], safe="*/:")
            changed = True
    if not changed:  # leave it byte for byte (urlunsplit would fold sqlite://// into sqlite://)
        return uri
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, *secrets: str | None) -> str:
    """``text`` with every URI in it redacted and each of ``secrets`` (e.g. a password) replaced by ``***``."""
    text = _URI.sub(lambda m: redact_uri(m.group(0)), str(text))
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def mask(*secrets: str | None) -> None:
    """Register ``secrets`` with Airflow's secrets masker (task logs print ``***`` instead)."""
    from airflow.sdk.log import mask_secret

    for secret in secrets:
        if secret:
            mask_secret(secret)


def mask_uri(uri: str | None) -> str:
    """Register the credential parts of ``uri`` with the secrets masker; returns :func:`redact_uri` of it."""
    if uri:
        mask(*secrets_of(uri))
    return redact_uri(uri)
