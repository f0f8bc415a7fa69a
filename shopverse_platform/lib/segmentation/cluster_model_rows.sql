-- The fitted behaviour-cluster model as rows (lib/segmentation/cluster_store.py): one per cluster,
-- its centre in scaled units, with the scaling (features, signed-log mean and std) and the fit's
-- facts repeated on every row, so the daily step applies the model from this table alone. The
-- parallel unnests pair the i-th cluster, name and centre.
SELECT
    CAST($fitted_at AS TIMESTAMP) AS fitted_at,
    CAST($as_of_date AS DATE) AS as_of_date,
    CAST($fitted_by AS VARCHAR) AS fitted_by,
    CAST($k AS INTEGER) AS k,
    unnest(CAST($clusters AS INTEGER[])) AS cluster,
    unnest(CAST($names AS VARCHAR[])) AS cluster_label,
    unnest(CAST($centres AS DOUBLE[][])) AS centre,
    CAST($features AS VARCHAR[]) AS features,
    CAST($feature_mean AS DOUBLE[]) AS feature_mean,
    CAST($feature_std AS DOUBLE[]) AS feature_std,
    CAST($silhouette AS DOUBLE) AS silhouette,
    CAST($customers AS BIGINT) AS customers_fitted,
    CAST($mlflow_run_id AS VARCHAR) AS mlflow_run_id
