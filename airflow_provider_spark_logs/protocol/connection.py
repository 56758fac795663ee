"""What a ``coherent_spark`` Airflow connection means, with no I/O.

The connection's fields are read and checked here once, so that a bad one fails with the field to
fix before any request is sent; the result also says which origin may receive credentials, and
which hosts downloads may come from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from airflow_provider_spark_logs.exceptions import SparkConfigError
from airflow_provider_spark_logs.protocol.urls import DownloadHosts, PlainUrl, allowed_host_pattern, plain_url

AuthType = Literal["api_key", "bearer", "oauth2"]
AUTH_TYPES: tuple[str, ...] = ("api_key", "bearer", "oauth2")
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_DOWNLOAD_TIMEOUT = 3600.0


@dataclass(frozen=True)
class SparkConnectionConfig:
    """What a ``coherent_spark`` connection means, validated.

    ``secret`` is the API key, the bearer token or the OAuth2 client secret, depending on
    ``auth_type``; it is kept out of ``repr`` so that it cannot leak through a log line.
    """

    conn_id: str
    base_url: str
    tenant: str
    auth_type: AuthType
    secret: str = field(repr=False)
    client_id: str | None = None
    token_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    verify: bool | str = True
    download_hosts: tuple[str, ...] = ()
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/{quote(self.tenant, safe='')}/api/v3"

    @property
    def api_url(self) -> PlainUrl:
        """The base URL, read strictly (checked when the connection was parsed)."""
        parsed = plain_url(self.base_url)
        if parsed is None:
            raise SparkConfigError(f"Connection '{self.conn_id}' has a base URL that is not a plain http(s) URL.")
        return parsed

    @property
    def downloads(self) -> DownloadHosts:
        """Where this connection's downloads may come from."""
        return DownloadHosts(self.api_url, self.download_hosts)


def parse_connection(
    conn_id: str,
    *,
    host: str | None,
    login: str | None,
    password: str | None,
    extra: Mapping[str, Any] | None,
    port: int | None = None,
) -> SparkConnectionConfig:
    """Read an Airflow connection into a :class:`SparkConnectionConfig`, or say what to fix."""
    extra = {_unprefixed(key): value for key, value in (extra or {}).items()}
    base_url, tenant = _split_host(conn_id, host, port, _optional_str(extra.get("tenant")))
    auth_type = _auth_type(conn_id, extra.get("auth_type"), login)
    secret = _secret(conn_id, auth_type, password)
    token_url = None
    if auth_type == "oauth2":
        if not login:
            raise SparkConfigError(
                f"Connection '{conn_id}' uses auth_type 'oauth2' but has no login: "
                "put the OAuth2 client id in the login field."
            )
        token_url = _optional_str(extra.get("token_url")) or _keycloak_token_url(conn_id, base_url, tenant)
    config = SparkConnectionConfig(
        conn_id=conn_id,
        base_url=base_url,
        tenant=tenant,
        auth_type=auth_type,
        secret=secret,
        client_id=login if auth_type == "oauth2" else None,
        token_url=token_url,
        timeout=_positive_float(conn_id, "timeout", extra.get("timeout"), DEFAULT_TIMEOUT),
        max_retries=_non_negative_int(conn_id, "max_retries", extra.get("max_retries"), DEFAULT_MAX_RETRIES),
        verify=_verify(conn_id, extra.get("verify")),
        download_hosts=_download_hosts(conn_id, extra.get("download_hosts")),
        download_timeout=_positive_float(
            conn_id, "download_timeout", extra.get("download_timeout"), DEFAULT_DOWNLOAD_TIMEOUT
        ),
    )
    _check_plain(conn_id, "host", config.base_url)
    if config.token_url is not None:
        _check_plain(conn_id, "token_url", config.token_url)
    return config


def _check_plain(conn_id: str, name: str, url: str) -> None:
    """Credentials go to these URLs: every URL parser must read the same host from them."""
    if plain_url(url) is None:
        raise SparkConfigError(
            f"Connection '{conn_id}' has {name} {url!r}, which is not a plain http(s) URL: leave out "
            "user info (user@), backslashes, spaces and fragments, and give the host as a name or a plain IP."
        )


def _download_hosts(conn_id: str, value: Any) -> tuple[str, ...]:
    """Extra ``download_hosts``: a list (or comma-separated text) of host names, ``*.domain`` or IPs."""
    if value is None or value == "":
        return ()
    entries = value.split(",") if isinstance(value, str) else value
    if not isinstance(entries, list | tuple):
        entries = [None]
    hosts = [allowed_host_pattern(entry) if isinstance(entry, str) else None for entry in entries]
    if None in hosts:
        raise SparkConfigError(
            f"Connection '{conn_id}' has extra download_hosts={value!r}: use a list of host names, "
            '\'*.domain\' patterns or IP addresses, e.g. ["docs.my-company.internal", "*.storage.internal"].'
        )
    return tuple(host for host in hosts if host)


