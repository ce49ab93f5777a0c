"""The landed-stage detection that switches the end-to-end checks on."""

from __future__ import annotations

import sys
import types

import pytest

from airflow_mlops.operators.base import PlaceholderStage, SpecOperator

from . import stages


@pytest.fixture
def fake_stages(monkeypatch):
    module = types.ModuleType("fake_stage_ops")

    class Pending(PlaceholderStage):
        stage = "pending"

    class Landed(SpecOperator):
        def execute(self, context):
            return {}

    module.Pending, module.Landed = Pending, Landed
    monkeypatch.setitem(sys.modules, "fake_stage_ops", module)
    monkeypatch.setitem(stages.STAGES, "pending", ("fake_stage_ops", "Pending"))
    monkeypatch.setitem(stages.STAGES, "landed", ("fake_stage_ops", "Landed"))


def test_placeholder_stage_is_missing_with_a_reason(fake_stages):
    assert stages.missing("landed") == []
    assert stages.missing("pending", "landed") == [
        "pending stage not landed: fake_stage_ops.py Pending is a placeholder"
    ]
    with pytest.raises(pytest.skip.Exception, match="pending stage not landed"):
        stages.require("landed", "pending")


def test_every_known_stage_resolves():
    assert isinstance(stages.missing(*stages.STAGES), list)
