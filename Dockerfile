# The contactpoint command (CLI, loaders, and later the API) for docker-compose.
FROM python:3.11-slim
WORKDIR /work
COPY pyproject.toml README.md ./
COPY graph ./graph
COPY api ./api
COPY dashboard ./dashboard
COPY loaders ./loaders
COPY contactpoint ./contactpoint
RUN pip install --no-cache-dir . && useradd --create-home contactpoint && mkdir -p /work/var && chown contactpoint /work/var
USER contactpoint
ENTRYPOINT []
