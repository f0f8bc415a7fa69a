-- The invoice day of an export line from its InvoiceDate text (NULL if unparseable): the exports
-- seen so far write it in one of these three layouts.
CAST(coalesce(try_strptime(InvoiceDate, '%Y-%m-%d %H:%M:%S'),
              try_strptime(InvoiceDate, '%Y-%m-%d %H:%M'),
              try_strptime(InvoiceDate, '%m/%d/%Y %H:%M')) AS DATE)
