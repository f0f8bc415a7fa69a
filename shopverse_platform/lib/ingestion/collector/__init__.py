"""The HTTP event collector (``shopverse collect``): the front door of the landing zone."""
