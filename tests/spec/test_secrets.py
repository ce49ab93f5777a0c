"""Credentials never pass validation: named cases from issue 12, then generated secret-bearing specs.

The property tests inject secrets of many shapes at random places of the valid example spec and assert
every one is refused at that place without echoing it; clean values in the same places still pass.
Run with ``SECRET_EXAMPLES=2000`` for a longer search; the tally prints with ``-s``.
"""

from __future__ import annotations

import copy
import os
import random

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_mlops.spec import SpecError, parse_spec
from airflow_mlops.spec.loader import _field

from ..conftest import PROJECT

RIDE = (PROJECT / "dags" / "ride_demand.yaml").read_text()
DESCRIPTION = "description"
DESCRIPTION_LINE = next(line for line in RIDE.splitlines() if line.startswith("  description:"))
BASE = yaml.safe_load(RIDE)
EXAMPLES = int(os.environ.get("SECRET_EXAMPLES", "300"))
TALLY = {"generated": 0, "refused": 0, "clean": 0, "clean_passed": 0}


def _refused(text: str) -> list:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "specs/bad.yaml")
    return info.value.problems


@pytest.mark.parametrize(
    ("old", "new", "secret"),
    [
        (DESCRIPTION, "'https://bob@db.example.com/x'", "bob@"),
        (DESCRIPTION, "'postgresql://:s3cretpw@db/x'", "s3cretpw"),
        (DESCRIPTION, "'https://ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/o/r'", "ghp_"),
        (DESCRIPTION, "'see http://mlflow:5000/?token=zq8Xw2'", "zq8Xw2"),
        (DESCRIPTION, "' postgresql://bob:s3cretpw@db/x'", "s3cretpw"),
        (DESCRIPTION, "'host=db user=bob password=s3cretpw'", "s3cretpw"),
        (DESCRIPTION, "'AKIAABCDEFGHIJKLMNOP'", "AKIA"),
        (DESCRIPTION, "'xoxb-1234567890-abcdefghij'", "xoxb"),
        (DESCRIPTION, "'sk-proj-abcdefghijklmnopqrstuvwx'", "sk-proj"),
        (DESCRIPTION, "'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig'", "eyJ"),
        (DESCRIPTION, "'https://b.s3.amazonaws.com/k?X-Amz-Signature=f00ba4'", "f00ba4"),
        (DESCRIPTION, "'https://a.blob.core.windows.net/c?sv=1&sig=f00ba4'", "f00ba4"),
        ("  chunk_rows: 100000", "  chunk_rows: 100000\n  api-key: zq8Xw2", "zq8Xw2"),
        ("  chunk_rows: 100000", "  chunk_rows: 100000\n  Authorization: Bearer zq8Xw2", "zq8Xw2"),
        ("  chunk_rows: 100000", "  chunk_rows: 100000\n  passphrase: zq8Xw2", "zq8Xw2"),
        ("  chunk_rows: 100000", "  chunk_rows: 100000\n  private_key: zq8Xw2", "zq8Xw2"),
        ("  chunk_rows: 100000", "  chunk_rows: 100000\n  clientSecret: zq8Xw2", "zq8Xw2"),
        ("  chunk_rows: 100000", "  chunk_rows: 100000\n  password: '  zq8Xw2'", "zq8Xw2"),
        ("learning_rate: 0.1}", "learning_rate: 0.1, ghp_0123456789abcdefghijABCDEFGHIJ012345: 1}", "ghp_"),
    ],
)
def test_issue_12_secrets_are_refused_without_echo(old, new, secret):
    if old == DESCRIPTION:
        old, new = DESCRIPTION_LINE, f"  description: {new}"
    text = RIDE.replace(old, new)
    assert text != RIDE
    problems = _refused(text)
    secret_lines = [p for p in problems if "credentials do not belong" in p.message]
    assert secret_lines, problems
    assert secret_lines[0].line == next(i for i, ln in enumerate(text.splitlines(), 1) if secret in ln)
    assert all(secret not in str(p) for p in problems)


