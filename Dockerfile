# syntax=docker/dockerfile:1
# The ShopVerse image: the project and its locked environment (uv.lock). docker-compose.yml runs it
# as the code-location gRPC server (where the run workers start), dagster-webserver,
# dagster-daemon and the MLflow tracking server.
#
#   docker build -t shopverse-platform:0.1.0 .

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /opt/shopverse/app
# Dependencies first, in their own layer: it is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project
COPY README.md ./
COPY shopverse_platform ./shopverse_platform
RUN uv sync --locked --no-dev

FROM ${PYTHON_IMAGE}
# Runs as an unprivileged user; the state directories below are the volumes' mount points, so a
# fresh named volume starts with this ownership.
RUN useradd --system --uid 10001 --create-home --home-dir /opt/shopverse --shell /usr/sbin/nologin shopverse
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    SHOPVERSE_DATA_DIR=/opt/shopverse/data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/shopverse/app /opt/shopverse/app
WORKDIR /opt/shopverse/app
COPY workspace.yaml dagster.yaml ./
COPY deploy ./deploy
RUN mkdir -p "$DAGSTER_HOME/storage" "$SHOPVERSE_DATA_DIR" /opt/mlflow/artifacts \
 && cp deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml" \
 && chown -R shopverse: "$DAGSTER_HOME" "$SHOPVERSE_DATA_DIR" /opt/mlflow
USER shopverse
EXPOSE 4000 3000 5000
CMD ["dagster", "api", "grpc", "-m", "shopverse_platform.definitions", "-h", "0.0.0.0", "-p", "4000"]
