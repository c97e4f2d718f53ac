"""The tasks' names and queues: how messages are addressed (no import of the task bodies)."""

PARSE_TASK = "docsight.parse_document"
INDEX_TASK = "docsight.index_document"
ANALYSIS_TASK = "docsight.run_analysis_job"
REPORT_TASK = "docsight.build_report"
DISPATCH_REPORTS_TASK = "docsight.dispatch_reports"
SWEEP_TASK = "docsight.sweep_stuck_work"
REINDEX_TASK = "docsight.reindex_tenant"
"""A tenant moved to the configured embedder's collection; on the `ingest` queue."""

INGEST_QUEUE = "ingest"
INDEX_QUEUE = "index"
"""Index steps: many threads, most waiting for the shared embedding batches."""
ANALYSIS_QUEUE = "analysis"
REPORT_QUEUE = "reports"
QUEUES = (INGEST_QUEUE, ANALYSIS_QUEUE)
"""What the embedded worker's main pool consumes; `REPORT_QUEUE` has a pool of its own."""
