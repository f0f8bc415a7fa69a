"""The warehouse, shared by every layer: table existence and shape, atomic replacement of a date
window or a whole table, the empty shapes of the clean tables, and SQL loaded from files."""
