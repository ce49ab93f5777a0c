"""Training building blocks: estimator from the spec, preprocessing, time split, metrics, hashes.

Everything here imports scikit-learn / pandas lazily or is imported only from ``execute()``.
"""
