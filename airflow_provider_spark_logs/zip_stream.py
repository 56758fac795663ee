"""Checking a ZIP as it streams past: every member's CRC-32 and sizes, without reading it again.

A landed ZIP must be whole before it is published. Reading it back after the download costs one
more pass over the file; :class:`ZipStreamCheck` is fed the bytes as they arrive instead, walks the
local headers, and inflates and CRCs each member on the way. Once the file is complete, its central
directory (a few KiB at the end) must list exactly the members seen, at the same offsets, with the
same names, sizes and CRCs. A layout it cannot follow in one pass (encryption, a compression other
than stored or deflated, a stored member of unknown length) leaves :attr:`ZipStreamCheck.followed`
False, and the caller checks the file the slow way. No I/O here: bytes in, verdicts out.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_LOCAL = b"PK\x03\x04"
_DESCRIPTOR = b"PK\x07\x08"
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature, version, flags, method, time, date, crc, sizes, lengths
_ZIP64_EXTRA = 0x0001
_ENCRYPTED, _HAS_DESCRIPTOR, _UTF8 = 0x1, 0x8, 0x800
_STORED, _DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
_INFLATE_STEP = 1 << 20  # most bytes one inflate call may produce


#: Told each member's name, bytes inflated and compressed bytes read so far, and all members' total
#: inflated so far, after every inflate step; raises to stop a ZIP bomb before it inflates further.
InflationCheck = Callable[[str, int, int, int], None]


class ZipStreamError(Exception):
    """The streamed bytes are not an intact ZIP; the message says what is wrong."""


@dataclass(frozen=True)
class StreamedMember:
    """A member as its local header and data showed it (sizes and CRC as computed, not as claimed)."""

    offset: int
    name: str
    crc: int
    compress_size: int
    file_size: int


@dataclass
class _Member:
    offset: int
    name: str
    method: int
    flags: int
    claimed_crc: int
    claimed_compress_size: int | None  # None: only the data descriptor will tell
    claimed_file_size: int | None
    zip64: bool
    crc: int = 0
    compress_size: int = 0
    file_size: int = 0
    inflater: zlib._Decompress | None = None


def _zip64_sizes(extra: bytes, file_size: int, compress_size: int) -> tuple[int, int, bool]:
    """Sizes from a zip64 extra field, where the header holds 0xFFFFFFFF placeholders."""
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + length]
        if kind == _ZIP64_EXTRA:
            values = list(struct.unpack_from(f"<{len(body) // 8}Q", body))
            if file_size == 0xFFFFFFFF and values:
                file_size = values.pop(0)
            if compress_size == 0xFFFFFFFF and values:
                compress_size = values.pop(0)
            return file_size, compress_size, True
        position += 4 + length
    return file_size, compress_size, False


class ZipStreamCheck:
    """Feed it a ZIP's bytes in order (:meth:`feed`); then :meth:`verify` it against the central directory."""

    def __init__(self, inflation_check: InflationCheck | None = None) -> None:
        self.members: list[StreamedMember] = []
        self._inflation_check = inflation_check
        self._finished_bytes = 0  # bytes the finished members inflated to
        self.followed = True  # False: a layout this cannot check in one pass; check the file instead
        self._pending = bytearray()  # a header or descriptor split across chunks (never member data)
        self._offset = 0  # file offset of the next byte not consumed (pending bytes not counted)
        self._member: _Member | None = None
        self._in_descriptor = False
        self._done = False  # the central directory began: no member follows

    def feed(self, data: bytes) -> None:
        """The next bytes of the file (any chunking); raises :class:`ZipStreamError` on damage."""
        view = memoryview(data)
        while view and not self._done and self.followed:
            if self._in_descriptor:
                view = self._descriptor(view)
            elif self._member is not None:
                view = self._member_data(view)
            else:
                view = self._local_header(view)

    def _fill(self, view: memoryview, size: int) -> memoryview:
        """Move bytes from ``view`` into the pending buffer until it holds ``size``; return the rest."""
        missing = size - len(self._pending)
        if missing > 0:
            self._pending += view[:missing]
            view = view[missing:]
        return view

    def _consume_pending(self) -> None:
        self._offset += len(self._pending)
        self._pending.clear()

    # -- headers and descriptors ---------------------------------------------------------------

    def _local_header(self, view: memoryview) -> memoryview:
        view = self._fill(view, 4)
        if len(self._pending) < 4:
            return view
        if self._pending[:4] != _LOCAL:
            # The central directory, which verify() checks; or, before any member, a layout (an
            # empty or self-extracting archive) that is left to the slow check.
            self._done = True
            self.followed = bool(self.members)
            return view
        view = self._fill(view, _LOCAL_HEADER.size)
        if len(self._pending) < _LOCAL_HEADER.size:
            return view
        fields = _LOCAL_HEADER.unpack_from(self._pending)
        flags, method, crc, compress_size, file_size, name_len, extra_len = fields[2:4] + fields[6:]
        view = self._fill(view, _LOCAL_HEADER.size + name_len + extra_len)
        if len(self._pending) < _LOCAL_HEADER.size + name_len + extra_len:
            return view
        raw_name = bytes(self._pending[_LOCAL_HEADER.size : _LOCAL_HEADER.size + name_len])
        extra = bytes(self._pending[_LOCAL_HEADER.size + name_len :])
        file_size, compress_size, zip64 = _zip64_sizes(extra, file_size, compress_size)
        sized = not flags & _HAS_DESCRIPTOR
        if flags & _ENCRYPTED or method not in (_STORED, _DEFLATED) or (method == _STORED and not sized):
            self.followed = False
            return view
        self._member = _Member(
            offset=self._offset,
            name=raw_name.decode("utf-8" if flags & _UTF8 else "cp437"),
            method=method,
            flags=flags,
            claimed_crc=crc,
            claimed_compress_size=compress_size if sized else None,
            claimed_file_size=file_size if sized else None,
            zip64=zip64,
            inflater=zlib.decompressobj(-zlib.MAX_WBITS) if method == _DEFLATED else None,
        )
        self._consume_pending()
        return view

    def _descriptor(self, view: memoryview) -> memoryview:
        member = self._member
        assert member is not None
        view = self._fill(view, 4)
        if len(self._pending) < 4:
            return view
        signed = self._pending[:4] == _DESCRIPTOR
        start = 4 if signed else 0
        size = start + (20 if member.zip64 else 12)
        view = self._fill(view, size)
        if len(self._pending) < size:
            return view
        layout = "<L2Q" if member.zip64 else "<3L"
        member.claimed_crc, member.claimed_compress_size, member.claimed_file_size = struct.unpack_from(
            layout, self._pending, start
        )
        self._consume_pending()
        self._in_descriptor = False
        self._finish(member)
        return view

    # -- member data ---------------------------------------------------------------------------

    def _member_data(self, view: memoryview) -> memoryview:
        """Consume this member's bytes from ``view``; return what follows the member."""
        member = self._member
        assert member is not None
        known = member.claimed_compress_size
        take = len(view) if known is None else min(len(view), known - member.compress_size)
        piece, rest = view[:take], view[take:]
        if member.inflater is None:
            member.crc = zlib.crc32(piece, member.crc)
            member.file_size += len(piece)
        else:
            unused = self._inflate(member, member.inflater, piece)
            if unused:
                if known is not None:
                    raise ZipStreamError(f"member {member.name!r} ends before its stated size")
                # A member with a data descriptor ends where its deflate stream ends.
                piece, rest = piece[: take - unused], piece[take - unused :]
        member.compress_size += len(piece)
        self._offset += len(piece)
        if known is None:
            if member.inflater is not None and member.inflater.eof:
                self._in_descriptor = True
        elif member.compress_size == known:
            if member.inflater is not None and not member.inflater.eof:
                raise ZipStreamError(f"member {member.name!r} is cut short inside its deflate stream")
            self._finish(member)
        return rest

    def _inflate(self, member: _Member, inflater: zlib._Decompress, piece: memoryview) -> int:
        """Inflate ``piece`` in bounded steps (a ZIP bomb must not fill memory, and the inflation
        check may stop it after any step); return bytes left unused."""
        data: bytes | memoryview = piece
        try:
            while data and not inflater.eof:
                out = inflater.decompress(data, _INFLATE_STEP)
                member.crc = zlib.crc32(out, member.crc)
                member.file_size += len(out)
                data = inflater.unconsumed_tail
                if self._inflation_check is not None:
                    read = member.compress_size + len(piece) - len(data)
                    self._inflation_check(member.name, member.file_size, read, self._finished_bytes + member.file_size)
        except zlib.error as error:
            raise ZipStreamError(f"member {member.name!r} does not inflate ({error})") from None
        return len(inflater.unused_data) if inflater.eof else 0

    def _finish(self, member: _Member) -> None:
        computed = (member.crc, member.file_size, member.compress_size)
        if computed != (member.claimed_crc, member.claimed_file_size, member.claimed_compress_size):
            raise ZipStreamError(f"member {member.name!r} fails its CRC or size check")
        self.members.append(
            StreamedMember(member.offset, member.name, member.crc, member.compress_size, member.file_size)
        )
        self._finished_bytes += member.file_size
        self._member = None

    # -- the end -------------------------------------------------------------------------------

    def verify(self, directory: Iterable[zipfile.ZipInfo]) -> None:
        """Check the central directory against what streamed past: the same members, all intact."""
        if self._member is not None or self._in_descriptor:
            raise ZipStreamError("the file ends inside a member")
        seen = {member.offset: member for member in self.members}
        listed = list(directory)
        if len(listed) != len(seen):
            raise ZipStreamError(f"the central directory lists {len(listed)} members, the file holds {len(seen)}")
        for info in listed:
            member = seen.get(info.header_offset)
            expected = (info.orig_filename, info.CRC, info.compress_size, info.file_size)
            if member is None or (member.name, member.crc, member.compress_size, member.file_size) != expected:
                raise ZipStreamError(f"member {info.filename!r} differs from its central directory entry")
