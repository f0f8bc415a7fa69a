"""Daily and weekly reports: data loading, insights (pure functions), figures, HTML and Markdown."""
