-- Clusters, distinct labels, unlabelled rows and all rows of behaviour_clusters.
SELECT count(DISTINCT cluster), count(DISTINCT cluster_label), count(*) FILTER (WHERE cluster_label IS NULL), count(*)
FROM behaviour_clusters
