"""HTTPS for the emulator: a throwaway certificate authority and a server certificate, made at start.

Spark is reached over HTTPS, and what a client pays per TLS handshake (or saves by reusing a
connection) only shows against a TLS server. The CA's certificate is written to a PEM file that
clients pass as their ``verify`` setting; its private key never leaves memory. Made with the
``cryptography`` package (a dependency of Apache Airflow), imported only when HTTPS is asked for, so
the plain-HTTP emulator still needs nothing beyond the standard library.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

#: Names the server certificate is valid for: the loopback names, plus the address the emulator binds.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_VALIDITY = timedelta(days=7)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of one emulator run: the CA certificate (for clients) and the server's chain and key."""

    ca_path: Path
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        """The servers' TLS settings: TLS 1.2 or later, the generated certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def _cryptography() -> Any:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        raise RuntimeError(
            "The emulator's HTTPS mode needs the 'cryptography' package (installed with Apache Airflow): "
            "pip install cryptography, or run the emulator without tls."
        ) from None
    return x509, hashes, serialization, ec, NameOID


def _subject_names(x509: Any, hosts: tuple[str, ...]) -> list[Any]:
    names: list[Any] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_tls_files(directory: Path, host: str) -> TlsFiles:
    """Write a fresh CA certificate and a server certificate it signed (valid for ``host`` and loopback)."""
    x509, hashes, serialization, ec, name_oid = _cryptography()
    now = datetime.now(timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(name_oid.COMMON_NAME, "Spark emulator test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # key_cert_sign and crl_sign only
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(name_oid.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_subject_names(x509, (host, *LOOPBACK_NAMES))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    files.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    files.key_path.chmod(0o600)
    return files
