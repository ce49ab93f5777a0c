"""docker-compose.yaml read as compose reads it: YAML, ``${VAR}`` interpolation against a .env, env lists.

No Docker engine runs here; tests/e2e/test_compose.py and the distributed harness (cluster.py) both read the
file through this module, so the services they start are the services users start.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parents[2]
COMPOSE = PROJECT / "docker-compose.yaml"
DEPLOY = PROJECT / "deploy" / "compose"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` (parsed compose YAML) with variables substituted as compose does; KeyError for ``:?``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        found = env.get(name, "")
        if m.group(2) in (":?", "?") and not found:
            raise KeyError(f"{name}: {m.group(3)}")
        if m.group(2) in (":-", "-") and not found:
            return m.group(3)
        return found

    return _VAR.sub(sub, value)


def referenced_variables(text: str) -> set[str]:
    """Names of the variables a compose file's text interpolates."""
    return {m.group(1) or m.group(4) for m in _VAR.finditer(text) if m.group(0) != "$$"}


def read_env(text: str) -> dict[str, str]:
    """A .env file's ``KEY=value`` pairs (comments skipped)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def make_dotenv() -> dict[str, str]:
    """A .env as the docs say to make one: deploy/compose/make_env.py, run for real."""
    out = subprocess.run([sys.executable, str(DEPLOY / "make_env.py")], capture_output=True, text=True, check=True)
    return read_env(out.stdout)


def load_raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def load(dotenv: Mapping[str, str]) -> dict:
    """docker-compose.yaml, interpolated against ``dotenv``."""
    return interpolate(load_raw(), dotenv)


def env_of(service: dict) -> dict[str, str]:
    """A service's ``environment`` (mapping or ``KEY=value`` list) as strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def run_secrets_check(service: dict, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """The secrets-check service's script with its command (variable names) and ``env`` (default: its own)."""
    script = DEPLOY / "check_secrets.py"
    clean = {"PATH": os.environ["PATH"], **(env_of(service) if env is None else env)}
    names = [str(n) for n in service["command"]]
    return subprocess.run([sys.executable, str(script), *names], env=clean, capture_output=True, text=True)


def init_roles(service: dict, host: str, port: int, superuser: str, password: str) -> subprocess.CompletedProcess:
    """Run the postgres service's init script as its entrypoint would, against a server at ``host:port``."""
    mounts = {v.split(":")[1]: PROJECT / v.split(":")[0] for v in service["volumes"] if v.startswith("./")}
    script = mounts.pop(next(t for t in mounts if t.startswith("/docker-entrypoint-initdb.d/")))
    text = script.read_text()
    for target, source in mounts.items():
        if target not in text:
            raise AssertionError(f"{target} mounted but unused")
        text = text.replace(target, str(source))
    env = {**env_of(service), "PATH": os.environ["PATH"], "PGHOST": host, "PGPORT": str(port)}
    env.update(POSTGRES_USER=superuser, PGPASSWORD=password)
    return subprocess.run(["sh", "-c", text], env=env, capture_output=True, text=True, timeout=60)


def buckets(minio_init_script: str) -> list[str]:
    """The buckets minio-init.sh makes (``mc mb ... local/<bucket>``)."""
    made = [line for line in minio_init_script.splitlines() if line.strip().startswith("mc mb")]
    return [word.split("/", 1)[1] for line in made for word in line.split() if word.startswith("local/")]
