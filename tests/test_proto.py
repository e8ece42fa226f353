"""The generated gRPC code matches proto/zipcode/v1/zipcode.proto."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "service" / "api"


def check(target: Path) -> subprocess.CompletedProcess:
    # A process of its own: grpc_tools' protoc crashes inside one that has loaded TensorFlow.
    return subprocess.run([sys.executable, str(REPO / "tools" / "gen_proto.py"), "--check", "--target", str(target)],
                          capture_output=True, text=True, timeout=120)


def test_generated_code_is_current():
    done = check(GENERATED)
    assert done.returncode == 0, done.stderr


def test_check_notices_stale_code(tmp_path):
    copy = tmp_path / "api"
    shutil.copytree(GENERATED, copy)
    (copy / "zipcode_pb2.py").write_text((copy / "zipcode_pb2.py").read_text() + "\n# edited by hand\n")
    done = check(copy)
    assert done.returncode == 1 and "stale generated code: zipcode_pb2.py" in done.stderr


def test_check_takes_code_stamped_by_another_grpcio_tools_release(tmp_path):
    # A fresh install gets the newest grpcio-tools, which stamps its own version in the code; the proto
    # and so the code are the same. Anything else changed is still stale (above).
    copy = tmp_path / "api"
    shutil.copytree(GENERATED, copy)
    stamped = copy / "zipcode_pb2_grpc.py"
    text = stamped.read_text()
    assert "GRPC_GENERATED_VERSION = '" in text
    stamped.write_text(re.sub(r"GRPC_GENERATED_VERSION = '[^']*'", "GRPC_GENERATED_VERSION = '1.60.0'", text))
    assert check(copy).returncode == 0


def test_every_field_is_documented():
    lines = (REPO / "proto" / "zipcode" / "v1" / "zipcode.proto").read_text().splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.endswith(";") and "=" in stripped and not stripped.startswith(("//", "syntax", "option")):
            assert lines[index - 1].strip().startswith("//"), f"undocumented: {stripped}"
