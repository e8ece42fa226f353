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

# Retrain the bundled model (docs/benchmarks.md): zipnet on the full MNIST; digits (and proposals that
# are no digit) cut by the pipeline out of generated fields; that zipnet fine-tuned on MNIST plus those;
# a second zipnet trained on all of it from the start, from another seed; the two averaged; a second
# harvest cut by that average, both members fine-tuned on it, and those two averaged as the next
# version under models/zipnet/. The members are kept under build/members/.
FIELDS ?= build/field_digits.npz
REFINE_FIELDS ?= build/field_digits_refine.npz
MEMBERS ?= build/members
model: $(STAMP)
	$(BIN)/zipcode-train train --arch zipnet --data $(MNIST) --export $(MEMBERS)/zipnet-mnist
	$(MAKE) finetune
	$(BIN)/zipcode-train train --arch zipnet --epochs 15 --seed 2 --fields $(FIELDS) --data $(MNIST) \
		--export $(MEMBERS)/zipnet-fields-seed2
	$(BIN)/zipcode-train ensemble --models $(MEMBERS)/zipnet-finetuned $(MEMBERS)/zipnet-fields-seed2 \
		--data $(MNIST) --export $(MEMBERS)/pair
	$(BIN)/python tools/make_field_digits.py --data $(MNIST) --model $(MEMBERS)/pair --count 12000 --test-count 2000 \
		--seed 21 --out $(REFINE_FIELDS)
	$(BIN)/zipcode-train finetune --model $(MEMBERS)/zipnet-finetuned --fields $(REFINE_FIELDS) --data $(MNIST) \
		--export $(MEMBERS)/zipnet-finetuned-again
	$(BIN)/zipcode-train finetune --model $(MEMBERS)/zipnet-fields-seed2 --fields $(REFINE_FIELDS) --data $(MNIST) \
		--export $(MEMBERS)/zipnet-fields-seed2-finetuned
	$(BIN)/zipcode-train ensemble --models $(MEMBERS)/zipnet-finetuned-again $(MEMBERS)/zipnet-fields-seed2-finetuned \
		--data $(MNIST) --export models/zipnet

finetune: $(STAMP)
	mkdir -p $(dir $(FIELDS))
	$(BIN)/python tools/make_field_digits.py --data $(MNIST) --count 12000 --test-count 2000 --out $(FIELDS)
	$(BIN)/zipcode-train finetune --model $(MEMBERS)/zipnet-mnist --fields $(FIELDS) --data $(MNIST) \
		--export $(MEMBERS)/zipnet-finetuned

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
