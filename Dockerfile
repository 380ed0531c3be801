# syntax=docker/dockerfile:1
#
# One image for the whole Portico suite: every service and the gateway, and
# neither the `portico` CLI nor the embedded NATS and PostgreSQL servers.
# The component is chosen at run time by the command:
#   python -m portico_<tenancy|auth|security|compat|rollout|slo>   (gRPC services)
#   python -m portico_gateway                                      (HTTP+JSON front door, the default)
#
# Build:  docker build -t portico:dev .
# The build context needs only pyproject.toml, uv.lock, libs/ and services/;
# nothing else is copied, so a local .venv or .portico/ never reaches the image.

ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13.9

# The official distroless uv image: only the uv/uvx binaries, pinned to the
# version the workspace's uv_build backend requires (>=0.13.9,<0.14).
FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# ---------------------------------------------------------------------------
# build: resolve nothing, install exactly what uv.lock says into /opt/portico.
# ---------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS build
COPY --from=uv /uv /uvx /bin/

# UV_PYTHON pins the interpreter to the image's own CPython (no downloads), so
# the venv's python symlink resolves identically in the runtime stage, which
# uses the same base image.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/opt/portico

WORKDIR /src

# Only the deployables: the six services and the gateway, each `--package`
# with what it imports. The dev stack (portico-cli, and portico-embedded with
# its NATS and PostgreSQL servers) is never installed: tests/deploy checks
# these exact commands against uv.lock.
#
# Third-party dependencies only, in their own layer: it is rebuilt when uv.lock
# changes, not on every source edit. --frozen needs only the root pyproject.toml
# and uv.lock here (the members' pyproject.toml files are not read).
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-workspace \
        --package portico-gateway --package portico-auth --package portico-compat \
        --package portico-rollout --package portico-security --package portico-slo \
        --package portico-tenancy

# Then the workspace members, installed as real wheels (--no-editable) so the
# runtime stage needs the venv alone, not the source tree.
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable \
        --package portico-gateway --package portico-auth --package portico-compat \
        --package portico-rollout --package portico-security --package portico-slo \
        --package portico-tenancy

# ---------------------------------------------------------------------------
# runtime: the venv, a non-root user, nothing else.
# ---------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

# A fixed numeric UID/GID so Kubernetes `runAsNonRoot` can verify it and
# volume ownership (fsGroup) is predictable.
RUN groupadd --system --gid 10001 portico \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin portico

# Owned by root and read-only to the service user: the code cannot be modified
# at run time, which also makes a read-only root filesystem work.
COPY --from=build /opt/portico /opt/portico

# PORTICO_GRPC_HOST / PORTICO_GATEWAY_HOST: inside a container the servers must
# listen on every interface (the settings default to loopback for laptops).
ENV PATH=/opt/portico/bin:$PATH \
    VIRTUAL_ENV=/opt/portico \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORTICO_GRPC_HOST=0.0.0.0 \
    PORTICO_GATEWAY_HOST=0.0.0.0 \
    PORTICO_LOG_FORMAT=json

WORKDIR /tmp
USER 10001:10001

# 50051 gRPC (services), 8080 HTTP (gateway), 9100 Prometheus /metrics.
EXPOSE 50051 8080 9100

CMD ["python", "-m", "portico_gateway"]
