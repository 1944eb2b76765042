# agent-trace runtime: the collector (8317, OTLP/gRPC 4717) and the API (8318), on PostgreSQL +
# ClickHouse. Build from the repository root:
#   docker build -f docker/runtime.Dockerfile -t agent-trace-runtime .
# Which roles run is RUNTIME_SERVICE_ROLE (default collector,api); migrations run on start unless
# RUNTIME_RUN_MIGRATIONS=false. See docs/OPERATIONS.md.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The `server` extra: psycopg (PostgreSQL) and clickhouse-connect (a ClickHouse server). chdb, the
# in-process ClickHouse used by tests and laptops, is not needed in a container.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[server]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/agent-trace agent-trace
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels agent-trace[server] && rm -rf /wheels
USER agent-trace
WORKDIR /var/lib/agent-trace
ENV AGENT_TRACE_HOME=/var/lib/agent-trace \
    RUNTIME_SERVICE_ROLE=collector,api \
    RUNTIME_HOST=0.0.0.0 \
    AGENT_TRACE_INSECURE_NO_AUTH=true \
    RUNTIME_RUN_MIGRATIONS=true \
    COLLECTOR_PORT=8317 \
    API_PORT=8318 \
    OTEL_GRPC_ADDRESS=0.0.0.0:4717 \
    PYTHONUNBUFFERED=1
EXPOSE 8317 8318 4717
# 200 from /health of every role this container serves (503 while a database is unreachable).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=6 \
    CMD ["python", "-c", "import os, urllib.request as u; roles = os.environ['RUNTIME_SERVICE_ROLE']; ports = [os.environ[v] for r, v in (('collector', 'COLLECTOR_PORT'), ('api', 'API_PORT')) if r in roles or roles == 'all']; [u.urlopen(f'http://127.0.0.1:{p}/health', timeout=4) for p in ports]"]
CMD ["agent-trace", "serve"]
