"""Entry point for a standalone worker in production: `celery -A workers.main worker -Q ingest`."""

from services.runtime.composition import worker_app
from services.settings import Settings

app = worker_app(Settings())
