"""Models of the platform: point-in-time training sets, candidate estimators, evaluation, MLflow
tracking and a gated model registry, plus the CDNOW lifetime-value evaluation.

No Dagster objects here. scikit-learn and MLflow are imported inside functions: loading the code
location must stay fast.
"""
