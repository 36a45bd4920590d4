# supportflow: one image for every production process (docs/production.md).
#   docker build -t supportflow:0.1.0 .
#   docker run ... supportflow:0.1.0                          the API (`supportflow api`)
#   docker run ... supportflow:0.1.0 supportflow worker       a worker
#   docker run ... supportflow:0.1.0 supportflow db upgrade   the app database's migrations
# No secrets are baked in: keys, tokens and database passwords come from the environment
# (SUPPORTFLOW_*) or from mounted files at run time.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
FROM ${PYTHON_IMAGE}

# SUPPORTFLOW_MODEL_CACHE_DIR: the local understanding model, trained below at build time.
# SUPPORTFLOW_DATA_DIR: a process's own files (the app database is Postgres in production).
# SUPPORTFLOW_API_HOST: in a container the API listens on every interface (a Service or a
# proxy is in front). SUPPORTFLOW_WORKER_METRICS_HOST and SUPPORTFLOW_WORKER_METRICS_PORT:
# a worker's /metrics and /health.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/supportflow/venv/bin:$PATH \
    MPLCONFIGDIR=/tmp/matplotlib \
    SUPPORTFLOW_MODEL_CACHE_DIR=/opt/supportflow/model \
    SUPPORTFLOW_DATA_DIR=/var/lib/supportflow \
    SUPPORTFLOW_API_HOST=0.0.0.0 \
    SUPPORTFLOW_API_PORT=8400 \
    SUPPORTFLOW_WORKER_METRICS_HOST=0.0.0.0 \
    SUPPORTFLOW_WORKER_METRICS_PORT=9400 \
    SUPPORTFLOW_LOG_FORMAT=json

# The project with its pinned dependencies (pyproject.toml), not editable and without the
# dev extras, in a venv of its own (as scripts/_venv.sh makes .venv); the sources go after.
WORKDIR /opt/supportflow/build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/supportflow/venv \
 && pip install --quiet pip==25.3 \
 && pip install --quiet . \
 && cd / && rm -rf /opt/supportflow/build

# The build step scripts/_venv.sh runs too: train the local understanding model from the
# shipped data now, never at run time. The cache file is named by a hash of the installed
# package's data and code, so this installed package is the one that finds it. It stays
# root's and read-only: a process that would train at run time fails instead of stalling.
RUN supportflow understanding train \
 && python -c "from supportflow.understanding.train import model_path as p; assert p().exists(), p()" \
 && chmod -R a+rX,go-w /opt/supportflow/model

# An unprivileged user with a private data dir; every process runs as this user.
RUN groupadd --system --gid 10001 supportflow \
 && useradd --system --uid 10001 --gid supportflow --home-dir /var/lib/supportflow \
      --shell /usr/sbin/nologin supportflow \
 && install -d -o supportflow -g supportflow -m 0700 /var/lib/supportflow

# The working directory holds no .env (Settings would read one): secrets come from outside.
WORKDIR /var/lib/supportflow
USER 10001:10001

# 8400: the API (and its codec server, /codec). 9400: a worker's /metrics and /health.
EXPOSE 8400 9400

# No HEALTHCHECK here: the same image runs the API, workers and one-shot commands, so each
# runner probes what the process serves (deploy/compose/compose.yaml, deploy/k8s/).
CMD ["supportflow", "api"]