@pytest.mark.parametrize(
    "value",
    ["scores_db", "sqlite:////tmp/scores.db", "http://mlflow:5000", "s3://reports/ride", "postgresql://db:5432/x"],
)
def test_ordinary_values_pass(value):
    assert parse_spec(RIDE.replace(DESCRIPTION_LINE, f"  description: '{value} Trips'"))


# --- generated specs ------------------------------------------------------------------------------

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n + 8)


SECRET = _chars(ALNUM, 12)  # what must never be echoed
NAMES = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api key",
    "access token",
    "authorization",
    "client secret",
    "private key",
    "auth token",
    "secret key",
    "access key",
    "apikey",
    "credentials",
]
QUERY_KEYS = [
    "token",
    "access_token",
    "api_key",
    "apikey",
    "password",
    "secret",
    "sig",
    "signature",
    "X-Amz-Signature",
    "X-Goog-Signature",
    "client_secret",
    "key",
    "Token",
    "ACCESS-TOKEN",
]


@st.composite
def spelled(draw, name: str) -> str:
    """``name`` in snake, kebab, camel, Pascal, upper or glued spelling."""
    words = name.split()
    style = draw(st.sampled_from(["snake", "kebab", "camel", "pascal", "upper", "glued", "dotted"]))
    if style == "camel":
        return words[0] + "".join(w.title() for w in words[1:])
    if style == "pascal":
        return "".join(w.title() for w in words)
    joiner = {"snake": "_", "kebab": "-", "upper": "_", "glued": "", "dotted": "."}[style]
    out = joiner.join(words)
    return out.upper() if style == "upper" else out


@st.composite
def secret_text(draw) -> tuple[str, str]:
    """``(text, secret)``: a string carrying a credential in one of many shapes, padded with noise."""
    s = draw(SECRET)
    host = draw(st.sampled_from(["db.example.com", "github.com", "mlflow:5000", "10.0.0.7", "bucket.s3.amazonaws.com"]))
    scheme = draw(st.sampled_from(["postgresql", "https", "http", "mysql+pymysql", "redis", "s3", "ftp"]))
    shape = draw(st.integers(0, 9))
    if shape == 0:
        text, secret = f"{scheme}://{s}@{host}/x", s  # user only
    elif shape == 1:
        text, secret = f"{scheme}://:{s}@{host}/x", s  # password only
    elif shape == 2:
        text, secret = f"{scheme}://user:{s}@{host}/x", s
    elif shape == 3:
        key = draw(st.sampled_from(QUERY_KEYS))
        text, secret = f"{scheme}://{host}/p?page=2&{key}={s}", s
    elif shape == 4:
        token = draw(st.sampled_from(["ghp_", "gho_", "github_pat_"])) + draw(_chars(ALNUM, 36))
        text, secret = f"https://{token}@github.com/org/repo.git", token
    elif shape == 5:
        token = "AKIA" + draw(_chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))[:16]
        text, secret = token, token
    elif shape == 6:
        token = draw(st.sampled_from(["xoxb-", "xoxp-"])) + draw(_chars(ALNUM + "-", 20))
        text, secret = token, token
    elif shape == 7:
        token = "sk-" + draw(_chars(ALNUM + "_-", 24))
        text, secret = token, token
    elif shape == 8:
        token = f"eyJ{draw(_chars(ALNUM, 10))}.eyJ{draw(_chars(ALNUM, 10))}.{s}"
        text, secret = token, token
    else:
        key = draw(spelled(draw(st.sampled_from(NAMES))))
        text, secret = f"{key}={s}", s
    before = draw(st.sampled_from(["", " ", "  ", "\t", "see ", "dsn "]))
    after = draw(st.sampled_from(["", " ", "\n", " for the nightly job"]))
    return before + text + after, secret


