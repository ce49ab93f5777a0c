"""README's ```bash blocks run as written: every command exits 0 here, or is on the short skip list below."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .conftest import PROJECT, VENV_BIN

README = PROJECT / "README.md"
# Commands a test cannot run as written, by how they start, each with the reason and where they are tested.
SKIP = {
    "./dev demo": "the full demo takes ~5 min; tests/test_demo.py runs it",
    "./dev test": "runs this suite itself",
    "./dev ui": "a server that runs until Ctrl-C; tests/test_demo.py drives it over REST on the demo state",
    "docker compose": "no Docker engine here; tests/e2e/test_compose.py runs the compose pieces",
}
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "mlops-demo*", "__pycache__", ".*_cache", ".hypothesis")


def bash_commands(text: str) -> list[str]:
    """The commands of the ```bash blocks of ``text``, one per line (backslash continuations joined)."""
    commands: list[str] = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return commands


def skip_reason(command: str) -> str | None:
    return next((reason for start, reason in SKIP.items() if command.startswith(start)), None)


def test_readme_has_commands_and_every_skip_is_still_in_it():
    commands = bash_commands(README.read_text(encoding="utf-8"))
    assert len(commands) >= 6
    for start in SKIP:  # a skip the README no longer needs must go
        assert any(c.startswith(start) for c in commands), f"SKIP entry {start!r} matches no README command"
    assert [c for c in commands if not skip_reason(c)], "every command skipped"


def test_bash_blocks_are_found_with_comments_and_continuations():
    text = "x\n```bash\n# only a comment\nfoo --a \\\n  --b   # note\n\nbar\n```\n```yaml\nbaz: 1\n```\n"
    assert bash_commands(text) == ["foo --a    --b   # note", "bar"]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of the project (the venv linked in) with the placeholder files the README names."""
    root = tmp_path_factory.mktemp("readme") / "project"
    shutil.copytree(PROJECT, root, ignore=COPY_IGNORE)
    (root / ".venv").symlink_to(VENV_BIN.parent)
    from include.datagen import ride_demand

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    features, labels = ride_demand(zones=5, days=3, end=now)
    features.merge(labels, on=["zone_id", "event_timestamp"], validate="one_to_one").to_parquet(root / "some.parquet")
    return root


@pytest.mark.parametrize("command", [c for c in bash_commands(README.read_text(encoding="utf-8"))])
def test_readme_command_exits_0(command, checkout, tmp_path):
    reason = skip_reason(command)
    if reason:
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "MLFLOW_"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW_MLOPS_HOME=str(tmp_path / "mlops"))
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, f"{command}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
