"""Monitoring and continuous training: Evidently reports, retrain triggers, cooldown ledger.

Light modules (safe for DAG parsing): :mod:`.assets`, :mod:`.reason`. The others import pandas,
Evidently or MLflow and are used only inside ``execute()`` or the CLI.
"""