def _unprefixed(key: str) -> str:
    """Older connection forms stored extras as ``extra__coherent_spark__<name>``."""
    return key.removeprefix("extra__coherent_spark__")


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _split_host(conn_id: str, host: str | None, port: int | None, tenant: str | None) -> tuple[str, str]:
    """Split a host such as ``https://excel.env.coherent.global/my-tenant`` into base URL and tenant."""
    raw = _optional_str(host)
    if raw is None:
        raise SparkConfigError(
            f"Connection '{conn_id}' has no host: set it to the Spark base URL, "
            "e.g. https://excel.my-env.coherent.global/my-tenant."
        )
    if "://" not in raw:
        raw = f"https://{raw}"
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SparkConfigError(
            f"Connection '{conn_id}' has host '{raw}', which is not an http(s) URL: "
            "use e.g. https://excel.my-env.coherent.global/my-tenant."
        )
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    segments = [s for s in parts.path.split("/") if s]
    if segments[-2:] == ["api", "v3"]:
        segments = segments[:-2]
    if segments and (tenant is None or segments[-1] == tenant):
        tenant = tenant or segments[-1]
        segments = segments[:-1]
    if tenant is None:
        raise SparkConfigError(
            f"Connection '{conn_id}' names no tenant: set extra 'tenant', "
            "or end the host with it (https://excel.my-env.coherent.global/my-tenant)."
        )
    path = "".join(f"/{s}" for s in segments)
    return urlunsplit((parts.scheme.lower(), netloc, path, "", "")), tenant


def _auth_type(conn_id: str, value: Any, login: str | None) -> AuthType:
    chosen = _optional_str(value)
    if chosen is None:
        return "oauth2" if login else "api_key"
    chosen = chosen.lower()
    if chosen not in AUTH_TYPES:
        raise SparkConfigError(
            f"Connection '{conn_id}' has extra auth_type '{chosen}': use one of {', '.join(AUTH_TYPES)}."
        )
    return chosen  # type: ignore[return-value]


_SECRET_FIELD = {
    "api_key": "the API key (synthetic key)",
    "bearer": "the bearer token",
    "oauth2": "the OAuth2 client secret",
}


def _secret(conn_id: str, auth_type: AuthType, password: str | None) -> str:
    secret = (password or "").strip()
    if auth_type == "bearer":
        secret = re.sub(r"^bearer\s+", "", secret, flags=re.IGNORECASE)
    if not secret:
        raise SparkConfigError(
            f"Connection '{conn_id}' uses auth_type '{auth_type}' but has no password: "
            f"put {_SECRET_FIELD[auth_type]} in the password field."
        )
    return secret


def _keycloak_token_url(conn_id: str, base_url: str, tenant: str) -> str:
    parts = urlsplit(base_url)
    if not (parts.hostname or "").startswith("excel."):
        raise SparkConfigError(
            f"Connection '{conn_id}' uses auth_type 'oauth2' and its host does not start with 'excel.', "
            "so the token URL cannot be derived: set extra 'token_url'."
        )
    netloc = parts.netloc.replace("excel.", "keycloak.", 1)
    path = f"/auth/realms/{quote(tenant, safe='')}/protocol/openid-connect/token"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _positive_float(conn_id: str, name: str, value: Any, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not number > 0:
        raise SparkConfigError(f"Connection '{conn_id}' has extra {name}={value!r}: use a number above 0.")
    return number


def _non_negative_int(conn_id: str, name: str, value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if isinstance(value, bool) or number < 0:
        raise SparkConfigError(f"Connection '{conn_id}' has extra {name}={value!r}: use a whole number >= 0.")
    return number


def _verify(conn_id: str, value: Any) -> bool | str:
    """TLS verification: a boolean (strings from the UI included) or a CA bundle path."""
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    if text.startswith("/"):
        return text
    raise SparkConfigError(
        f"Connection '{conn_id}' has extra verify={value!r}: use true, false, or the path of a CA bundle."
    )


def may_send_credentials(config: SparkConnectionConfig, url: str) -> bool:
    """Spark credentials go to the API's exact origin only (scheme, host and port, read strictly):
    never to the document store, nor to a URL that parsers could read another host from."""
    parsed = plain_url(url)
    return parsed is not None and parsed.origin == config.api_url.origin
