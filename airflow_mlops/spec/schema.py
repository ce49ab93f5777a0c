"""The model spec: one YAML file per model, validated by these pydantic models.

Every section rejects unknown keys, so a typo is an error rather than a silently ignored setting.
Rule expressions are compiled while the spec is validated (see :mod:`airflow_mlops.rules`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_mlops.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS  # re-exported
from airflow_mlops.spec.paths import check_relative
from airflow_mlops.spec.schedule import ScheduleText

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
FEATURE_REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*$"
DURATION_PATTERN = r"^\d+(s|m|h|d|w)$"

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, examples=["30m", "6h", "2d"])]
# A path inside the project (or data) folder: relative, no "..". Symbolic links out are checked when loading.
RelativePath = Annotated[str, AfterValidator(check_relative)]


def duration_seconds(value: str) -> int:
    """Seconds in a duration such as ``90s``, ``30m``, ``6h``, ``2d`` or ``1w``."""
    match = re.fullmatch(DURATION_PATTERN, value)
    if not match:
        raise ValueError(f"not a duration: {value!r} (expected e.g. 30m, 6h, 2d)")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(1)]
    return int(value[:-1]) * unit


class Strict(BaseModel):
    """Base for spec sections: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ModelSection(Strict):
    """Who the model is: its name is the registered model name and the DAG id prefix."""

    name: str = Field(pattern=NAME_PATTERN, description="Registered model name and DAG id prefix.")
    team: str = Field(min_length=1, description="Owning team; also the Airflow DAG owner.")
    domain: str = Field(default="default", description="Business domain, e.g. UberX; rules can match it.")
    task: Literal["regression", "classification"]
    description: str = ""
    tags: list[str] = Field(default_factory=list, description="Extra Airflow DAG tags.")


class Schedule(Strict):
    """Cron expressions or presets for each DAG; null means manual/asset-triggered only."""

    train: ScheduleText | None = "@weekly"
    score: ScheduleText | None = "@hourly"
    monitor: ScheduleText | None = "@daily"


class Features(Strict):
    """Where the features come from: a Feast repo, the entity key, the feature refs and the label."""

    repo: RelativePath = Field(default="configs/feature_repo", description="Feast repo, relative to the project root.")
    entity: Identifier = Field(description="Entity join key, e.g. zone_id.")
    refs: list[Annotated[str, Field(pattern=FEATURE_REF_PATTERN)]] = Field(
        min_length=1, description="Feast feature references, feature_view:feature."
    )
    label: Identifier = Field(description="Label column of the label source.")
    timestamp: Identifier = "event_timestamp"
    label_source: RelativePath = Field(
        description="Parquet file of entity keys, timestamps and labels (relative to the MLOps data folder)."
    )
    scoring_source: RelativePath | None = Field(
        default=None,
        description="Parquet file of entity keys and timestamps to score; defaults to the label source.",
    )
    feature_service: Identifier | None = None

    @property
    def feature_names(self) -> list[str]:
        """Column names the refs produce in a training set."""
        return [ref.split(":", 1)[1] for ref in self.refs]


ColumnType = Literal["int", "float", "str", "bool", "datetime"]


