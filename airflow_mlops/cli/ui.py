"""``airflow-mlops ui``: the Airflow UI (``airflow standalone``) on exactly the state ``airflow-mlops demo`` left.

The demo persists its settings in its Airflow home (:mod:`airflow_mlops.cli._demo_home`); this command
starts Airflow on that home alone, drops the caller's variables that would override it, waits until every
component is healthy and prints the URL and SimpleAuthManager's generated login. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from airflow_mlops.cli import _demo_home

# Settings the home owns: a value inherited from the caller would show another world than the demo's.
OVERRIDES = (
    "AIRFLOW_CONFIG",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__UNIT_TEST_MODE",
    "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST",
    "AIRFLOW__MLOPS__HOME",
    "AIRFLOW__MLOPS__PROJECT",
    "AIRFLOW_MLOPS_HOME",
    "AIRFLOW_MLOPS_PROJECT",
    "AIRFLOW_CONN_SCORES_DB",
    "AIRFLOW_CONN_MLFLOW_DEFAULT",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "AIRFLOW__LOGGING__LOGGING_LEVEL",  # the CLI sets WARNING for itself; the UI's task logs keep the home's level
)
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ui",
        help="start the Airflow UI on the state the demo left (airflow standalone)",
        description="Start `airflow standalone` on the Airflow home of `airflow-mlops demo --home DIR` "
        "(DIR/airflow: its dags folder, connections and MLOps home, no Airflow example DAGs), wait until it "
        "is healthy and print the URL and the login. Ctrl-C stops it.",
        epilog="examples:\n  airflow-mlops ui\n  airflow-mlops ui --home /tmp/demo --port 8081",
    )
    p.add_argument("--home", default="mlops-demo", help="the demo's --home (default: ./mlops-demo)")
    p.add_argument("--host", default="127.0.0.1", help="address the UI listens on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="UI and REST API port (default: 8080)")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for a healthy Airflow (default: 300)")
    p.set_defaults(handler=run)


def demo_home(raw: str) -> Path:
    """The demo's home, refused unless ``airflow-mlops demo`` ran there."""
    home = Path(raw).resolve()
    recorded = _demo_home.recorded_home(home)
    if recorded is None:
        demo = "./dev demo" if home == Path("mlops-demo").resolve() else f"./dev demo --home {raw}"
        raise SystemExit(f"airflow-mlops ui: no demo state under {home}: run {demo} first")
    if recorded != home:
        raise SystemExit(
            f"airflow-mlops ui: {home} holds the demo state of {recorded} (moved?): run ./dev demo --home {raw} again"
        )
    return home


def ui_env(home: Path, host: str, port: int) -> dict[str, str]:
    """The caller's environment without :data:`OVERRIDES`, pointed at the demo's Airflow home."""
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
    options = _demo_home.read_options(_demo_home.airflow_home(home) / "airflow.cfg")
    project = options.get("mlops", "project", fallback="")
    env.update(
        {
            "AIRFLOW_HOME": str(_demo_home.airflow_home(home)),
            # standalone starts its components by running `airflow` from PATH
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "PYTHONPATH": os.pathsep.join(filter(None, [project, env.get("PYTHONPATH", "")])),
            "AIRFLOW__API__HOST": host,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{host}:{port}/execution/",
        }
    )
    return env


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def health(url: str) -> dict:
    """``/api/v2/monitor/health`` (empty when unreachable)."""
    import httpx

    try:
        status = httpx.get(f"{url}/api/v2/monitor/health", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def healthy(status: dict) -> bool:
    return all((status.get(part) or {}).get("status") == "healthy" for part in COMPONENTS)


def login(airflow_home: Path) -> str:
    """``user / password`` lines from SimpleAuthManager's generated password file."""
    path = airflow_home / PASSWORDS_FILE
    try:
        users = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"see {path}"
    return ", ".join(f"{user} / {password}" for user, password in users.items()) + f"  (from {path})"


def stop(proc: subprocess.Popen, grace: float = 30) -> None:
    """Stop standalone's process group: SIGINT (as Ctrl-C would), then SIGTERM, then SIGKILL for what is left."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # children left behind in the group
    proc.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    sys.stdout.reconfigure(line_buffering=True)
    home = demo_home(args.home)
    if not port_free(args.host, args.port):
        raise SystemExit(f"airflow-mlops ui: port {args.port} on {args.host} is in use: pass --port")
    airflow_home = _demo_home.airflow_home(home)
    log = home / "logs" / "ui.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://{args.host}:{args.port}"
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow"), "standalone"],
            env=ui_env(home, args.host, args.port),
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )
    print(f"starting Airflow on {airflow_home} (process group {proc.pid}); log: {log}")
    try:
        deadline = time.monotonic() + args.timeout
        while not healthy(health(url)):
            if proc.poll() is not None:
                print(f"airflow-mlops ui: airflow standalone exited with {proc.returncode}; see {log}", file=sys.stderr)
                return 1
            if time.monotonic() > deadline:
                print(f"airflow-mlops ui: not healthy after {args.timeout:.0f}s; see {log}", file=sys.stderr)
                return 1
            time.sleep(2)
        print(f"Airflow UI:  {url}")
        print(f"login:       {login(airflow_home)}")
        print("Ctrl-C stops it.")
        return proc.wait()
    except KeyboardInterrupt:
        print("stopping Airflow")
        return 0
    finally:
        stop(proc)
