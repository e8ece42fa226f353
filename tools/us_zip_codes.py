"""Write the United States' active five-digit zip codes as a directory file for `--valid-codes`
(zipcode-server, zipcode-recognize) and `--codes` (bench/zipgen.py, bench/accuracy.py).

    python tools/us_zip_codes.py --out build/us_zip_codes.txt

The codes come from the `zipcodes` package on PyPI (MIT licence; its data is assembled from USPS and
public sources and refreshed monthly, the package's README says): the list ships inside the wheel, so
no download happens here. An operator's own directory (the sorting destinations of its hub, or a
country's other than the United States) is a file of the same form: one five-digit code per line.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import version
from pathlib import Path


def us_codes(include_inactive: bool = False) -> list[str]:
    import zipcodes

    return sorted({entry["zip_code"] for entry in zipcodes.list_all() if include_inactive or entry["active"]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the directory file to write")
    parser.add_argument("--include-inactive", action="store_true", help="also codes the USPS no longer uses")
    args = parser.parse_args(argv)
    codes = us_codes(args.include_inactive)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# United States zip codes{'' if args.include_inactive else ', active'}: {len(codes)} (zipcodes {version('zipcodes')})\n"
    out.write_text(header + "".join(f"{code}\n" for code in codes))
    print(f"wrote {len(codes)} codes to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
