"""Every scores/registry command run as a user runs it (a subprocess of the console script) on a real scored
state: stdout holds the result and nothing else, stderr at most the expected notes; no library warning, no
progress bar, no traceback. Errors are one line with a non-zero exit; --debug shows the traceback."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import MODEL, cli

NOISE = re.compile(r"warning|Traceback|Downloading artifacts|\[info|\[debug", re.IGNORECASE)


def clean(out) -> tuple[list[str], list[str]]:
    """stdout and stderr lines, after checking neither holds library noise."""
    for stream in (out.stdout, out.stderr):
        assert not NOISE.search(stream), stream[:3000]
    return out.stdout.splitlines(), out.stderr.splitlines()


def test_reproduce_latest_prints_only_the_verdicts(scored):
    out = cli(scored, "reproduce", MODEL, "--logical-date", "latest")
    stdout, stderr = clean(out)
    assert out.returncode == 0, out.stderr
    assert stderr == [f"{MODEL}: latest recorded logical date: 2024-06-02T09:00:00Z"]
    verdict = "at 2024-06-02T09:00:00+00:00: match: 900 matched, 0 mismatched (stored 900 rows)"
    assert sorted(stdout) == [f"{MODEL} challenger version 2 {verdict}", f"{MODEL} champion version 1 {verdict}"]


def test_a_user_who_asks_for_warnings_gets_them_without_the_skops_flood(scored):
    """reproduce silences library warnings by default; PYTHONWARNINGS=default brings them back, but the ~1,160
    deprecation warnings skops' import used to provoke stay gone (it is imported under ``quiet_skops``)."""
    out = cli(scored, "reproduce", MODEL, "--logical-date", "2024-06-01", PYTHONWARNINGS="default")
    assert out.returncode == 0, out.stderr[-2000:]
    warned = [line for line in (out.stdout + out.stderr).splitlines() if "Warning" in line]
    assert 1 <= len(warned) < 50, (out.stdout + out.stderr)[:2000]


def test_reproduce_a_manual_run_typed_without_microseconds(scored):
    out = cli(scored, "reproduce", MODEL, "--logical-date", "2024-06-02T10:30:15+02:00")
    stdout, stderr = clean(out)
    assert out.returncode == 0, out.stderr
    assert stderr == [f"{MODEL}: 2024-06-02T10:30:15+02:00 is logical date 2024-06-02T08:30:15.123456Z"]
    assert len(stdout) == 2 and all("at 2024-06-02T08:30:15.123456+00:00: match: 900 matched" in s for s in stdout)


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2024-06-02", "2024-06-02 matches 2 runs of cli_reg in cli_scores: 2024-06-02T08:30:15.123456Z, "
         "2024-06-02T09:00:00Z; pass one of them"),
        ("2024-06-03", "no scores recorded for cli_reg in cli_scores at 2024-06-03; nearest recorded: "
         "2024-06-02T09:00:00Z"),
    ],
)  # fmt: skip
def test_ambiguous_or_unrecorded_dates_answer_with_candidates(scored, date, message):
    out = cli(scored, "reproduce", MODEL, "--logical-date", date)
    stdout, stderr = clean(out)
    assert (out.returncode, stdout, stderr) == (1, [], [f"airflow-mlops reproduce: {message}"])


def test_runs_lists_every_recorded_run(scored):
    out = cli(scored, "runs", MODEL)
    stdout, stderr = clean(out)
    assert out.returncode == 0 and stderr == [], out.stderr
    assert stdout[0].split()[:4] == ["logical", "date", "(UTC)", "role"]
    rows = [line.split() for line in stdout[1:]]
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("2024-06-02T09:00:00Z", "challenger", "2", "900", "current"),
        ("2024-06-02T09:00:00Z", "champion", "1", "900", "current"),
        ("2024-06-02T08:30:15.123456Z", "challenger", "2", "900", "current"),
        ("2024-06-02T08:30:15.123456Z", "champion", "1", "900", "current"),
        ("2024-06-01T00:00:00Z", "challenger", "2", "900", "current"),
        ("2024-06-01T00:00:00Z", "champion", "1", "900", "current"),
        ("2024-06-01T00:00:00Z", "challenger", "2", "900", "superseded"),
        ("2024-06-01T00:00:00Z", "champion", "1", "900", "superseded"),
    ]
    assert [r[-1] for r in rows[4:]] == ["manual__rescore"] * 2 + ["scheduled__2024-06-01"] * 2
    assert len({r[5] for r in rows}) == 8  # one score run id per run

    out = cli(scored, "runs", MODEL, "--current", "--since", "2024-06-01T12:00", "--json")
    runs = json.loads(clean(out)[0][0])
    assert {(r["logical_date"], r["role"], r["is_current"]) for r in runs} == {
        (d, role, True) for d in ("2024-06-02T09:00:00Z", "2024-06-02T08:30:15.123456Z")
        for role in ("champion", "challenger")
    }  # fmt: skip


def test_served_json_is_parseable_stdout(scored):
    out = cli(scored, "served", MODEL, "--logical-date", "2024-06-01T00:00Z", "--json")
    stdout, stderr = clean(out)
    assert out.returncode == 0 and stderr == [] and len(stdout) == 1, out.stderr
    served = json.loads(stdout[0])
    assert sorted((r["role"], r["is_current"], r["dag_run_id"]) for r in served) == [
        ("challenger", False, "scheduled__2024-06-01"), ("challenger", True, "manual__rescore"),
        ("champion", False, "scheduled__2024-06-01"), ("champion", True, "manual__rescore"),
    ]  # fmt: skip


