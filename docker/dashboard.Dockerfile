# agent-trace dashboard (3100): server-rendered pages that read everything through the API
# (DASHBOARD_API_BASE_URL), so this image needs no database driver and gets no credentials.
# Build from the repository root:
#   docker build -f docker/dashboard.Dockerfile -t agent-trace-dashboard .

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/agent-trace agent-trace
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "agent-trace[postgres]" && rm -rf /wheels
USER agent-trace
WORKDIR /var/lib/agent-trace
ENV AGENT_TRACE_HOME=/var/lib/agent-trace \
    RUNTIME_SERVICE_ROLE=dashboard \
    RUNTIME_HOST=0.0.0.0 \
    AGENT_TRACE_INSECURE_NO_AUTH=true \
    DASHBOARD_PORT=3100 \
    DASHBOARD_API_BASE_URL=http://runtime:8318 \
    PYTHONUNBUFFERED=1
EXPOSE 3100
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen(f\"http://127.0.0.1:{os.environ['DASHBOARD_PORT']}/health\", timeout=4)"]
CMD ["agent-trace", "serve"]
