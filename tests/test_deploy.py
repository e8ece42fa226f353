"""Docker has no engine on CI, so the container files are checked against the code they run instead:
same install as `make`, same ports as the server's defaults, a health check that exists."""
from pathlib import Path

import yaml

from service.client_cli import main as client_main  # noqa: F401  (the health check's command must import)
from service.config import ServerConfig, parse_config

REPO = Path(__file__).resolve().parents[1]


def test_dockerfile_installs_and_starts_like_make():
    dockerfile = (REPO / "Dockerfile").read_text()
    makefile = (REPO / "Makefile").read_text()
    assert "pip install --quiet -e '.[dev]'" in makefile and 'pip install -e .' in dockerfile
    assert "zipcode-server" in makefile and 'CMD ["zipcode-server"]' in dockerfile
    assert "USER zipcode" in dockerfile  # non-root
    assert f"EXPOSE {ServerConfig.port} {ServerConfig.metrics_port}" in dockerfile
    assert '"zipcode-client", "--target", "localhost:50051", "--timeout", "3", "health"' in dockerfile
    for path in ("training", "service", "models", "pyproject.toml"):
        assert f"COPY {path}" in dockerfile


def test_compose_wires_recognizer_prometheus_gpu_and_train():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"recognizer", "recognizer-gpu", "prometheus", "train"} <= set(services)
    recognizer = services["recognizer"]
    assert f"{ServerConfig.port}:{ServerConfig.port}" in recognizer["ports"]
    assert recognizer["read_only"] is True and "models:/models:ro" in recognizer["volumes"]
    # A directory of valid codes is read from the models volume when asked for; unset, the service does not check.
    assert recognizer["environment"]["ZIPCODE_VALID_CODES"] == "${ZIPCODE_VALID_CODES:-}"
    assert parse_config([], environ={"ZIPCODE_VALID_CODES": ""}).valid_codes == ""
    gpu = services["recognizer-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["build"]["args"]["VARIANT"] == "gpu"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    train = services["train"]
    assert train["profiles"] == ["train"] and train["command"][:2] == ["zipcode-train", "train"]
    assert "/models/zipnet" in train["command"] and "models:/models" in train["volumes"]
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert f"recognizer:{ServerConfig.metrics_port}" in targets
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"]
