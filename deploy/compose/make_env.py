"""Print a complete .env with fresh random secrets: ``python deploy/compose/make_env.py > .env``.

Standard library only. Keys and order follow .env.example; user names other than the MinIO root keep their values.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def fresh_value(name: str) -> str:
    """A new secret for variable ``name`` (Fernet key for *FERNET_KEY, else 32 random bytes url-safe)."""
    if name.endswith("FERNET_KEY"):
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    return secrets.token_urlsafe(32)


def render(example: str) -> str:
    """``example`` (.env.example text) with every ``change-me`` value replaced by a fresh secret."""
    lines = []
    for line in example.splitlines():
        key, sep, value = line.partition("=")
        if sep and key == "MINIO_ROOT_USER":
            line = f"{key}=root-{secrets.token_hex(6)}"
        elif sep and not line.startswith("#") and value.startswith("change-me"):
            line = f"{key}={fresh_value(key)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(EXAMPLE.read_text()), end="")
