"""Faults a test can queue to make the emulator misbehave the way the real service and its proxies do.

A :class:`Fault` names a ``target`` endpoint and a ``kind`` of misbehaviour. Faults are queued per
target and consumed first in, first out; each is used by ``times`` matching requests, then dropped.

Request-level kinds (every target):

* ``status``: answer ``status`` (default 503) with optional ``headers``; the body is ``body`` if
  given, else an nginx-like HTML page if ``html=True``, else the v3 error envelope with ``message``.
* ``delay``: answer normally, ``seconds`` (default 1) late. The request takes effect and is recorded
  on arrival, as with a slow real server, even if the client gives up waiting.
* ``reset``: drop the connection without an answer (recorded with status 0).
* ``echo``: answer ``status`` (default 400) with a body that repeats the request, as some identity
  servers and debugging proxies do: ``source="body"`` (default, e.g. the posted token form) or
  ``"headers"`` (every request header, credentials included). ``json=True`` wraps the echo in the
  endpoint's error shape (Keycloak's ``error_description``, else the v3 envelope's ``message``).
* ``oversize``: answer ``status`` (default 200) with a JSON body of ``bytes`` bytes (default 300 MB),
  generated while it is sent, so that a client's size cap (and not the emulator's memory) is tested.

Bodies are never sent to the faulted endpoint's logic: a ``status`` fault on ``submit`` creates no
job.

Download-only kinds (target ``download``, on either server):

* ``truncate``: the true ``Content-Length``, then only ``after_bytes`` bytes (default half), then close.
* ``corrupt``: same length, one byte flipped inside a member's data so that its CRC check fails.
* ``expired``: answer ``status`` (default 410) and revoke the download token, so the job's next
  status poll hands out a new URL.
* ``redirect``: answer ``status`` (default 302) with ``Location: location`` (default: the same path
  on the emulator's other server, i.e. another origin).

Hostile kinds, for the provider's security tests:

* ``download_url`` (target ``status``): a finished status whose ``download_url`` is ``url``, in
  which ``{api}`` and ``{docstore}`` stand for the two origins, ``{api_host}`` and ``{docstore_host}``
  for their ``host:port``, and ``{path}`` for the job's real download path (e.g.
  ``"http://elsewhere:1\\@{api_host}{path}"``). The job must exist.
* ``job_id`` (target ``submit``): a successful submit answer naming ``job_id`` (any string, e.g.
  ``".."``); no job is created.
* ``gzip`` (target ``download``): the ZIP gzip-compressed with ``Content-Encoding: gzip``, when the
  request's ``Accept-Encoding`` allows gzip, or always if ``always=True``.
* ``gzip_bomb`` (target ``download``): ``Content-Encoding: gzip`` with a body that inflates to
  ``inflated_bytes`` (default 512 MiB) zero bytes.
* ``drip`` (target ``download``): the ZIP with its true ``Content-Length``, ``chunk_bytes`` (default
  1) at a time every ``interval`` seconds (default 0.1): a body that never times out a read.
* ``archive`` (target ``download``): a ZIP made to order instead of the job's. ``members`` is a list
  of ``[name, size]``; with ``repeat`` > 1, each is added ``repeat`` times with ``{i}`` in its name
  replaced by 0, 1, ... ``fill="zeros"`` (default) makes members of zero bytes, which deflate about
  1000:1 (a ZIP bomb); ``"text"`` makes CSV-like lines. Names are stored exactly as given.

Job-level kinds (target ``status``): ``job_error`` and ``never_finish``. Unlike the others they are
not consumed by status polls: each is attached, when a job is *submitted*, to the next ``times``
jobs, and then governs every status poll of those jobs. ``job_error`` answers the v3 error envelope
(``http_status`` default 200, ``message`` default "Job failed"); ``never_finish`` keeps progress at
``progress`` (default 60) for ever.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

TARGETS: tuple[str, ...] = ("token", "submit", "status", "download")
REQUEST_KINDS = frozenset({"status", "delay", "reset", "echo", "oversize"})
DOWNLOAD_KINDS = frozenset({"truncate", "corrupt", "expired", "redirect", "gzip", "gzip_bomb", "drip", "archive"})
JOB_KINDS = frozenset({"job_error", "never_finish"})
#: Request-level kinds that only one target knows.
TARGET_KINDS: dict[str, frozenset[str]] = {
    "token": frozenset(),
    "submit": frozenset({"job_id"}),
    "status": frozenset({"download_url"}),
    "download": DOWNLOAD_KINDS,
}
_KINDS_BY_TARGET: dict[str, frozenset[str]] = {
    "token": REQUEST_KINDS,
    "submit": REQUEST_KINDS | TARGET_KINDS["submit"],
    "status": REQUEST_KINDS | TARGET_KINDS["status"] | JOB_KINDS,
    "download": REQUEST_KINDS | DOWNLOAD_KINDS,
}
_NUMBER = (int, float)
#: Parameters each kind understands, with their accepted types; anything else is a typo.
_PARAMS: dict[str, dict[str, tuple[type, ...]]] = {
    "status": {"status": (int,), "headers": (dict,), "body": (str,), "html": (bool,), "message": (str,)},
    "delay": {"seconds": _NUMBER},
    "reset": {},
    "echo": {"status": (int,), "source": (str,), "json": (bool,)},
    "oversize": {"status": (int,), "bytes": (int,)},
    "download_url": {"url": (str,)},
    "job_id": {"job_id": (str,)},
    "gzip": {"always": (bool,)},
    "gzip_bomb": {"inflated_bytes": (int,)},
    "drip": {"chunk_bytes": (int,), "interval": _NUMBER},
    "archive": {"members": (list,), "repeat": (int,), "fill": (str,)},
    "truncate": {"after_bytes": (int,)},
    "corrupt": {},
    "expired": {"status": (int,)},
    "redirect": {"location": (str,), "status": (int,)},
    "job_error": {"http_status": (int,), "message": (str,)},
    "never_finish": {"progress": (int,)},
}


@dataclass(init=False)
class Fault:
    """One queued misbehaviour; see the module docstring for targets, kinds and their parameters.

    Example: ``Fault("status", "status", times=2, status=429, headers={"Retry-After": "1"})`` makes
    the next two status polls answer 429 with a ``Retry-After`` header.
    """

    target: str
    kind: str
    times: int
    params: dict[str, Any]

    def __init__(self, target: str, kind: str, times: int = 1, **params: Any) -> None:
        self.target = target
        self.kind = kind
        self.times = times
        self.params = params
        self._validate()

    def _validate(self) -> None:
        if self.target not in _KINDS_BY_TARGET:
            raise ValueError(f"unknown fault target {self.target!r}; expected one of {', '.join(TARGETS)}")
        if self.kind not in _KINDS_BY_TARGET[self.target]:
            allowed = ", ".join(sorted(_KINDS_BY_TARGET[self.target]))
            raise ValueError(f"fault kind {self.kind!r} does not apply to {self.target!r}; expected {allowed}")
        if not isinstance(self.times, int) or isinstance(self.times, bool) or self.times < 1:
            raise ValueError(f"times must be a positive integer, got {self.times!r}")
        accepted = _PARAMS[self.kind]
        for name, value in self.params.items():
            if name not in accepted:
                raise ValueError(f"fault kind {self.kind!r} has no parameter {name!r}")
            if not isinstance(value, accepted[name]):
                raise ValueError(f"fault parameter {name!r} has the wrong type: {value!r}")

    def param(self, name: str, default: Any = None) -> Any:
        """Value of parameter ``name``, or ``default`` when the fault does not set it."""
        return self.params.get(name, default)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from JSON (control API): parameters nested under ``params`` or given inline."""
        fields = dict(data)
        params = fields.pop("params", None) or {}
        if not isinstance(params, dict):
            raise ValueError("params must be a JSON object")
        try:
            target, kind = fields.pop("target"), fields.pop("kind")
        except KeyError as missing:
            raise ValueError(f"fault needs {missing.args[0]!r}") from None
        return cls(target, kind, fields.pop("times", 1), **params, **fields)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, the inverse of :meth:`from_dict`."""
        return {"target": self.target, "kind": self.kind, "times": self.times, "params": dict(self.params)}


@dataclass
class _Pending:
    fault: Fault
    remaining: int


class FaultQueue:
    """Thread-safe FIFO of pending faults with their remaining use counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []

    def add(self, fault: Fault) -> Fault:
        """Queue ``fault`` behind the faults already waiting for its target."""
        with self._lock:
            self._pending.append(_Pending(fault, fault.times))
        return fault

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._pending.clear()

    def take(self, target: str, kinds: frozenset[str]) -> Fault | None:
        """Use up one application of the oldest pending fault for ``target`` among ``kinds``."""
        with self._lock:
            for entry in self._pending:
                if entry.fault.target == target and entry.fault.kind in kinds:
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        self._pending.remove(entry)
                    return entry.fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        """Snapshot of queued faults, each with its ``remaining`` count."""
        with self._lock:
            return [{**entry.fault.to_dict(), "remaining": entry.remaining} for entry in self._pending]
