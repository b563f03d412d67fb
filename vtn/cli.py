"""Subcommands `vtn serve`, `db upgrade`, `token create`, `certs init`. Standard library only at import."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MAX_TOKEN_DAYS = 36_500  # a hundred years: longer is "never", which is no --expires-days at all
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
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes sharing the port (SO_REUSEPORT), each with its own event loop "
        "(default 1); needs PostgreSQL. One instance, elected, runs the planning loop and the "
        "other once-only jobs",
    )
    serve.add_argument(
        "--access-log", action="store_true", default=None, help="log every HTTP request (costs CPU)"
    )
    serve.add_argument(
        "--mqtt-broker",
        metavar="URL",
        help="MQTT broker for the OpenADR 3.1 notifications, mqtt://host[:port] (default: webhooks only)",
    )
    _add_tls_options(serve)
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
    _register_token_admin(token_sub)
    _register_client(subparsers)
    register_certs(subparsers)


def _register_client(subparsers: Any) -> None:
    client = subparsers.add_parser(
        "client", help="OpenADR 3.1 OAuth2 clients", description="Manage the OpenADR 3.1 face's clients."
    )
    client_sub = client.add_subparsers(dest="client_command", metavar="COMMAND", required=True)
    create = client_sub.add_parser(
        "create",
        help="create a client and print CLIENT_ID CLIENT_SECRET",
        description="Create an OAuth2 client of the OpenADR 3.1 face (POST /openadr3/auth/token with "
        "grant_type=client_credentials); only the secret's hash is stored. `CLIENT_ID CLIENT_SECRET` "
        "is printed alone on the last line.",
    )
    _add_db_options(create)
    create.add_argument(
        "--role",
        required=True,
        choices=["bl", "ven"],
        help="bl: the business logic (manages programs and events, reads all); ven: one VEN",
    )
    create.add_argument(
        "--ven-name", help="the VEN a ven client acts for (default: the one its first POST /vens makes)"
    )
    create.set_defaults(handler=_client_create)


def _client_create(args: argparse.Namespace) -> int:
    import asyncio

    from aggregator.errors import InvalidInput
    from flexmodel.usage_error import UsageError
    from vtn.openadr3.clients import cli_create_client

    settings = _settings(args)
    try:
        client = asyncio.run(cli_create_client(settings.db_url, args.role, args.ven_name))
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None
    print(f"created a {args.role} client; store its secret now, it is not shown again:")
    print(f"{client.client_id} {client.client_secret}")
    return 0


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from flexmodel.usage_error import UsageError
    from vtn.settings import ConfigFileError, load_settings

    try:
        return load_settings(args.config, db_url=args.db_url, **extra)
    except ValidationError as exc:  # a bad option, config file entry or environment variable
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise UsageError(problems) from None
    except ConfigFileError as exc:
        raise UsageError(f"--config {exc}") from None
    except SettingsError as exc:  # an environment variable that is not the JSON its field needs
        raise UsageError(_environment_problem(exc)) from None


def _environment_problem(exc: Exception) -> str:
    """pydantic-settings says 'error parsing value for field "x" from source "EnvSettingsSource"':
    name the variable the user set instead."""
    import re

    field = re.search(r'field "([^"]+)"', str(exc))
    if field is None:
        return str(exc)
    return f'FLEXVPP_{field.group(1).upper()}: not valid JSON (a list is written ["a", "b"])'


def _ready_database(url: str) -> None:
    """A token command's database: reachable and at the code's schema, else one line saying so."""
    from flexmodel.usage_error import CommandFailed
    from vtn.db.migrate import SchemaOutOfDate, check_up_to_date

    with _database(url):
        try:
            check_up_to_date(url)
        except SchemaOutOfDate as exc:
            raise CommandFailed(str(exc)) from None


@contextmanager
def _database(url: str) -> Iterator[None]:
    """Around a command's use of the database: an unreachable server, a refused login, a missing
    database or table become one line naming the database (password hidden) and exit 1."""
    from flexmodel.usage_error import CommandFailed
    from vtn.db.engine import display_url
    from vtn.db.errors import DatabaseError, describe

    try:
        yield
    except (DatabaseError, OSError) as exc:
        raise CommandFailed(f"database {display_url(url)}: {describe(exc)}") from None


def _serve(args: argparse.Namespace) -> int:
    import logging
    import sys

    from flexmodel.usage_error import UsageError
    from vtn.db.migrate import SchemaOutOfDate, check_up_to_date, upgrade
    from vtn.server import run_server

    if not 1 <= args.workers <= 256:
        raise UsageError(f"--workers must be between 1 and 256, not {args.workers}")
    settings = _settings(
        args,
        host=args.host,
        port=args.port,
        access_log=args.access_log,
        openadr3_mqtt_broker=args.mqtt_broker,
        **_tls_overrides(args),
    )
    try:
        with _database(settings.db_url):
            if args.migrate:
                upgrade(settings.db_url)
            check_up_to_date(settings.db_url)
    except SchemaOutOfDate as exc:
        print(f"flexvpp vtn serve: {exc}", file=sys.stderr)
        return 1
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    from vtn.tls import TlsConfigError

    try:
        run_server(settings, workers=args.workers)
    except (TlsConfigError, OSError) as exc:
        print(f"flexvpp vtn serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from vtn.db.migrate import head_revision, upgrade

    settings = _settings(args)
    with _database(settings.db_url):
        upgrade(settings.db_url)
    print(f"database at revision {head_revision(settings.db_url)}")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    import asyncio
    import math

    from flexmodel.usage_error import UsageError
    from vtn.api.tokens import create_token

    settings = _settings(args)
    if args.role == "customer" and not args.site_id:
        raise UsageError("--site is required for a customer token")
    days = args.expires_days
    if days is not None and not (math.isfinite(days) and 0 < days <= MAX_TOKEN_DAYS):
        raise UsageError(f"--expires-days {days:g}: a number of days above 0 and at most {MAX_TOKEN_DAYS}")
    _ready_database(settings.db_url)
    with _database(settings.db_url):
        token = asyncio.run(
            create_token(
                settings.db_url, role=args.role, name=args.name, site_id=args.site_id, expires_days=days
            )
        )
    print(f"created a {args.role} token; store it now, it is not shown again:")
    print(token)
    return 0


def _add_tls_options(serve: argparse.ArgumentParser) -> None:
    tls = serve.add_argument_group(
        "mutual TLS",
        "Give --tls-cert/--tls-key twice (an RSA and an ECDSA pair) so both OpenADR 2.0b cipher "
        "suites can be negotiated; `flexvpp certs init` makes test certificates.",
    )
    tls.add_argument(
        "--tls-cert", action="append", type=Path, metavar="FILE", help="server certificate (PEM)"
    )
    tls.add_argument("--tls-key", action="append", type=Path, metavar="FILE", help="its private key (PEM)")
    tls.add_argument(
        "--tls-ca",
        type=Path,
        metavar="FILE",
        help="CA of the VEN client certificates: with it, a client certificate is required",
    )
    tls.add_argument(
        "--trusted-proxy",
        action="append",
        metavar="ADDRESS",
        help="a TLS-terminating proxy (IP or CIDR) whose client-certificate header is believed",
    )
    tls.add_argument("--client-cert-header", metavar="NAME", help="that header (default X-SSL-Client-Cert)")


def _tls_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from flexmodel.usage_error import UsageError

    certs, keys = args.tls_cert or [], args.tls_key or []
    if len(certs) != len(keys) or len(certs) > 2:
        raise UsageError("give --tls-cert and --tls-key together, once or twice (an RSA and an ECDSA pair)")
    for path in [*certs, *keys, *([args.tls_ca] if args.tls_ca else [])]:
        if not path.is_file():
            raise UsageError(f"TLS file {path} does not exist")
    overrides: dict[str, Any] = {
        "tls_ca_file": args.tls_ca,
        "trusted_proxy_addresses": args.trusted_proxy,
        "client_cert_header": args.client_cert_header,
    }
    if certs:
        overrides.update(tls_cert_file=certs[0], tls_key_file=keys[0])
    if len(certs) == 2:
        overrides.update(tls_extra_cert_file=certs[1], tls_extra_key_file=keys[1])
    return overrides


def register_certs(subparsers: Any) -> None:
    certs = subparsers.add_parser(
        "certs", help="test certificates for mutual TLS", description="Test certificates for mutual TLS."
    )
    certs_sub = certs.add_subparsers(dest="certs_command", metavar="COMMAND", required=True)
    init = certs_sub.add_parser(
        "init",
        help="make a test CA, VTN and VEN certificates",
        description="Make (or reuse) a test CA, the VTN's RSA and ECDSA server certificates "
        "(localhost, 127.0.0.1) and a client certificate per VEN, as PEM files; print each VEN's "
        "fingerprint for POST /api/v1/vens. Keys are unencrypted: for tests and demos only.",
    )
    init.add_argument("--dir", type=Path, default=Path("certs"), help="output directory (default ./certs)")
    who = init.add_mutually_exclusive_group()
    who.add_argument("--vens", type=int, metavar="N", help="make ven-1 ... ven-N")
    who.add_argument("--ven", action="append", metavar="NAME", help="a VEN name (repeatable)")
    init.add_argument(
        "--key-type", choices=["rsa", "ecdsa"], default="rsa", help="VEN key type (default rsa)"
    )
    init.set_defaults(handler=_certs_init)


def _certs_init(args: argparse.Namespace) -> int:
    from flexmodel.usage_error import UsageError
    from vtn.certs import CertificateError, KeyType, init_certificates

    if args.vens is not None and not 0 <= args.vens <= 100_000:
        raise UsageError("--vens must be between 0 and 100000")
    names = args.ven or [f"ven-{i}" for i in range(1, (args.vens or 0) + 1)]
    try:
        vtn, vens = init_certificates(args.dir, names, KeyType(args.key_type))
    except CertificateError as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:  # an unwritable or impossible --dir
        where = exc.filename or args.dir
        raise UsageError(f"--dir {args.dir}: cannot write {where}: {exc.strerror or exc}") from None
    print(f"CA: {args.dir / 'ca.pem'}")
    for cert in vtn:
        print(f"VTN {cert.key_type.value}: {cert.cert_path} {cert.key_path}")
    for cert in vens:
        print(f"VEN {cert.name} ({cert.key_type.value}) fingerprint {cert.fingerprint} cert {cert.cert_path}")
    return 0


def _register_token_admin(token_sub: Any) -> None:
    listing = token_sub.add_parser(
        "list", help="list tokens (id, role, name, site, expiry)", description="List REST tokens' metadata."
    )
    _add_db_options(listing)
    listing.set_defaults(handler=_token_list)
    revoke = token_sub.add_parser(
        "revoke",
        help="revoke a token by id",
        description="Revoke a REST token; refused from its next request.",
    )
    _add_db_options(revoke)
    revoke.add_argument("token_id", type=int, metavar="ID", help="the token's id (see `token list`)")
    revoke.set_defaults(handler=_token_revoke)


def _token_list(args: argparse.Namespace) -> int:
    import asyncio

    from vtn.api.token_admin import cli_list

    settings = _settings(args)
    _ready_database(settings.db_url)
    with _database(settings.db_url):
        infos = asyncio.run(cli_list(settings.db_url))
    for info in infos:
        state = f"revoked {info.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if info.revoked_at else "active"
        expires = f"{info.expires_at:%Y-%m-%dT%H:%M:%SZ}" if info.expires_at else "never"
        print(
            f"{info.id}\t{info.role}\t{info.name or '-'}\t{info.site_id or '-'}\texpires {expires}\t{state}"
        )
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from vtn.api.token_admin import cli_revoke
    from vtn.errors import NotFound

    settings = _settings(args)
    _ready_database(settings.db_url)
    try:
        with _database(settings.db_url):
            info = asyncio.run(cli_revoke(settings.db_url, args.token_id))
    except NotFound:
        print(f"flexvpp token revoke: no token with id {args.token_id}", file=sys.stderr)
        return 1
    print(f"token {info.id} ({info.role}) revoked at {info.revoked_at:%Y-%m-%dT%H:%M:%SZ}")
    return 0
