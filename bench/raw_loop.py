"""The raw-HTTP baseline of `make bench`: what syncing Humaans `people` costs with nothing
but an HTTP client and a JSON library.

It asks for the same pages as tap-humaans (`$limit`/`$skip`, sorted by `updatedAt`) on one
`requests.Session` and writes one Singer RECORD line per record to stdout.

    python bench/raw_loop.py API_URL TOKEN [--decoder json|orjson] [--page-size 250]
"""

from __future__ import annotations

import argparse
import json
import sys

import orjson
import requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("api_url")
    parser.add_argument("token")
    parser.add_argument("--decoder", choices=("json", "orjson"), default="json")
    parser.add_argument("--page-size", type=int, default=250)
    args = parser.parse_args()
    if args.decoder == "orjson":
        out, loads = sys.stdout.buffer, orjson.loads

        def line(record: dict) -> bytes:
            return orjson.dumps({"type": "RECORD", "stream": "people", "record": record}) + b"\n"
    else:
        out, loads = sys.stdout, json.loads  # type: ignore[assignment]

        def line(record: dict) -> str:  # type: ignore[misc]
            return json.dumps({"type": "RECORD", "stream": "people", "record": record}) + "\n"

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {args.token}"
    skip = 0
    while True:
        params = {"$limit": args.page_size, "$skip": skip, "$sort[updatedAt]": 1}
        response = session.get(f"{args.api_url}/people", params=params, timeout=60)
        response.raise_for_status()
        body = loads(response.content)
        records = body["data"]
        for record in records:
            out.write(line(record))
        skip += len(records)
        if not records or skip >= body["total"]:
            break
    out.flush()


if __name__ == "__main__":
    main()
