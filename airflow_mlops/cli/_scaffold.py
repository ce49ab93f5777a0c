"""The files ``airflow-mlops new`` writes for a model: spec, Feast definitions and data generator (as text).

Nothing here touches the disk; :mod:`airflow_mlops.cli.new` checks and writes what these functions return.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

CREATED = "created"  # ingestion-time column of the Feast source (the generator writes it)
FEATURE_TYPES = ("int", "float", "str", "bool")
ENTITY_TYPES = ("int", "str")
FEAST_TYPES = {"int": "Int64", "float": "Float64", "str": "String", "bool": "Bool"}
ESTIMATORS = {
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
}
# A first bar for promotion; edit it once real metrics are known.
PROMOTE_WHEN = {"regression": 'metrics["r2"] >= 0.5', "classification": 'metrics["auc"] >= 0.6'}


@dataclass(frozen=True)
class Model:
    """What the user declared on the command line."""

    name: str
    entity: str
    entity_type: str
    timestamp: str
    task: str
    features: tuple[tuple[str, str], ...]  # (column, type)
    label: str
    team: str
    repo: str = "configs/feature_repo"

    @property
    def categorical(self) -> list[str]:
        return [c for c, t in self.features if t == "str"]


def _flow(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def spec_text(m: Model) -> str:
    """``dags/NAME.yaml``: a complete spec that passes ``airflow-mlops validate`` as written."""
    refs = "\n".join(f"    - {m.name}:{c}" for c, _ in m.features)
    columns = "\n".join(f"    {c}: {{type: {t}, not_null: true}}" for c, t in m.features)
    slices = m.categorical[:1]
    promote = PROMOTE_WHEN[m.task]
    return f"""# {m.name}: {m.task} model scaffolded by `airflow-mlops new` (see docs/add-a-model.md).
# Check with: airflow-mlops validate dags/{m.name}.yaml
model:
  name: {m.name}
  team: {m.team}
  task: {m.task}
  description: TODO describe what {m.label} is and who uses the predictions.
schedule: {{train: "@weekly", score: "@daily", monitor: "@daily"}}
features:
  repo: {m.repo}
  entity: {m.entity}
  timestamp: {m.timestamp}
  refs:  # feature view {m.name} in {m.repo}/{m.name}_features.py
{refs}
  label: {m.label}
  label_source: {m.name}_labels.parquet  # {m.entity}, {m.timestamp}, {m.label}; under $AIRFLOW_MLOPS_HOME/data
  feature_service: {m.name}
validation:
  columns:
{columns}
  row_count: {{min: 100}}
  freshness: {{column: {m.timestamp}, max_age: 30d}}
  on_failure: quarantine
  max_bad_fraction: 0.1
training:
  estimator: {ESTIMATORS[m.task]}
  params: {{max_iter: 200}}
  holdout: {{by: {m.timestamp}, fraction: 0.2}}
  slices: {_flow(slices)}
  categorical: {_flow(m.categorical)}
promotion:
  selection_rules:
    - team: {m.team}
      uuid: {uuid.uuid4()}
      given: model_name == "{m.name}"
      when: {promote}
      model_selection: a.created_time > b.created_time
  action_rules:
    - team: {m.team}
      uuid: {uuid.uuid4()}
      given: model_name == "{m.name}"
      when: {promote}
      callback_actions:
        - {{action: deploy, alias: champion}}
scoring:
  destination: {{conn_id: scores_db, table: {m.name}_scores}}
monitoring:
  retrain_on: [drift, metric_drop, schedule, manual]
"""


def feature_text(m: Model) -> str:
    """``<repo>/NAME_features.py``: entity, batch source, feature view and feature service of the model.

    Self-contained (imports only Feast), so it neither edits nor depends on the repo's other files.
    """
    types = sorted({FEAST_TYPES[t] for _, t in m.features})
    fields = "\n".join(f'        Field(name="{c}", dtype={FEAST_TYPES[t]}),' for c, t in m.features)
    value_type = "INT64" if m.entity_type == "int" else "STRING"
    return f'''"""Feast definitions of the {m.name} model (written by `airflow-mlops new`; edit freely).

