-- The newest stored behaviour-cluster model, one row per cluster in cluster order.
SELECT fitted_at, as_of_date, fitted_by, k, cluster, cluster_label, centre, features, feature_mean, feature_std,
       silhouette, customers_fitted, mlflow_run_id
FROM {{model}}
WHERE fitted_at = (SELECT max(fitted_at) FROM {{model}})
ORDER BY cluster
