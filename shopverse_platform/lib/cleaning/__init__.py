"""Cleaning: the event schema and its quarantine reasons, typed and deduplicated events and
sessions, order lines cleaned from the exports, and the product and customer dimensions."""
