"""libyaml's scanner with our Python composer (the default) and the pure-Python fallback read specs alike and
refuse the same hostile documents, with the same messages and lines."""

from __future__ import annotations

import pytest
import yaml

from airflow_mlops.spec import yamlsafe
from airflow_mlops.spec.yamlsafe import MAX_DEPTH, MAX_NODES, YamlProblem, read_yaml

from ..conftest import PROJECT

HOSTILE = {
    "alias": ("a: &x [1, 2]\nb: *x\n", "anchors (&name) are not allowed", 1),
    "alias only": ("b: *x\n", "not valid YAML", 1),
    "duplicate key": ("a: 1\nb: 2\na: 3\n", "duplicate key 'a'", 3),
    "deep block": ("- " * (MAX_DEPTH + 5) + "x", f"nested deeper than {MAX_DEPTH} levels", 1),
    "deep flow": ("[" * 200_000, f"nested deeper than {MAX_DEPTH} levels", 1),
    "many values": ("a:\n" + "".join(f"  - {i}\n" for i in range(MAX_NODES + 1)), "more than 10,000 values", None),
    "python tag": ("a: !!python/object:os.system x\n", "could not determine a constructor", 1),
    "huge int": ("a: " + "9" * 5000 + "\n", "value cannot be read", 1),
    "two documents": ("a: 1\n---\nb: 2\n", "but found another document", 2),
    "control character": ("a: \x00\n", "not valid YAML", None),
}


@pytest.fixture(params=["libyaml", "python"])
def loader(request, monkeypatch):
    if request.param == "libyaml":
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML without libyaml")
        monkeypatch.setattr(yamlsafe, "LOADER", yamlsafe.CSpecLoader)
    else:
        monkeypatch.setattr(yamlsafe, "LOADER", yamlsafe.SpecLoader)
    return request.param


def test_libyaml_is_the_default_here():
    assert yamlsafe.LOADER is yamlsafe.CSpecLoader


@pytest.mark.parametrize("spec", sorted((PROJECT / "dags").glob("*.yaml")), ids=lambda p: p.name)
def test_both_read_the_example_specs_as_pyyaml_does(loader, spec):
    text = spec.read_text()
    data, node = read_yaml(text)
    assert data == yaml.safe_load(text)
    assert node.value[0][0].start_mark.line == yaml.compose(text).value[0][0].start_mark.line


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_both_refuse_hostile_documents_alike(loader, name):
    text, message, line = HOSTILE[name]
    with pytest.raises(YamlProblem) as info:
        read_yaml(text)
    assert message in info.value.message
    if line is not None:
        assert info.value.line == line
