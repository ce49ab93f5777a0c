"""Refuse to start the compose stack with placeholder, short, reused or malformed secrets.

Run by the one-shot ``secrets-check`` service before anything else starts; every other service waits
for it to exit 0. ``check_secrets.py VAR [VAR ...]`` checks the named environment variables: names
ending in ``_PASSWORD``, ``_SECRET`` or ``_KEY`` as secrets, any other (a user name) only against
default and placeholder names. Prints one line per problem, never a value. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import sys
from collections.abc import Mapping, Sequence

SECRET_NAME = re.compile(r"(_PASSWORD|_SECRET|_KEY)$")
# Values shipped in .env.example, images' defaults and the usual guesses.
PLACEHOLDERS = frozenset(
    "change-me changeme change_me changeit airflow admin minioadmin minio postgres password passw0rd secret "
    "mlflow redis scores feast example default test root".split()
)
PLACEHOLDER_PARTS = ("change-me", "changeme", "change_me", "replace", "placeholder", "example")
MIN_LENGTH = 16
MIN_DISTINCT_CHARS = 8
# Secrets end up inside URLs and JSON connection strings: token_urlsafe's alphabet (and '=' for Fernet).
ALPHABET = re.compile(r"^[A-Za-z0-9_=-]+$")


def _fernet_ok(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def problems(env: Mapping[str, str], names: Sequence[str]) -> list[str]:  # noqa: C901  (one test per refusal, in order)
    """One message per refused variable among ``names`` (names only; values are never echoed)."""
    if not any(SECRET_NAME.search(n) for n in names):
        return ["no secret variable (*_PASSWORD, *_SECRET, *_KEY) named"]
    found: list[str] = []
    secrets = {n: env.get(n, "") for n in names if SECRET_NAME.search(n)}
    for name in (n for n in names if not SECRET_NAME.search(n)):
        value = env.get(name, "")
        if not value or value.lower() in PLACEHOLDERS or any(p in value.lower() for p in PLACEHOLDER_PARTS):
            found.append(f"{name} is unset or a placeholder/default name")
    for name, value in sorted(secrets.items()):
        low = value.lower()
        if not value:
            found.append(f"{name} is unset or empty")
        elif low in PLACEHOLDERS or any(p in low for p in PLACEHOLDER_PARTS):
            found.append(f"{name} is a placeholder")
        elif len(value) < MIN_LENGTH:
            found.append(f"{name} is shorter than {MIN_LENGTH} characters")
        elif len(set(value)) < MIN_DISTINCT_CHARS:
            found.append(f"{name} has fewer than {MIN_DISTINCT_CHARS} distinct characters")
        elif not ALPHABET.match(value):
            found.append(f"{name} has characters outside A-Z a-z 0-9 _ - = (use secrets.token_urlsafe)")
        elif name.endswith("FERNET_KEY") and not _fernet_ok(value):
            found.append(f"{name} is not a Fernet key (32 url-safe base64 bytes)")
    by_value: dict[str, list[str]] = {}
    for name, value in secrets.items():
        if value:
            by_value.setdefault(value, []).append(name)
    for names in by_value.values():
        if len(names) > 1:
            found.append(f"{', '.join(sorted(names))} share one value; each secret must be distinct")
    return found


def main(names: Sequence[str]) -> int:
    found = problems(os.environ, names)
    for line in found:
        print(f"refused: {line}", file=sys.stderr)
    if found:
        print("generate fresh values: python deploy/compose/make_env.py > .env (see docs/deploy.md)", file=sys.stderr)
        return 1
    print("secrets check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
