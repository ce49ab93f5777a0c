"""Hostile YAML: every one is refused quickly as ``file:line: field: message`` lines, never a traceback."""

from __future__ import annotations

import re

import pytest

from airflow_mlops.promotion.rulesets import RuleFileError, load_rule_file
from airflow_mlops.spec import SpecError, load_spec, parse_spec
from airflow_mlops.spec.yamlsafe import MAX_BYTES, MAX_DEPTH, MAX_NODES

from ..conftest import PROJECT, run_cli

# 9**7 ≈ 4.8 million "lol"s once expanded; plain SafeLoader spends minutes on it.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)
HOSTILE = {
    "bomb.yaml": BOMB.encode(),
    "brackets.yaml": b"[" * 5000,
    "braces.yaml": b"{a: " * 5000,
    "dashes.yaml": b"- " * 5000 + b"x",
    "latin1.yaml": b"model:\n  name: caf\xe9\n",
    "bigint.yaml": b"training:\n  params: {n_estimators: " + b"9" * 5000 + b"}\n",
    "duplicate.yaml": b"model: {name: a}\nmodel: {name: b}\n",
    "tab.yaml": b"model:\n\t- x\n",
    "merge.yaml": b"base: &b {x: 1}\nother:\n  <<: *b\n",
    "python_tag.yaml": b"model: !!python/object/apply:os.system ['true']\n",
    "huge.yaml": b"# padding\n" * (MAX_BYTES // 10 + 1),
    "many_values.yaml": b"model:\n  tags: [" + b"x, " * (MAX_NODES + 1) + b"]\n",
    "not_a_mapping.yaml": b"- just\n- a list\n",
    "empty.yaml": b"",
}
LINE = re.compile(r"^(?P<file>[^:]+?)(:(?P<line>\d+))?: (?P<field>[^:]+): (?P<message>.+)$")


def _problems(raw: bytes, tmp_path) -> list:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(raw)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value.problems


# Timeouts below are hang guards, not speed claims: the refusal times are measured by
# benchmarks/bench_hostile_yaml.py (a 272-byte bomb would otherwise expand for minutes).
@pytest.mark.timeout(30)
def test_alias_bomb_is_refused_before_expansion():
    assert len(BOMB) < 300
    with pytest.raises(SpecError) as info:
        parse_spec(BOMB, "bomb.yaml")
    assert [str(p) for p in info.value.problems] == [
        "bomb.yaml:1: (yaml): not valid YAML: anchors (&name) are not allowed in a spec"
    ]


@pytest.mark.parametrize("text", ["[" * 5000, "{a: " * 5000, "- " * 5000 + "x", "[" * 200_000])
@pytest.mark.timeout(30)
def test_deep_nesting_is_refused(text):
    with pytest.raises(SpecError) as info:
        parse_spec(text, "deep.yaml")
    assert f"nested deeper than {MAX_DEPTH} levels" in info.value.problems[0].message


def test_block_nesting_just_inside_the_limit_is_fine_past_it_refused():
    def nested(depth: int) -> str:
        return "".join(" " * i + f"k{i}:\n" for i in range(depth - 1)) + " " * (depth - 1) + "k: 1\n"

    with pytest.raises(SpecError) as ok:
        parse_spec(nested(MAX_DEPTH - 1), "n.yaml")
    assert ok.value.problems[0].field != "(yaml)"  # parsed; only the schema objects
    with pytest.raises(SpecError) as deep:
        parse_spec(nested(MAX_DEPTH + 1), "n.yaml")
    assert deep.value.problems[0].field == "(yaml)"


def test_latin1_byte_names_its_line(tmp_path):
    [problem] = _problems(HOSTILE["latin1.yaml"], tmp_path)
    assert problem.line == 2 and "not UTF-8" in problem.message and "0xe9" in problem.message


def test_oversized_file_and_device_are_refused_without_reading_them_whole(tmp_path):
    [problem] = _problems(HOSTILE["huge.yaml"], tmp_path)
    assert f"larger than {MAX_BYTES:,} bytes" in problem.message
    with pytest.raises(SpecError) as info:
        load_spec("/dev/zero")
    assert "larger than" in info.value.problems[0].message


@pytest.mark.timeout(30)
def test_too_many_values_is_refused(tmp_path):
    [problem] = _problems(HOSTILE["many_values.yaml"], tmp_path)
    assert f"more than {MAX_NODES:,} values" in problem.message and problem.line == 2


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("duplicate.yaml", 2, "duplicate key 'model'"),
        ("merge.yaml", 1, "anchors"),
        ("tab.yaml", 2, "cannot start any token"),
        ("python_tag.yaml", 1, "python/object"),
        ("bigint.yaml", 2, "4300 digits"),
    ],
)
def test_yaml_problems_name_a_line(name, line, words, tmp_path):
    [problem] = _problems(HOSTILE[name], tmp_path)
    assert problem.field == "(yaml)" and words in problem.message
    assert problem.line == line


def test_rule_files_use_the_same_hardened_reader(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(BOMB)
    with pytest.raises(RuleFileError, match=r"rules.yaml:1: .*anchors"):
        load_rule_file(path)
    path.write_bytes(b"action_rules: [\xff]\n")
    with pytest.raises(RuleFileError, match="not UTF-8"):
        load_rule_file(path)
    path.write_text("action_rules:\n  - callback_actions: [{action: notify, message: 'https://bob:pw@x/'}]\n")
    with pytest.raises(RuleFileError, match="credentials") as info:
        load_rule_file(path)
    assert "bob" not in str(info.value) and "pw@" not in str(info.value)


def test_cli_reports_each_hostile_file_in_clean_lines(tmp_path):
    for name, raw in HOSTILE.items():
        (tmp_path / name).write_bytes(raw)
    out = run_cli(["airflow-mlops", "validate", str(tmp_path)], timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "Error:" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[-1] == f"{len(HOSTILE)} of {len(HOSTILE)} spec(s) invalid"
    for line in lines[:-1]:
        assert LINE.match(line), line
    reported = {LINE.match(line)["file"] for line in lines[:-1]}
    assert reported == {str(tmp_path / name) for name in HOSTILE}


def test_examples_still_validate_through_the_hardened_reader():
    for path in sorted((PROJECT / "dags").glob("*.yaml")):
        load_spec(path)
    for path in sorted((PROJECT / "configs" / "rules").glob("*.yaml")):
        load_rule_file(path)
