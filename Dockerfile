# The contactpoint command for docker-compose.yml: the seed, the API and the dashboard all run this image.
# Every package of pyproject.toml's [tool.setuptools.packages.find] include is copied (tests/test_compose.py).
FROM python:3.11-slim
WORKDIR /work
COPY pyproject.toml README.md ./
COPY graph ./graph
COPY analytics ./analytics
COPY api ./api
COPY dashboard ./dashboard
COPY loaders ./loaders
COPY contactpoint ./contactpoint
RUN pip install --no-cache-dir . && useradd --create-home contactpoint && mkdir -p /work/var && chown contactpoint /work/var
USER contactpoint
ENTRYPOINT []
