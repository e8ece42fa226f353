"""zipcode-recognize: read the zip codes in image files, offline, with the bundled model.

Prints one line per image: file, zip code, confidence, accepted or rejected:<reason> (tab-separated), or
JSON lines with --json. An unreadable file gets its own line with the error; the others are still read.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zipcode-recognize", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--model", metavar="DIR", help="model root or version folder (default: the bundled model)")
    parser.add_argument("--expect", type=int, choices=(5, 9), help="expected number of digits")
    parser.add_argument("--min-confidence", type=float, help="confidence needed to accept a read (default: the pipeline's)")
    parser.add_argument("--valid-codes", metavar="FILE",
                        help="directory of the zip codes that exist, one 5-digit code per line: a read of "
                             "another code is rejected as unknown_code")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--debug-dir", metavar="DIR", help="write a picture per image showing how it was read")
    return parser


def _as_json(name: str, recognition) -> str:
    return json.dumps({
        "file": name,
        "zip_code": recognition.zip_code,
        "confidence": round(recognition.confidence, 5),
        "accepted": recognition.accepted,
        "reject_reason": recognition.reject_reason,
        **({"suggested_zip_code": recognition.suggested_zip_code,
            "suggested_confidence": round(recognition.suggested_confidence, 5)} if recognition.suggested_zip_code else {}),
        "digits": [
            {"value": d.value, "confidence": round(d.confidence, 5), "box": list(d.box),
             "alternatives": [[digit, round(p, 5)] for digit, p in d.alternatives]}
            for d in recognition.digits
        ],
    })


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import cv2

    from service.decode import decode_image
    from service.directory import DirectoryError, load_directory
    from service.errors import InputError
    from service.model import classifier, load_model
    from service.recognizer import DEFAULT_MIN_CONFIDENCE, Recognizer
    from training.errors import ModelDirError

    try:
        directory = load_directory(args.valid_codes) if args.valid_codes else None
        model = load_model(args.model)
    except (ModelDirError, DirectoryError) as error:
        print(f"zipcode-recognize: error: {error}", file=sys.stderr)
        return 2
    recognizer = Recognizer(classifier(model), min_confidence=args.min_confidence or DEFAULT_MIN_CONFIDENCE,
                            directory=directory)
    debug_dir = Path(args.debug_dir) if args.debug_dir else None
    if debug_dir:
        debug_dir.mkdir(parents=True, exist_ok=True)
        from service.debug import draw_debug
    failures = 0
    for name in args.images:
        try:
            bgr = decode_image(Path(name).read_bytes())
            recognition = recognizer.recognize_image(bgr, args.expect or 0)
        except (OSError, InputError) as error:
            failures += 1
            message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            print(json.dumps({"file": name, "error": message}) if args.json else f"{name}\terror: {message}", flush=True)
            continue
        if args.json:
            print(_as_json(name, recognition), flush=True)
        else:
            verdict = "accepted" if recognition.accepted else f"rejected:{recognition.reject_reason}"
            print(f"{name}\t{recognition.zip_code}\t{recognition.confidence:.4f}\t{verdict}", flush=True)
        if debug_dir:
            cv2.imwrite(str(debug_dir / f"{Path(name).stem}.debug.png"), draw_debug(bgr, recognition))
    return 1 if failures == len(args.images) else 0


if __name__ == "__main__":
    sys.exit(main())