def _mappings(node, loc=()):
    if isinstance(node, dict):
        yield loc, node
        for key, value in node.items():
            yield from _mappings(value, (*loc, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _mappings(item, (*loc, i))


def _leaves(node, loc=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*loc, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _leaves(item, (*loc, i))
    else:
        yield loc


def _set(doc, loc, value):
    for part in loc[:-1]:
        doc = doc[part]
    doc[loc[-1]] = value


@st.composite
def secret_spec(draw) -> tuple[str, str, str]:
    """``(yaml text, secret, field)``: the example spec with one credential injected at a random place."""
    doc = copy.deepcopy(BASE)
    how = draw(st.sampled_from(["replace", "key", "append"]))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    if how == "key":  # a secret-named key in any mapping
        loc, mapping = rnd.choice(list(_mappings(doc)))
        name = draw(spelled(draw(st.sampled_from(NAMES))))
        secret = draw(SECRET)
        mapping[name] = draw(st.sampled_from(["", " ", "  "])) + secret
        loc = (*loc, name)
    elif how == "append":  # an extra list item anywhere there is a list
        lists = [loc for loc in _leaves_and_lists(doc)]
        loc = rnd.choice(lists)
        target = doc
        for part in loc:
            target = target[part]
        text, secret = draw(secret_text())
        target.append(text)
        loc = (*loc, len(target) - 1)
    else:  # any scalar of the spec becomes secret-bearing text
        loc = rnd.choice(list(_leaves(doc)))
        text, secret = draw(secret_text())
        _set(doc, loc, text)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), secret, _field(loc)


def _leaves_and_lists(node, loc=()):
    if isinstance(node, list):
        yield loc
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        yield from _leaves_and_lists(value, (*loc, key))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret_spec())
def test_generated_secret_bearing_specs_are_refused(case):
    text, secret, field = case
    TALLY["generated"] += 1
    with pytest.raises(SpecError) as info:
        parse_spec(text, "specs/gen.yaml")
    problems = info.value.problems
    flagged = [p for p in problems if "credentials do not belong" in p.message]
    assert any(field == p.field or field.startswith(p.field) for p in flagged), (field, problems)
    assert all(secret not in str(p) for p in problems), problems
    TALLY["refused"] += 1


BENIGN = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z ,.()'-]{0,60}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True),
    st.builds(
        lambda h, p, q: f"http://{h}:{p}/api/{q}",
        st.sampled_from(["mlflow", "localhost", "10.0.0.7"]),
        st.integers(1, 65535),
        st.from_regex(r"[a-z]{1,8}(\?page=[0-9]{1,3})?", fullmatch=True),
    ),
    st.builds(lambda p: f"sqlite:////{p}.db", st.from_regex(r"[a-z]{1,10}(/[a-z]{1,10}){0,3}", fullmatch=True)),
    st.builds(
        lambda b, k: f"s3://{b}/{k}",
        st.from_regex(r"[a-z]{3,12}", fullmatch=True),
        st.from_regex(r"[a-z0-9/_-]{1,30}", fullmatch=True),
    ),
)
FREE_TEXT = [("model", "description"), ("promotion", "action_rules", 0, "callback_actions", 1, "message")]


@settings(max_examples=max(50, EXAMPLES // 3), deadline=None)
@given(st.lists(st.tuples(st.sampled_from([*FREE_TEXT, ("model", "tags")]), BENIGN), min_size=1, max_size=4))
def test_clean_values_in_free_text_places_pass(changes):
    doc = copy.deepcopy(BASE)
    for loc, value in changes:
        if loc == ("model", "tags"):
            doc["model"].setdefault("tags", []).append(value)
        else:
            _set(doc, loc, value)
    TALLY["clean"] += 1
    parse_spec(yaml.safe_dump(doc, sort_keys=False), "specs/clean.yaml")
    TALLY["clean_passed"] += 1


def test_tally():
    """Print how many generated specs were refused (run with -s); runs after the property tests."""
    print(
        f"\nsecret-bearing specs refused: {TALLY['refused']} of {TALLY['generated']}; "
        f"clean specs passed: {TALLY['clean_passed']} of {TALLY['clean']}"
    )
    assert TALLY["refused"] == TALLY["generated"]
    assert TALLY["clean_passed"] == TALLY["clean"]
