"""The embedded llama-server (LLM and reranker): assets and processes."""
