# One virtual environment, made on first use and remade when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MNIST ?= ../shared/data/mnist.npz

.PHONY: install test serve proto model finetune evaluate compare accuracy bench soak clean

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

# Retrain the bundled model: zipnet on the full MNIST (next version under models/zipnet/), then digits cut
# by the pipeline out of generated fields, and a fine-tune on MNIST plus those (the version after).
FIELDS ?= build/field_digits.npz
model: $(STAMP)
	$(BIN)/zipcode-train train --arch zipnet --data $(MNIST) --export models/zipnet
	$(MAKE) finetune

finetune: $(STAMP)
	mkdir -p $(dir $(FIELDS))
	$(BIN)/python tools/make_field_digits.py --data $(MNIST) --count 12000 --test-count 2000 --out $(FIELDS)
	$(BIN)/zipcode-train finetune --model models/zipnet --fields $(FIELDS) --data $(MNIST) --export models/zipnet

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
