"""The demo's settings, persisted in its Airflow home so every later command on that home sees the same world.

``airflow.cfg`` of ``<home>/airflow`` gets ``[core] dags_folder``, ``[core] load_examples = False``,
``[dag_processor] dag_bundle_config_list`` (with the spec bundle), ``[mlops] home`` and ``[mlops] project``;
the metadata DB gets the ``scores_db`` connection. Then
``AIRFLOW_HOME=<home>/airflow airflow ...`` (or ``airflow-mlops ui``) needs no other environment.
Options are edited line by line, so Airflow's documented default file keeps its comments.
"""

from __future__ import annotations

import configparser
import json
import re
import subprocess
from pathlib import Path

SCORES_CONN_ID = "scores_db"
UNSAFE_IN_CFG = re.compile(r"[%\x00-\x1f\x7f]")  # interpolation and line breaks would rewrite other options


def airflow_home(home: Path) -> Path:
    return home / "airflow"


def scores_conn(home: Path) -> dict[str, str]:
    """The demo's scores database: SQLite under the MLOps home."""
    return {"conn_type": "sqlite", "host": str(home / "scores.db")}


def demo_settings(home: Path, project: Path) -> dict[str, dict[str, str]]:
    """``{section: {key: value}}`` the demo writes into ``airflow.cfg``."""
    for path in (home, project):
        if UNSAFE_IN_CFG.search(str(path)):
            raise ValueError(f"{str(path)!r}: a path with '%' or control characters cannot go into airflow.cfg")
    return {
        "core": {"dags_folder": str(project / "dags"), "load_examples": "False"},
        "dag_processor": {"dag_bundle_config_list": json.dumps(spec_bundles(home))},
        "mlops": {"home": str(home), "project": str(project)},
    }


def spec_bundles(home: Path) -> list[dict]:
    """Airflow's dags-folder bundle plus the spec bundle: a YAML dropped into dags/ without a stub gets a
    generated DAG file of its own (under the Airflow home, never in dags/), see airflow_mlops.bundle."""
    return [
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
        {
            "name": "mlops-specs",
            "classpath": "airflow_mlops.bundle.SpecDagBundle",
            "kwargs": {"path": str(airflow_home(home) / "spec_dag_files")},
        },
    ]


def set_options(cfg: Path, settings: dict[str, dict[str, str]]) -> None:
    """Set ``settings`` in the INI file ``cfg`` (created if missing), leaving every other line as it is."""
    lines = cfg.read_text(encoding="utf-8").splitlines() if cfg.exists() else []
    for section, options in settings.items():
        for key, value in options.items():
            _set_line(lines, section, key, value)
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _set_line(lines: list[str], section: str, key: str, value: str) -> None:
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if start is None:
        lines.extend(["", f"[{section}]", f"{key} = {value}"])
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    option = re.compile(rf"{re.escape(key)}\s*[=:]", re.IGNORECASE)
    for i in range(start + 1, end):
        if option.match(lines[i]):
            lines[i] = f"{key} = {value}"
            while i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t") and lines[i + 1].strip():
                del lines[i + 1]  # the old value's continuation lines (Airflow's default bundle list spans 7)
            return
    lines.insert(start + 1, f"{key} = {value}")


def read_options(cfg: Path) -> configparser.ConfigParser:
    """``cfg`` parsed as Airflow writes it (raw values, duplicate keys tolerated); empty when missing."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    if cfg.exists():
        parser.read(cfg, encoding="utf-8")
    return parser


def persist(home: Path, project: Path, env: dict[str, str], airflow_bin: str) -> None:
    """Write the demo's settings into its ``airflow.cfg`` and its connections into the metadata DB.

    Run after ``airflow db migrate`` (which writes Airflow's default ``airflow.cfg`` with fresh secrets).
    """
    cfg = airflow_home(home) / "airflow.cfg"
    settings = demo_settings(home, project)
    set_options(cfg, settings)
    written = read_options(cfg)
    for section, options in settings.items():
        for key, value in options.items():
            if written.get(section, key, fallback=None) != value:
                raise RuntimeError(f"{cfg}: [{section}] {key} did not take the value {value!r}")
    conns = airflow_home(home) / "demo_connections.json"
    conns.write_text(json.dumps({SCORES_CONN_ID: scores_conn(home)}, indent=2), encoding="utf-8")
    subprocess.run(
        [airflow_bin, "connections", "import", "--overwrite", str(conns)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def recorded_home(home: Path) -> Path | None:
    """The MLOps home recorded in ``<home>/airflow/airflow.cfg`` by the demo (None: no demo state there)."""
    if not (airflow_home(home) / "airflow.db").is_file():
        return None
    value = read_options(airflow_home(home) / "airflow.cfg").get("mlops", "home", fallback=None)
    return Path(value) if value else None
