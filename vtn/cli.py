"""Subcommands `vtn serve`, `db upgrade`, `token create`. Standard library only at import."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DB_HELP = "database URL (env FLEXVPP_DB_URL; default sqlite:///./flexvpp.db)"


def _add_db_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", dest="db_url", metavar="URL", help=DB_HELP)
    parser.add_argument("--config", type=Path, metavar="FILE", help="settings file (TOML or JSON)")


def register(subparsers: Any) -> None:
    vtn = subparsers.add_parser("vtn", help="the OpenADR 2.0b VTN server", description="The VTN server.")
    vtn_sub = vtn.add_subparsers(dest="vtn_command", metavar="COMMAND", required=True)
    serve = vtn_sub.add_parser(
        "serve",
        help="serve OpenADR 2.0b and the REST API",
        description="Serve OpenADR 2.0b (simpleHttp pull) at /OpenADR2/Simple/2.0b and the operator "
        "REST API at /api/v1 on one event loop.",
    )
    _add_db_options(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--migrate", action="store_true", help="upgrade the database schema before serving")
    serve.set_defaults(handler=_serve)

    db = subparsers.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    upgrade = db_sub.add_parser(
        "upgrade", help="migrate the schema to the newest revision", description="Run Alembic migrations."
    )
    _add_db_options(upgrade)
    upgrade.set_defaults(handler=_db_upgrade)

    token = subparsers.add_parser("token", help="REST API tokens", description="Manage REST API tokens.")
    token_sub = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    create = token_sub.add_parser(
        "create",
        help="create a bearer token and print it",
        description="Create a bearer token; only its hash is stored. The token is printed alone on the "
        "last line.",
    )
    _add_db_options(create)
    create.add_argument("--role", required=True, choices=["operator", "market", "customer"])
    create.add_argument("--name", help="who or what the token is for")
    create.add_argument("--site", dest="site_id", help="the site a customer token may see")
    create.add_argument("--expires-days", type=float, help="lifetime in days (default: no expiry)")
    create.set_defaults(handler=_token_create)


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from vtn.settings import load_settings

    return load_settings(args.config, db_url=args.db_url, **extra)


def _serve(args: argparse.Namespace) -> int:
    import logging
    import sys

    from vtn.db.migrate import SchemaOutOfDate, check_up_to_date, upgrade
    from vtn.server import run_server

    settings = _settings(args, host=args.host, port=args.port)
    if args.migrate:
        upgrade(settings.db_url)
    try:
        check_up_to_date(settings.db_url)
    except SchemaOutOfDate as exc:
        print(f"flexvpp vtn serve: {exc}", file=sys.stderr)
        return 1
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    run_server(settings)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from vtn.db.migrate import head_revision, upgrade

    settings = _settings(args)
    upgrade(settings.db_url)
    print(f"database at revision {head_revision(settings.db_url)}")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    import asyncio

    from vtn.api.tokens import create_token

    settings = _settings(args)
    if args.role == "customer" and not args.site_id:
        from flexvpp.cli import UsageError

        raise UsageError("--site is required for a customer token")
    token = asyncio.run(
        create_token(
            settings.db_url,
            role=args.role,
            name=args.name,
            site_id=args.site_id,
            expires_days=args.expires_days,
        )
    )
    print(f"created a {args.role} token; store it now, it is not shown again:")
    print(token)
    return 0
