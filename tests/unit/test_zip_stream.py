"""ZipStreamCheck: a ZIP checked as its bytes stream past, in any chunking, against its central directory."""

from __future__ import annotations

import io
import random
import zipfile
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_spark_logs.zip_stream import ZipStreamCheck, ZipStreamError

MEMBERS = [
    ("Motor Quote 1.0.0.csv", b"Call ID,Log Time\r\n" + b"abc,2026-01-01T00:00:00Z\r\n" * 500, zipfile.ZIP_DEFLATED),
    ("padding.bin", random.Random(1).randbytes(70_000), zipfile.ZIP_STORED),
    ("empty.csv", b"", zipfile.ZIP_DEFLATED),
    ("empty.bin", b"", zipfile.ZIP_STORED),
    ("Prämie ✓.csv", b"x,y\r\n" * 1000, zipfile.ZIP_DEFLATED),
]


class Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes data descriptors after each member, as streaming writers do."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        return len(data)


def archive(*, seekable: bool = True, members=MEMBERS, force_zip64: bool = False) -> bytes:
    stream: io.BytesIO | Unseekable = io.BytesIO() if seekable else Unseekable()
    with zipfile.ZipFile(stream, "w") as out:
        for name, data, method in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            with out.open(info, "w", force_zip64=force_zip64) as member:
                member.write(data)
    return stream.getvalue() if isinstance(stream, io.BytesIO) else bytes(stream.buffer)


def streamed(data: bytes, chunk_sizes: list[int]) -> ZipStreamCheck:
    check = ZipStreamCheck()
    position, sizes = 0, iter(chunk_sizes)
    while position < len(data):
        size = next(sizes, 65536)
        check.feed(data[position : position + size])
        position += size
    return check


def directory(data: bytes) -> list[zipfile.ZipInfo]:
    return zipfile.ZipFile(io.BytesIO(data)).infolist()


def data_ranges(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each non-empty member's data in the file."""
    ranges = []
    for info in directory(data):
        name_len, extra_len = (
            int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little"),
            int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little"),
        )
        start = info.header_offset + 30 + name_len + extra_len
        if info.compress_size:
            ranges.append((start, start + info.compress_size))
    return ranges


# ------------------------------------------------------------------ intact archives pass, in any chunking


@pytest.mark.parametrize("layout", ["seekable", "data descriptors", "zip64"])
@given(chunk_sizes=st.lists(st.integers(1, 5000), max_size=60))
@settings(max_examples=40, deadline=None)
def test_intact_archives_pass_whatever_the_chunking(layout, chunk_sizes):
    members = [m for m in MEMBERS if m[2] == zipfile.ZIP_DEFLATED] if layout == "data descriptors" else MEMBERS
    data = archive(seekable=layout != "data descriptors", members=members, force_zip64=layout == "zip64")
    check = streamed(data, chunk_sizes)
    assert check.followed
    check.verify(directory(data))
    assert [(m.name, m.crc, m.file_size) for m in check.members] == [
        (i.orig_filename, i.CRC, i.file_size) for i in directory(data)
    ]


def test_a_deflated_member_is_inflated_in_bounded_steps():
    bomb = archive(members=[("zeros.csv", bytes(50 * 2**20), zipfile.ZIP_DEFLATED)])
    assert len(bomb) < 2**20
    check = streamed(bomb, [len(bomb)])  # one chunk: 50 MiB of output must not come out at once
    check.verify(directory(bomb))
    assert check.members[0].file_size == 50 * 2**20


# ------------------------------------------------------------------ damage is found


def read_back_finds_damage(data: bytes) -> bool:
    """What reading the file again (zipfile's testzip, the check this replaces) finds."""
    try:
        return zipfile.ZipFile(io.BytesIO(data)).testzip() is not None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error):
        return True


@given(seed=st.integers(0, 2**32 - 1), chunk=st.integers(1, 9000))
@settings(max_examples=60, deadline=None)
def test_a_flipped_byte_in_member_data_is_found_whenever_a_read_back_finds_it(seed, chunk):
    """Every flip in a stored member is found; in deflated data, a flip of padding bits changes nothing."""
    intact = archive()
    data = bytearray(intact)
    rng = random.Random(seed)
    start, end = rng.choice(data_ranges(intact))
    position = rng.randrange(start, end)
    data[position] ^= 1 << rng.randrange(8)
    try:
        streamed(bytes(data), [chunk] * (len(data) // chunk + 1)).verify(directory(intact))
    except ZipStreamError:
        found = True
    else:
        found = False
    assert found or not read_back_finds_damage(bytes(data))
    stored_start, stored_end = data_ranges(intact)[1]  # padding.bin
    if stored_start <= position < stored_end:
        assert found


def test_a_cut_off_file_is_found():
    data = archive()
    start, end = data_ranges(data)[1]
    check = streamed(data[: (start + end) // 2], [4096] * 100)
    with pytest.raises(ZipStreamError, match="ends inside a member"):
        check.verify(directory(data))


def test_a_central_directory_that_lists_another_member_is_found():
    data = archive()
    other = archive(members=[*MEMBERS[:-1], ("Prämie ✓.csv", b"y,x\r\n" * 1000, zipfile.ZIP_DEFLATED)])
    check = streamed(data, [])
    with pytest.raises(ZipStreamError, match="differs from its central directory entry"):
        check.verify(directory(other))
    with pytest.raises(ZipStreamError, match="lists 4 members, the file holds 5"):
        check.verify(directory(data)[:4])


# ------------------------------------------------------------------ layouts left to the slow check


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(archive(seekable=False, members=MEMBERS[1:2]), id="stored member of unknown length"),
        pytest.param(archive(members=[("a.csv", b"a" * 100, zipfile.ZIP_BZIP2)]), id="bzip2"),
        pytest.param(b"#!/bin/sh\nexit 0\n" + archive(), id="bytes before the first member"),
        pytest.param(archive(members=[]), id="no members"),
    ],
)
def test_layouts_it_cannot_follow_are_left_to_a_full_read(data):
    check = streamed(data, [])
    assert not check.followed
