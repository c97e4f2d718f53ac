"""docsight's runtime: settings, adapters, API and CLI around the domain in `pipelines`."""
