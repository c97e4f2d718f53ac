"""Entry point for a standalone worker in production: `celery -A workers.main worker -Q ingest`."""

from workers.celery_app import create_celery

app = create_celery()
