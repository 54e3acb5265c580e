"""Write the API's OpenAPI schema (the contract the dashboard's types are generated from).

python scripts/export_openapi.py [OUT]     # default: dashboard/src/api/openapi.json
"""

from __future__ import annotations

import sys
from pathlib import Path

from ttt.api.openapi import openapi_json

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "dashboard" / "src" / "api" / "openapi.json"


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(openapi_json(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
