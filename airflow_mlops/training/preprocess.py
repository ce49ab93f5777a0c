"""The preprocessing a training set's columns call for, as one scikit-learn Pipeline with the estimator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

TREE_MODULES = ("sklearn.ensemble", "sklearn.tree")


def categorical_columns(frame: pd.DataFrame, features: list[str], declared: list[str]) -> list[str]:
    """Declared categorical features plus every string, category or bool column."""
    import pandas as pd

    inferred = [
        c
        for c in features
        if pd.api.types.is_object_dtype(frame[c])
        or pd.api.types.is_string_dtype(frame[c])
        or isinstance(frame[c].dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(frame[c])
    ]
    return [c for c in features if c in declared or c in inferred]


def build_pipeline(estimator: Any, numeric: list[str], categorical: list[str]) -> Any:
    """Impute (+ scale unless tree-based) numeric columns, impute + one-hot categorical ones, then ``estimator``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if not type(estimator).__module__.startswith(TREE_MODULES):
        numeric_steps.append(("scale", StandardScaler()))
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), numeric))
    if categorical:
        categorical_steps = [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
        transformers.append(("categorical", Pipeline(categorical_steps), categorical))
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])