Source rows: ``<data root>/{m.name}.parquet`` (``include/generators/{m.name}.py`` writes synthetic
ones), or the PostgreSQL table ``{m.name}`` when ``AIRFLOW_MLOPS_FEATURE_SOURCE=postgres`` (see README.md).
Columns: ``{m.entity}`` (entity key), ``{m.timestamp}`` (event time), ``{CREATED}`` (ingestion time: when
two rows share a key and event time, Feast serves the one created last; set ``CREATED = None`` if your
data has no such column) and the features below.
"""

from __future__ import annotations

import os
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import {", ".join(types)}

TIMESTAMP = "{m.timestamp}"
CREATED: str | None = "{CREATED}"


def _source(name: str):
    """A batch source as ``features.py`` defines them: parquet file or PostgreSQL table ``name``."""
    kind = os.environ.get("AIRFLOW_MLOPS_FEATURE_SOURCE", "file")
    if kind == "file":
        root = os.path.expandvars(os.environ.get("AIRFLOW_MLOPS_FEATURE_DATA", "${{AIRFLOW_MLOPS_HOME}}/data"))
        if "$" in root:
            raise RuntimeError(f"feature data {{root!r}}: set AIRFLOW_MLOPS_HOME or AIRFLOW_MLOPS_FEATURE_DATA")
        return FileSource(
            name=name,
            path=f"{{root.rstrip('/')}}/{{name}}.parquet",
            timestamp_field=TIMESTAMP,
            created_timestamp_column=CREATED or "",
            s3_endpoint_override=os.environ.get("AWS_ENDPOINT_URL"),
        )
    if kind == "postgres":
        from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource

        return PostgreSQLSource(
            name=name,
            query=f"SELECT * FROM {{name}}",
            timestamp_field=TIMESTAMP,
            created_timestamp_column=CREATED or "",
        )
    raise ValueError(f"AIRFLOW_MLOPS_FEATURE_SOURCE={{kind!r}}: expected 'file' or 'postgres'")


{m.name}_entity = Entity(
    name="{m.name}_{m.entity}", join_keys=["{m.entity}"], value_type=ValueType.{value_type}, description="TODO"
)

{m.name}_view = FeatureView(
    name="{m.name}",
    entities=[{m.name}_entity],
    ttl=timedelta(days=2),  # how old a feature row may be at a label's time and still be served
    schema=[
{fields}
    ],
    source=_source("{m.name}"),
    online=True,
    description="Features of the {m.name} model.",
    tags={{"team": "{m.team}"}},
)

{m.name}_service = FeatureService(
    name="{m.name}",
    features=[{m.name}_view],
    description="Features of the {m.name} model (dags/{m.name}.yaml).",
)
'''


def generator_text(m: Model) -> str:
    """``include/generators/NAME.py``: synthetic data with the declared columns (run by the demo)."""
    features = "\n".join(f'    Column("{c}", "{t}"),' for c, t in m.features)
    return f'''"""Synthetic data for the {m.name} model (written by `airflow-mlops new`; make it realistic).

Writes ``{m.name}.parquet`` (Feast source: {m.entity}, {m.timestamp}, created, features) and
``{m.name}_labels.parquet`` ({m.entity}, {m.timestamp}, {m.label}) to OUT_DIR:
``python -m include.generators.{m.name} OUT_DIR``; ``python -m include.datagen OUT_DIR`` and
``airflow-mlops demo`` run it too.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from include.generators._synthetic import Column, tables, write

MODEL = "{m.name}"
ENTITY = Column("{m.entity}", "{m.entity_type}")
TIMESTAMP = "{m.timestamp}"
FEATURES = [
{features}
]
LABEL = "{m.label}"
TASK = "{m.task}"


def generate(
    out_dir: str | Path, days: int = 28, *, end: datetime | None = None, drift: bool = False, entities: int = 20
) -> dict[str, Path]:
    """Write ``days`` of hourly rows per entity up to ``end`` (default: now); return the files written."""
    frames = tables(
        entity=ENTITY,
        timestamp=TIMESTAMP,
        features=FEATURES,
        label=LABEL,
        task=TASK,
        days=days,
        entities=entities,
        end=end,
        drift=drift,
    )
    return write(out_dir, MODEL, frames)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--drift", action="store_true")
    args = parser.parse_args()
    for name, path in generate(args.out_dir, args.days, drift=args.drift).items():
        print(f"{{name}}: {{path}}")
'''
