# One virtual environment, made on first use and remade when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MNIST ?= ../shared/data/mnist.npz

.PHONY: install test serve proto model evaluate compare accuracy bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest

# The gRPC server on the bundled model: gRPC on :50051, Prometheus metrics on :9100 (see README).
serve: $(STAMP)
	$(BIN)/zipcode-server

# Regenerate service/api/ from proto/zipcode/v1/zipcode.proto (a test fails while it is stale).
proto: $(STAMP)
	$(BIN)/python tools/gen_proto.py

# Retrain the bundled model on the full MNIST and export it as the next version under models/zipnet/.
model: $(STAMP)
	$(BIN)/zipcode-train train --arch zipnet --data $(MNIST) --export models/zipnet

evaluate: $(STAMP)
	$(BIN)/zipcode-train evaluate --model models/zipnet --data $(MNIST)

compare: $(STAMP)
	$(BIN)/zipcode-train compare --data $(MNIST)

accuracy: $(STAMP)
	$(BIN)/python bench/accuracy.py --data $(MNIST) --count 500 --curve docs/error_reject.png

# Throughput and latency: servers with batching on and off, Tesseract, the model alone (docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python bench/throughput.py --data $(MNIST) --duration 10

# Ten minutes at moderate load: errors, latency drift, memory growth (docs/benchmarks.md).
soak: $(STAMP)
	$(BIN)/python bench/soak.py --data $(MNIST) --minutes 10

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
