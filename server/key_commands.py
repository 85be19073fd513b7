"""``python -m server keys create|list|revoke``: API keys, managed in the store itself.

Works on whichever store ``MEMORIA_STORE_URL`` (or ``--store-url``) names, so an
operator needs nothing but this command. Exit status 2, with one line on
stderr, for input it cannot act on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime

from server.config import InvalidSettings, load_settings
from server.domain.api_keys import ApiKey, issue_key
from server.domain.caller import check_tenant_name
from server.domain.clock import utc_now
from server.domain.errors import ConfigurationError, InvalidArgument, MemoriaError
from server.domain.ports.keys import KeyStore
from server.storage.open import open_store

__all__ = ["main"]


class _UnknownKey(Exception):
    pass


def main(argv: Sequence[str]) -> int:
    """Runs one command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        store_url = args.store_url or load_settings([]).store_url
        return asyncio.run(_run(args, store_url))
    except (InvalidSettings, InvalidArgument, ConfigurationError, _UnknownKey) as exc:
        print(f"memoria: {exc}", file=sys.stderr)
        return 2
    except MemoriaError as exc:  # the store is unreachable or failed
        print(f"memoria: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument(
        "--store-url", help="the store of the keys (default: MEMORIA_STORE_URL, as the server)"
    )
    parser = argparse.ArgumentParser(
        prog="python -m server keys", description="Create, list and revoke API keys."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser(
        "create",
        parents=[store],
        help="create a key (and its tenant); the key is printed once, on the last line",
    )
    create.add_argument("--tenant", required=True, help="1-64 characters of A-Za-z0-9._-")
    create.add_argument("--description", default="", help="what the key is for")
    listing = commands.add_parser(
        "list", parents=[store], help="list keys (ids, tenants, times; never secrets)"
    )
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = commands.add_parser("revoke", parents=[store], help="revoke a key for good")
    revoke.add_argument("key_id", help="the key's id, as listed")
    return parser


async def _run(args: argparse.Namespace, store_url: str) -> int:
    async with open_store(store_url) as store:
        if args.command == "create":
            await _create(store, args.tenant, args.description)
        elif args.command == "list":
            tenant = None if args.tenant is None else check_tenant_name(args.tenant)
            _print_table(await store.list_keys(tenant=tenant))
        else:
            await _revoke(store, args.key_id)
    return 0


async def _create(store: KeyStore, tenant: str, description: str) -> None:
    issued = issue_key(tenant, description, utc_now())
    await store.create_key(issued.record)
    print(
        f"created key {issued.record.key_id} of tenant {tenant}; it is shown only once,"
        " below: store it now",
        file=sys.stderr,
    )
    print(issued.key)


async def _revoke(store: KeyStore, key_id: str) -> None:
    revoked = await store.revoke_key(key_id, utc_now())
    if revoked is None:
        # A whole key pasted by mistake is not repeated: it holds the secret.
        named = f"{key_id!r}" if "_" not in key_id else "given (pass the key id, not the key)"
        raise _UnknownKey(f"no API key has the id {named}; `keys list` shows them")
    print(
        f"revoked key {revoked.key_id} of tenant {revoked.tenant}"
        f" at {_time(revoked.revoked_at)}; servers refuse it within MEMORIA_KEY_CACHE_SECONDS"
    )


def _print_table(keys: list[ApiKey]) -> None:
    rows = [["KEY ID", "TENANT", "CREATED", "LAST USED", "REVOKED", "DESCRIPTION"]] + [
        [
            key.key_id,
            key.tenant,
            _time(key.created_at),
            _time(key.last_used_at),
            _time(key.revoked_at),
            key.description,
        ]
        for key in keys
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
