"""`tap-openhuman-authorize`: the one-off OAuth step that turns an authorization code into
a refresh token stored in `token_cache_path`, without printing any token.

    tap-openhuman-authorize --config config.json --redirect-uri URI          # the URL to visit
    tap-openhuman-authorize --config config.json --redirect-uri URI --code C  # store the token
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from urllib.parse import urlencode

from tap_openhuman.tap import TapOpenHuman
from taps_shared.errors import TapError, one_line
from taps_shared.oauth import TokenCache, exchange_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tap-openhuman-authorize",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        required=True,
        help="tap config with client_id, "
        "client_secret, token_cache_path (and auth_url if not the default)",
    )
    parser.add_argument("--redirect-uri", required=True, help="the app's registered redirect URI")
    parser.add_argument("--code", help="the authorization code from the redirect")
    parser.add_argument("--scope", default="read", help="scopes to ask for (default: read)")
    args = parser.parse_args(argv)
    try:
        with open(args.config) as handle:
            config = json.load(handle)
        missing = [
            k for k in ("client_id", "client_secret", "token_cache_path") if not config.get(k)
        ]
        if missing:
            raise TapError(f"the config needs {', '.join(missing)}")
        tap = TapOpenHuman(
            config={**config, "api_key": None, "refresh_token": "pending"}, validate_config=False
        )
        auth_url = tap.url_setting("auth_url")  # https only: the secret and code go there
        if not args.code:
            query = urlencode(
                {
                    "client_id": config["client_id"],
                    "redirect_uri": args.redirect_uri,
                    "response_type": "code",
                    "scope": args.scope,
                }
            )
            print("Open this URL, approve, then run again with --code:")
            print(f"{auth_url}/oauth/authorize?{query}")
            return 0
        cache = TokenCache(config["token_cache_path"])
        with cache.locked():  # the code is single-use: spend it only when the token can be kept
            payload = exchange_code(
                token_url=f"{auth_url}/oauth/token",
                client_id=config["client_id"],
                client_secret=config["client_secret"],
                code=args.code,
                redirect_uri=args.redirect_uri,
                send=partial(tap.transport.send, setting="auth_url"),
            )
            if not payload.get("refresh_token"):
                raise TapError("the token endpoint returned no refresh_token")
            cache.write(payload["refresh_token"])
    except Exception as exc:  # one line, whatever went wrong
        print(f"tap-openhuman-authorize: error: {one_line(exc)}", file=sys.stderr)
        return 1
    print(
        f"Refresh token stored in {cache.path} (mode 0600). Run tap-openhuman with "
        "client_id, client_secret and token_cache_path; refresh_token can stay unset."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
