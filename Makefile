# One virtual environment, made on first use and remade when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MNIST ?= ../shared/data/mnist.npz

.PHONY: install test serve model evaluate compare clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest

# The gRPC server is issue #4; until it lands this target says so instead of pretending.
serve: $(STAMP)
	@echo "make serve: the gRPC server is not built yet (issue #4); the digit model is in models/zipnet/" >&2
	@exit 1

# Retrain the bundled model on the full MNIST and export it as the next version under models/zipnet/.
model: $(STAMP)
	$(BIN)/zipcode-train train --arch zipnet --data $(MNIST) --export models/zipnet

evaluate: $(STAMP)
	$(BIN)/zipcode-train evaluate --model models/zipnet --data $(MNIST)

compare: $(STAMP)
	$(BIN)/zipcode-train compare --data $(MNIST)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
