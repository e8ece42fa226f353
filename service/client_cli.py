"""zipcode-client: read many images through a running zipcode-server.

    zipcode-client [--target HOST:PORT] [--concurrency N] [--csv OUT] IMAGE...|DIR
    zipcode-client [--target HOST:PORT] health      exit 0 only when the server is SERVING
"""
from __future__ import annotations

import argparse
import csv
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
FIELDS = ("file", "zip_code", "confidence", "accepted", "reject_reason", "error", "suggested_zip_code")


def _images(paths: list[str]) -> list[Path]:
    found = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            found.append(path)
    return found


def _read_one(client, path: Path) -> dict:
    from service.api import zipcode_pb2 as pb

    row = dict.fromkeys(FIELDS, "")
    row["file"] = str(path)
    try:
        answer = client.recognize(path.read_bytes(), request_id=path.name)
    except OSError as error:
        row["error"] = error.strerror or str(error)
        return row
    except grpc.RpcError as error:
        row["error"] = f"{error.code().name}: {error.details()}"
        return row
    row.update(zip_code=answer.zip_code, confidence=f"{answer.confidence:.4f}",
               accepted="accepted" if answer.accepted else "rejected",
               reject_reason=pb.RejectReason.Name(answer.reject_reason).removeprefix("REJECT_REASON_").lower()
               if not answer.accepted else "", suggested_zip_code=answer.suggested_zip_code)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zipcode-client", description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="localhost:50051", help="server address (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=10.0, help="deadline per call, seconds")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight at once")
    parser.add_argument("--csv", metavar="OUT", help="write the results to this CSV file instead of the screen")
    parser.add_argument("--tls-ca", help="PEM CA of the server's certificate: connect over TLS")
    parser.add_argument("--tls-cert", help="PEM client certificate, for mutual TLS")
    parser.add_argument("--tls-key", help="PEM key of --tls-cert")
    parser.add_argument("paths", nargs="+", metavar="IMAGE|DIR|health")
    args = parser.parse_args(argv)
    # `health` is a command, not an image; mixed with paths it would be read as a missing file. A real
    # file of that name is still an image.
    if "health" in args.paths and len(args.paths) > 1 and not Path("health").exists():
        parser.error("`health` is a command of its own: run `zipcode-client health` without image paths")
    from service.client import ZipCodeClient

    credentials = ZipCodeClient.tls(args.tls_ca, args.tls_cert, args.tls_key) if args.tls_ca or args.tls_cert else None
    with ZipCodeClient(args.target, timeout=args.timeout, credentials=credentials) as client:
        if args.paths == ["health"]:
            try:
                status = client.health()
            except grpc.RpcError as error:
                print(f"{args.target}: {error.code().name}", file=sys.stderr)
                return 1
            print(status)
            return 0 if status == "SERVING" else 1
        from tqdm import tqdm

        images = _images(args.paths)
        with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
            rows = list(tqdm(pool.map(lambda p: _read_one(client, p), images), total=len(images),
                             unit="img", file=sys.stderr, disable=None))
    if args.csv:
        with open(args.csv, "w", newline="") as out:
            writer = csv.DictWriter(out, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        for row in rows:
            verdict = f"error: {row['error']}" if row["error"] else \
                row["accepted"] + (f":{row['reject_reason']}" if row["reject_reason"] else "")
            print(f"{row['file']}\t{row['zip_code']}\t{row['confidence']}\t{verdict}")
    return 1 if rows and all(row["error"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
