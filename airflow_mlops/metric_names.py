"""The metric names of each task: a leaf module (imports nothing), shared by the spec and the rule language."""

REGRESSION_METRICS = ("mae", "rmse", "r2", "bias")
CLASSIFICATION_METRICS = ("auc", "logloss", "f1", "precision", "recall", "accuracy")
