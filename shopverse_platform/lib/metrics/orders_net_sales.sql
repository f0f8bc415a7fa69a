-- The order fact's net sales over the documents the checked table reads (its condition, spliced).
SELECT sum(net_amount) FROM orders WHERE {{documents}}
