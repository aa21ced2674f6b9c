# syntax=docker/dockerfile:1
# The todo-agent image: one image for the web host, the three services and the migration job (the Helm chart
# picks the command). Build it from the repository root:
#   docker build -t todo-agent:0.1.0 .
# Stage 1 builds the project's wheel and installs it with its dependencies into a virtualenv; stage 2 is a slim
# Python with that virtualenv only: no compiler, no pip, no source tree. It runs as uid 10001 and writes nothing
# outside /data (TODO_AGENT_DATA_DIR) and /tmp, so it runs with a read-only root filesystem.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent/ agent/
COPY domain/ domain/
COPY evals/ evals/
COPY mcp_server/ mcp_server/
COPY runtime/ runtime/
COPY services/ services/
COPY web/ web/
# The same wheel `tests/integration/test_dockerfile.py` builds and checks: the project's own, nothing else from the tree.
RUN pip wheel --no-deps --wheel-dir /dist .
RUN python -m venv --without-pip /opt/todo-agent \
 && pip --python /opt/todo-agent/bin/python install --compile /dist/todo_agent-*-py3-none-any.whl

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="todo-agent" \
      org.opencontainers.image.description="A chat-first task manager whose primary interface is a set of MCP tools." \
      org.opencontainers.image.licenses="MIT"
# The base image's own pip and setuptools go too: nothing installs at run time.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid 10001 todo \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin todo \
 && install -d -o 10001 -g 10001 -m 0700 /data
COPY --from=build /opt/todo-agent /opt/todo-agent
ENV PATH=/opt/todo-agent/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    TODO_AGENT_DATA_DIR=/data \
    TODO_AGENT_HOST=0.0.0.0
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# The web host listens on 8000, the reminder, recurrence and audit services on 8001-8003 (GET /healthz, /readyz).
EXPOSE 8000 8001 8002 8003
ENTRYPOINT ["todo-agent"]
CMD ["serve"]
