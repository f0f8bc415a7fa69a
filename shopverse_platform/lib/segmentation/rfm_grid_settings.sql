-- The grid rfm_segments.sql names segments from (rfm.RFM_GRID: R against FM). Its callers bind only
-- $before, so the grid is bound here, into a connection variable, when the query text is made.
SET VARIABLE segmentation_rfm_grid = CAST($grid AS STRUCT(r_score INTEGER, fm_score INTEGER, rfm_segment VARCHAR)[])
