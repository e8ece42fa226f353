# zipcode-recognizer: the gRPC service on the bundled model.
#   docker build -t zipcode-recognizer .                      CPU
#   docker build --build-arg VARIANT=gpu -t zipcode-recognizer:gpu .   NVIDIA GPU (tensorflow[and-cuda])
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

ARG VARIANT=cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    ZIPCODE_LOG_FORMAT=json

WORKDIR /app
# Only what the service needs: the packages, the bundled model and the project metadata.
COPY pyproject.toml README.md ./
COPY training ./training
COPY service ./service
COPY models ./models
# The same editable install as `make serve`, so the bundled model resolves to /app/models/zipnet.
RUN pip install --upgrade pip \
 && if [ "$VARIANT" = "gpu" ]; then pip install -e ".[gpu]"; else pip install -e .; fi \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin zipcode

USER zipcode
EXPOSE 50051 9100
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["zipcode-client", "--target", "localhost:50051", "--timeout", "3", "health"]
CMD ["zipcode-server"]
