"""Reports as text: Markdown and a self-contained HTML page, from `pipelines.reports`."""