def test_rollback_then_history_print_only_their_result(scored):
    out = cli(scored, "history", MODEL)
    stdout, stderr = clean(out)
    assert (out.returncode, stdout, stderr) == (1, [], [f"no alias history for {MODEL}@champion"])

    out = cli(scored, "rollback", MODEL, "--to-version", "2", "--reason", "cli test", "--sample", str(scored["sample"]))
    stdout, stderr = clean(out)
    assert (out.returncode, stderr) == (0, []), out.stderr[-3000:]
    assert stdout == [f"{MODEL}@champion: 1 → 2 (applied)"] or stdout == [f"{MODEL}@champion: - → 2 (applied)"]

    out = cli(scored, "history", MODEL, "--at", "2999-01-01")
    stdout, stderr = clean(out)
    assert out.returncode == 0 and stderr == [] and len(stdout) == 1, out.stderr
    assert stdout[0].startswith(f"{MODEL}@champion at 2999-01-01T23:59:59.999999+00:00: version 2 ")


def test_check_data_and_report_print_only_their_result(scored):
    out = cli(scored, "check-data", scored["spec"], str(scored["root"] / "validated.parquet"))
    stdout, stderr = clean(out)
    assert (out.returncode, stderr) == (0, []), out.stderr
    assert stdout[0].startswith(f"Validation {MODEL}:validated.parquet (score): PASSED") and len(stdout) == 2

    out = cli(scored, "report", MODEL)
    assert clean(out) == ([], [f"no monitoring reports for {MODEL}"]) and out.returncode == 1


DOWN = '{"conn_type": "postgres", "host": "127.0.0.1", "port": 1, "login": "u", "password": "s3cret-pw", "schema": "d"}'


@pytest.mark.parametrize(
    ("args", "env", "code", "line"),
    [
        (["reproduce", MODEL, "--logical-date", "yesterday"], {}, 2,
         "airflow-mlops reproduce: argument --logical-date: 'yesterday' is not an ISO 8601 date or datetime"),
        (["served", MODEL, "--logical-date", "2024-06-01", "--as-of", "soon"], {}, 2,
         "airflow-mlops served: argument --as-of: 'soon' is not an ISO 8601 date or datetime"),
        (["history", MODEL, "--at", "2024-02-30"], {}, 2, "airflow-mlops history: argument --at: '2024-02-30' is not"),
        (["runs", MODEL, "--last", "0"], {}, 2, "airflow-mlops runs: argument --last: '0' is not a positive"),
        (["no-such-command"], {}, 2, "airflow-mlops: argument COMMAND: invalid choice: 'no-such-command'"),
        (["reproduce", "nope", "--logical-date", "latest"], {}, 1,
         "airflow-mlops reproduce: unknown model 'nope': no spec dags/nope.yaml under"),
        (["served", MODEL, "--logical-date", "latest", "--spec", "/no/such/spec.yaml"], {}, 1,
         "airflow-mlops served: /no/such/spec.yaml: (file): cannot read"),
        (["runs", MODEL, "--conn-id", "scores_down"], {"AIRFLOW_CONN_SCORES_DOWN": DOWN}, 1,
         "airflow-mlops runs: scores database 'scores_down' (postgres): connection failed"),
        (["reproduce", MODEL, "--logical-date", "latest", "--conn-id", "scores_gone"],
         {"AIRFLOW_CONN_SCORES_GONE": '{"conn_type": "sqlite", "host": "/no/such/dir/s.db"}'}, 1,
         "airflow-mlops reproduce: scores database 'scores_gone' (sqlite): unable to open database file"),
        (["runs", MODEL, "--conn-id", "undefined_conn"], {}, 1,
         "airflow-mlops runs: Airflow connection 'undefined_conn' is not defined"),
        (["rollback", "nope", "--to-version", "1", "--reason", "x"], {}, 1,
         "rollback refused: model 'nope' has no version 1"),
    ],
)  # fmt: skip
def test_errors_are_one_line_without_traceback(scored, args, env, code, line):
    out = cli(scored, *args, **env)
    stdout, stderr = clean(out)
    assert (out.returncode, stdout, len(stderr)) == (code, [], 1), out.stderr
    assert stderr[0].startswith(line), stderr
    assert "s3cret-pw" not in out.stderr


@pytest.mark.parametrize("how", [["--debug"], ["AIRFLOW_MLOPS_DEBUG"]])
def test_debug_shows_the_traceback(scored, how):
    args = ["runs", MODEL, "--conn-id", "undefined_conn"]
    out = cli(scored, *args, "--debug") if how == ["--debug"] else cli(scored, *args, AIRFLOW_MLOPS_DEBUG="1")
    assert out.returncode == 1 and "Traceback (most recent call last)" in out.stderr
    assert "ConnectionLookupError: Airflow connection 'undefined_conn' is not defined" in out.stderr


def test_every_command_help_has_examples(scored):
    for command in ("validate", "schema", "stub", "demo", "check-data", "report", "reproduce", "served", "runs",
                    "history", "rollback"):  # fmt: skip
        out = cli(scored, command, "--help")
        assert out.returncode == 0 and out.stderr == "", (command, out.stderr)
        examples = out.stdout.split("examples:\n", 1)[1].splitlines()
        assert examples and all(line.startswith("  airflow-mlops ") for line in examples if line), command