class ColumnRule(Strict):
    """Expectations for one column."""

    type: ColumnType | None = None
    min: float | None = None
    max: float | None = None
    not_null: bool = False
    allowed: list[str | int | float | bool] | None = None
    unique: bool = False

    @model_validator(mode="after")
    def _min_below_max(self) -> ColumnRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class RowCount(Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class Freshness(Strict):
    """The newest value of ``column`` must be younger than ``max_age`` at run time."""

    column: Identifier = "event_timestamp"
    max_age: Duration = "2d"


class Validation(Strict):
    """Data gate run before training and before scoring (a Great Expectations suite)."""

    columns: dict[Identifier, ColumnRule] = Field(default_factory=dict)
    row_count: RowCount | None = None
    freshness: Freshness | None = None
    on_failure: Literal["fail", "quarantine"] = "fail"
    max_bad_fraction: float = Field(default=0.1, ge=0, le=1)
    duplicates: Literal["quarantine", "drop", "fail"] = Field(
        default="quarantine",
        description="Rows sharing an (entity, timestamp) key. quarantine: exact copies dropped to one (counted), "
        "conflicting copies all quarantined; drop: the first row of each key kept; fail: any duplicate rejects "
        "the batch.",
    )
    max_clock_skew: Duration = Field(
        default="1h", description="Rows stamped later than run time + this are quarantined as future rows."
    )
    label: ColumnRule | None = Field(
        default=None, description="Rules on the label, checked before training only (never on scoring data)."
    )


class Holdout(Strict):
    """The evaluation window: the most recent ``fraction`` of rows ordered by ``by``."""

    by: Identifier = "event_timestamp"
    fraction: float = Field(default=0.2, gt=0, lt=1)


class Training(Strict):
    """A scikit-learn estimator named by dotted path, its params, metrics and slices."""

    estimator: str = Field(
        pattern=r"^sklearn(\.[A-Za-z_][A-Za-z0-9_]*)+$",
        description="Dotted path of a scikit-learn estimator class.",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    holdout: Holdout = Field(default_factory=Holdout)
    metrics: list[str] | None = Field(default=None, description="Defaults to every metric of the task.")
    slices: list[Identifier] = Field(default_factory=list, description="Categorical columns for per-slice metrics.")
    categorical: list[Identifier] = Field(default_factory=list, description="Features to one-hot encode.")
    random_state: int = 42


class CallbackAction(Strict):
    """What an action rule does when it fires."""

    action: Literal["deploy", "tag", "notify", "trigger_dag"]
    alias: str | None = Field(default=None, pattern=NAME_PATTERN)
    key: str | None = None
    value: str | None = None
    message: str | None = None
    dag_id: str | None = None
    conf: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _required_fields(self) -> CallbackAction:
        needs = {"deploy": ["alias"], "tag": ["key", "value"], "trigger_dag": ["dag_id"], "notify": []}
        missing = [f for f in needs[self.action] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"action {self.action!r} needs {', '.join(missing)}")
        return self


class _Rule(Strict):
    team: str | None = None
    uuid: str | None = None
    given: str = "true"
    when: str = "true"
    environment: str = "production"

    @field_validator("given", "when")
    @classmethod
    def _condition_compiles(cls, text: str) -> str:
        from airflow_mlops.rules import check_condition

        check_condition(text)
        return text


class SelectionRule(_Rule):
    """Gallery model selection rule: GIVEN / WHEN / ENVIRONMENT / MODEL_SELECTION."""

    model_selection: str = "a.created_time > b.created_time"

    @field_validator("model_selection")
    @classmethod
    def _selection_compiles(cls, text: str) -> str:
        from airflow_mlops.rules import check_selection

        check_selection(text)
        return text


class ActionRule(_Rule):
    """Gallery action rule: GIVEN / WHEN / ENVIRONMENT / CALLBACK_ACTIONS."""

    callback_actions: list[CallbackAction] = Field(min_length=1)


class Promotion(Strict):
    """Which version serves: selection rules pick, action rules act."""

    environment: str = "production"
    selection_rules: list[SelectionRule] = Field(default_factory=list)
    action_rules: list[ActionRule] = Field(default_factory=list)
    rule_files: list[RelativePath] = Field(
        default_factory=list, description="Shared rule files under configs/rules/, relative to the project root."
    )
    compare_on: Literal["fresh_holdout"] = "fresh_holdout"


class Destination(Strict):
    """Scores table, reached through an Airflow connection (never credentials here)."""

    conn_id: str = Field(default="scores_db", pattern=r"^[A-Za-z0-9_.-]+$")
    table: Identifier


class Scoring(Strict):
    destination: Destination
    chunk_rows: int = Field(default=100_000, ge=1)
    shadow: bool = Field(default=False, description="Also score the challenger, with role=challenger.")
    online_store: bool = Field(
        default=False,
        description="Keep Feast's online store current for online serving: each score run materializes up to the "
        "end of its interval, incrementally. Batch scoring and training read features offline and never need it.",
    )
    min_rows_fraction: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Fail instead of replacing a logical date's scores with fewer than this fraction of their "
        "rows (an empty batch never replaces scores).",
    )
    keep_superseded_runs: int | None = Field(
        default=10, ge=0, description="Re-scored runs per date whose rows stay queryable (null: all)."
    )
    keep_superseded_days: int | None = Field(
        default=None, ge=1, description="Purge rows of runs superseded longer ago (null: no age limit)."
    )


RetrainTrigger = Literal["drift", "new_data", "metric_drop", "schedule", "code_change", "manual"]


class Drift(Strict):
    share_of_drifted_columns: float = Field(default=0.3, gt=0, le=1)
    sample_rows: int = Field(default=100_000, ge=1000, description="Rows sampled per side for large inputs.")


class Monitoring(Strict):
    drift: Drift = Field(default_factory=Drift)
    quality_rules: list[str] = Field(
        default_factory=list,
        description='Rules on live metrics, e.g. metrics["mae"] <= 6; failing one is a metric_drop.',
    )
    retrain_on: list[RetrainTrigger] = Field(default_factory=lambda: ["drift", "manual", "schedule"])
    cooldown: Duration = "6h"
    report_conn_id: str | None = Field(
        default=None, description="S3 connection for reports; local files under the MLOps home when unset."
    )
    report_bucket: str | None = None

    @field_validator("quality_rules")
    @classmethod
    def _quality_rules_compile(cls, rules: list[str]) -> list[str]:
        from airflow_mlops.rules import check_condition

        for text in rules:
            check_condition(text)
        return rules


class ModelSpec(Strict):
    """A whole model spec."""

    model: ModelSection
    schedule: Schedule = Field(default_factory=Schedule)
    features: Features
    validation: Validation = Field(default_factory=Validation)
    training: Training
    promotion: Promotion = Field(default_factory=Promotion)
    scoring: Scoring
    monitoring: Monitoring = Field(default_factory=Monitoring)

    @model_validator(mode="after")
    def _metrics_fit_task(self) -> ModelSpec:
        allowed = REGRESSION_METRICS if self.model.task == "regression" else CLASSIFICATION_METRICS
        if self.training.metrics is None:
            self.training.metrics = list(allowed)
        unknown = [m for m in self.training.metrics if m not in allowed]
        if unknown:
            raise ValueError(
                f"training.metrics: {unknown} are not {self.model.task} metrics (choose from {list(allowed)})"
            )
        return self

    @property
    def dag_ids(self) -> dict[str, str]:
        """DAG id of each generated pipeline."""
        name = self.model.name
        return {kind: f"{name}__{kind}" for kind in ("train", "score", "monitor", "rollback")}


def json_schema() -> dict[str, Any]:
    """JSON Schema of a spec, for editor autocompletion."""
    schema = ModelSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "airflow-mlops model spec"
    return schema
