"""Promotion: rule-based selection among model versions, action callbacks, servability, alias history, rollback.

- :mod:`.rulesets`     the spec's rules plus shared rule files (configs/rules/*.yaml)
- :mod:`.candidates`   model versions as rule inputs (challenger, champion, other registered versions)
- :mod:`.decide`       pure decision logic: eligibility (GIVEN/WHEN), MODEL_SELECTION, matching action rules
- :mod:`.servability`  load a version in a fresh process and predict on real input
- :mod:`.history`      durable, serialized alias moves (who, when, why, previous version)
- :mod:`.rollback`     re-point ``champion`` to an earlier version in one step
"""
