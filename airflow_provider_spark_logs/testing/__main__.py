"""Command line: run the Spark emulator until SIGINT or SIGTERM.

It prints exactly one line to stdout once both servers listen, so that a parent process can wait for
it and read the addresses::

    Spark emulator ready: base_url=http://127.0.0.1:8080 tenant=demo-tenant docstore=http://127.0.0.1:40123 token_url=http://127.0.0.1:8080/auth/realms/demo-tenant/protocol/openid-connect/token

With ``--tls``, the URLs are ``https://`` and the line ends in `` ca=/tmp/.../ca.pem``, the CA
certificate clients verify the emulator with.

Credentials are not printed; they are the defaults shown by ``--help`` unless given.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from airflow_provider_spark_logs.testing.auth import Credentials
from airflow_provider_spark_logs.testing.emulator import SparkEmulator

_MIB = 1024 * 1024
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _service(value: str) -> tuple[str, str]:
    folder, separator, service = value.partition("/")
    if not separator or not folder or not service:
        raise argparse.ArgumentTypeError(f"expected FOLDER/SERVICE, got {value!r}")
    return folder, service


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments; every default mirrors :class:`SparkEmulator`'s."""
    defaults = Credentials()
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_spark_logs.testing",
        description=(
            "Emulate Coherent Spark's log-download API (for tests and demos only: fixed credentials and an "
            "unauthenticated control API under /_emulator/). Prints one 'Spark emulator ready: ...' line "
            "once listening, then serves until SIGINT or SIGTERM."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind both servers to")
    parser.add_argument("--port", type=int, default=8080, help="API port (0 = any free port)")
    parser.add_argument("--docstore-port", type=int, default=0, help="document store port (0 = any free port)")
    parser.add_argument("--tenant", default=defaults.tenant, help="the tenant the emulator serves")
    parser.add_argument("--api-key", default=defaults.api_key, help="accepted x-synthetic-key")
    parser.add_argument("--bearer-token", default=defaults.bearer_token, help="accepted static bearer token")
    parser.add_argument("--client-id", default=defaults.client_id, help="accepted OAuth2 client id")
    parser.add_argument("--client-secret", default=defaults.client_secret, help="accepted OAuth2 client secret")
    parser.add_argument("--job-seconds", type=float, default=2.0, help="seconds until a job reaches 100%%")
    parser.add_argument("--token-ttl", type=float, default=300.0, help="lifetime (s) of issued access tokens")
    parser.add_argument(
        "--zip-padding-mib", type=float, default=0.0, help="MiB of stored random padding added to each ZIP"
    )
    parser.add_argument(
        "--service",
        dest="services",
        action="append",
        type=_service,
        metavar="FOLDER/SERVICE",
        help="make only these services exist (repeatable); None = any folder/service exists",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds every API and document-store answer is held back"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate from a CA made at start (its PEM path is printed as ca=...)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    emulator = SparkEmulator(
        tenant=args.tenant,
        api_key=args.api_key,
        bearer_token=args.bearer_token,
        client_id=args.client_id,
        client_secret=args.client_secret,
        job_seconds=args.job_seconds,
        token_ttl=args.token_ttl,
        host=args.host,
        port=args.port,
        docstore_port=args.docstore_port,
        services=args.services,
        zip_padding_bytes=int(args.zip_padding_mib * _MIB),
        verbose=args.verbose,
        tls=args.tls,
        latency=args.latency,
    )
    if args.host not in _LOOPBACK:
        print(f"warning: the Spark emulator is reachable beyond this machine on {args.host}", file=sys.stderr)
    stopping = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with emulator:
        ca = "" if emulator.ca_path is None else f" ca={emulator.ca_path}"
        print(
            f"Spark emulator ready: base_url={emulator.base_url} tenant={emulator.tenant} "
            f"docstore={emulator.docstore_url} token_url={emulator.token_url}{ca}",
            flush=True,
        )
        while not stopping.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
