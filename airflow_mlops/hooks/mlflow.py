"""Hook module for mlflow (filled in by its stage)."""
