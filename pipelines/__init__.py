"""docsight's domain: pure Python, no web framework, broker, vector engine or LLM client."""
