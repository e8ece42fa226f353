"""Generate the Python gRPC code for proto/zipcode/v1/zipcode.proto into service/api/.

    python tools/gen_proto.py            # write service/api/zipcode_pb2*.py
    python tools/gen_proto.py --check    # exit 1 if the committed code is stale (the grpcio-tools
                                         # version stamped in it aside)

Run it as its own process: grpc_tools' protoc crashes inside a process that has loaded TensorFlow.

protoc names the modules after the proto's path (zipcode.v1.zipcode_pb2); the import in the gRPC module
is rewritten to a relative one so the generated code lives inside the service package."""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROTO = Path("zipcode/v1/zipcode.proto")
TARGET = REPO / "service" / "api"
NAMES = ("zipcode_pb2.py", "zipcode_pb2.pyi", "zipcode_pb2_grpc.py")


def generate() -> dict[str, str]:
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as out:
        status = protoc.main([
            "protoc", f"-I{REPO / 'proto'}", f"--python_out={out}", f"--pyi_out={out}",
            f"--grpc_python_out={out}", str(REPO / "proto" / PROTO),
        ])
        if status != 0:
            raise SystemExit(f"protoc failed with status {status}")
        generated = Path(out) / PROTO.parent
        files = {name: (generated / name).read_text() for name in NAMES}
    files["zipcode_pb2_grpc.py"] = re.sub(
        r"^from zipcode\.v1 import zipcode_pb2", "from . import zipcode_pb2", files["zipcode_pb2_grpc.py"], flags=re.M
    )
    return files


def _unstamped(code: str) -> str:
    """The generated code without the grpcio-tools version it was made with. That stamp is the oldest
    grpcio the code runs on, and moves with every patch release of grpcio-tools on PyPI (1.85.1 to
    1.85.4 turned a fresh clone's check red with the proto unchanged): the code is stale when the
    proto's code differs, not the stamp."""
    return re.sub(r"^GRPC_GENERATED_VERSION = .*$", "GRPC_GENERATED_VERSION = ...", code, flags=re.M)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the target instead of writing")
    parser.add_argument("--target", type=Path, default=TARGET, help="folder of the generated code (default: %(default)s)")
    args = parser.parse_args(argv)
    files = generate()
    target = args.target
    if args.check:
        stale = [name for name, text in files.items()
                 if not (target / name).is_file() or _unstamped((target / name).read_text()) != _unstamped(text)]
        if stale:
            print(f"stale generated code: {', '.join(stale)}; run python tools/gen_proto.py", file=sys.stderr)
            return 1
        return 0
    target.mkdir(parents=True, exist_ok=True)
    (target / "__init__.py").write_text('"""Generated from proto/zipcode/v1/zipcode.proto by tools/gen_proto.py. Do not edit."""\n')
    for name, text in files.items():
        (target / name).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
