"""Damaged and hostile files: every one gives a ValueError that names the file (or loads
correctly), nothing is ever unpickled, resource-heavy files are refused by their declared sizes
before their data are read, and a failed save leaves the previous file intact.

Resource-heavy cases are made small by lowering the limits (``lr_variants._files.LIMITS``, put
back by ``monkeypatch``) rather than by writing big files. Families: damaged data files, hostile
``.npy`` headers, inflation bombs, CSV, paths, atomic save, hostile model files.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import lr_variants as lv
from lr_variants import _files
from lr_variants._files import LIMITS

LOADERS: dict[str, Callable[[Any], Any]] = {"load_data": lv.load_data, "load": lv.load}
ARG = {"load_data": "data", "load": "path"}  # what each loader's messages call its argument
X, Y = lv.two_blobs(4)


# ---- builders -----------------------------------------------------------------------------------


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def raw_npy(header: str, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy member with ``header`` written as is (no check of what it declares)."""
    fmt = "<H" if version == (1, 0) else "<I"
    pre = b"\x93NUMPY" + bytes(version)
    h = header.encode("latin1")
    pad = -(len(pre) + struct.calcsize(fmt) + len(h) + 1) % 64
    h += b" " * pad + b"\n"
    return pre + struct.pack(fmt, len(h)) + h + data


def head(descr: str = "<f8", shape: tuple[int, ...] = (2,), fortran: bool = False) -> str:
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape!r}, }}"


def write_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def patch_central(path: Path, member: str, offset: int, value: bytes) -> None:
    """Overwrite bytes of ``member``'s central-directory record (flags at 8, method at 10,
    compressed size at 20, size at 24)."""
    raw = bytearray(path.read_bytes())
    at = raw.index(b"PK\x01\x02")
    while True:
        (name_len,) = struct.unpack_from("<H", raw, at + 28)
        if raw[at + 46 : at + 46 + name_len] == member.encode():
            break
        at = raw.index(b"PK\x01\x02", at + 4)
    raw[at + offset : at + offset + len(value)] = value
    path.write_bytes(bytes(raw))


def flip(raw: bytes, at: int, xor: int) -> bytes:
    """``raw`` with one byte XORed: byte ``at`` (modulo the length) or, for ``at < 0``, byte
    ``-at`` of the first central-directory record (10: compression method, 8: flags)."""
    out = bytearray(raw)
    out[raw.index(b"PK\x01\x02") - at if at < 0 else at % len(raw)] ^= xor
    return bytes(out)


def data_members(X: Any = X, y: Any = Y) -> dict[str, bytes]:
    return {"X.npy": npy(np.asarray(X)), "y.npy": npy(np.asarray(y))}


def model_members(tmp: Path, dtype: str = "float32") -> dict[str, bytes]:
    model = lv.create("numpy", 2, momentum=0.9, dtype=dtype)
    model.step(X, Y)
    model.save(tmp / "source.model")
    with zipfile.ZipFile(tmp / "source.model") as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def with_meta(members: dict[str, bytes], text: str) -> dict[str, bytes]:
    return members | {"metadata.npy": npy(np.frombuffer(text.encode(), np.uint8))}


def meta_text(members: dict[str, bytes]) -> str:
    return bytes(np.load(io.BytesIO(members["metadata.npy"]))).decode()


def refused(load: Callable[[Any], Any], path: Path, match: str) -> str:
    """``load(path)`` raises a ValueError matching ``match`` that names the file."""
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    assert str(path) in str(info.value), str(info.value)
    return str(info.value)


# ---- damaged data files -------------------------------------------------------------------------


def _damaged(tmp: Path) -> Iterator[tuple[str, Path, str]]:
    good = write_zip(tmp / "good.npz", data_members()).read_bytes()
    flipped = bytearray(good)
    flipped[good.index(b"<f8") + 80] ^= 0xFF
    (tmp / "crc.npz").write_bytes(bytes(flipped))
    yield "changed byte", tmp / "crc.npz", r"not a readable \.npz .*CRC"
    yield (
        "not .npy",
        write_zip(tmp / "other.npz", data_members() | {"notes.txt": b"hi"}),
        r"unexpected member 'notes.txt'",
    )
    yield (
        "bad magic",
        write_zip(tmp / "magic.npz", {"X.npy": b"NOTNUMPY" * 4, "y.npy": npy(Y)}),
        r"array 'X' is not a \.npy array",
    )
    yield (
        "text X",
        write_zip(tmp / "text.npz", data_members(X=np.array([["a", "b"]]), y=[0])),
        r"X must hold real numbers; got an array of dtype <U1",
    )


DAMAGED = ["changed byte", "not .npy", "bad magic", "text X"]


@pytest.mark.parametrize("case", DAMAGED)
def test_damaged_data_file_is_one_valueerror_naming_it(tmp_path: Path, case: str) -> None:
    found = {name: (path, match) for name, path, match in _damaged(tmp_path)}
    refused(lv.load_data, *found[case])


@given(at=st.integers(0, 10**6), xor=st.integers(1, 255))
@example(at=-10, xor=0xFF)  # the compression method of X's central-directory record
def test_any_flipped_byte_of_a_data_file_is_refused_or_harmless(
    workdir: Path, at: int, xor: int
) -> None:
    """Flipping any byte of a valid .npz data file gives a ValueError naming it or the same
    arrays, never another exception."""
    path = workdir / "flip.npz"
    path.write_bytes(flip(write_zip(path, data_members()).read_bytes(), at, xor))
    try:
        Xl, yl = lv.load_data(path)
    except ValueError as exc:
        assert str(path) in str(exc)
    else:
        assert np.array_equal(Xl, X) and np.array_equal(yl, Y)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


# ---- hostile .npy headers -----------------------------------------------------------------------


class _Payload:
    """Unpickling this object creates a directory: the test sees whether it was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.marker),)


BOTH, DATA = ("load_data", "load"), ("load_data",)  # model files refused these already
HEADERS: list[tuple[str, tuple[str, ...], bytes, str]] = [
    (
        "huge shape",
        BOTH,
        raw_npy(head(shape=(10**12,)), b"\0" * 16),
        r"declares shape \(1000000000000,\)",
    ),
    ("huge 2-D", BOTH, raw_npy(head(shape=(2**62, 2**62))), r"declares shape .* more than the"),
    ("huge item", BOTH, raw_npy(head(descr="V2000000000", shape=(4,))), r"more than the \d+ bytes"),
    (
        "short data",
        BOTH,
        raw_npy(head(shape=(1000,)), b"\0" * 16),
        r"\(8000 bytes\) but its member holds 16",
    ),
    (
        "long data",
        BOTH,
        raw_npy(head(shape=(2,)), b"\0" * 24),
        r"\(16 bytes\) but its member holds 24",
    ),
    (
        "header size",
        BOTH,
        raw_npy(head() + " " * 20000, b"\0" * 16, (2, 0)),
        r"header of \d+ bytes",
    ),
    ("negative", DATA, raw_npy(head(shape=(-1,))), r"negative dimension"),
    ("version 3", DATA, raw_npy(head(), b"\0" * 16, (3, 0)), r"has \.npy version \(3, 0\)"),
    (
        "2**64 rows",
        DATA,
        raw_npy(head(shape=(2**64, 2))),
        r"declares shape \(18446744073709551616, 2\)",
    ),
    ("10**30", DATA, raw_npy(head(shape=(10**30,))), r"declares shape \(10{30},\)"),
    ("empty 2**64", DATA, raw_npy(head(shape=(0, 2**64))), r"declares shape \(0, 1844674\d+\)"),
    (
        "bool shape",
        DATA,
        raw_npy(head(shape=(True, 2)), b"\0" * 16),
        r"its dimensions must be integers",
    ),
    (
        "two negatives",
        DATA,
        raw_npy(head(shape=(-2, -1))),
        r"negative dimension in shape \(-2, -1\)",
    ),
    ("40 dims", DATA, raw_npy(head(shape=(1,) * 40), b"\0" * 8), r"declares 40 dimensions"),
    (
        "structured",
        DATA,
        raw_npy(head(descr=[("a", "<f8")]), b"\0" * 16),
        r"structured or sub-array",
    ),
    ("sub-array", DATA, raw_npy(head(descr="(4,)<f8", shape=(1,)), b"\0" * 32), r"structured or"),
    ("zero bytes", DATA, raw_npy(head(descr="|V0", shape=(2,))), r"whose items hold no bytes"),
    ("not a dict", DATA, raw_npy("[1, 2]"), r"not a readable"),
    ("deep header", DATA, raw_npy("(" * 3000 + ")" * 3000), r"not a readable"),
]


@pytest.mark.parametrize(
    "loader,member,match",
    [(loader, *h[2:]) for h in HEADERS for loader in h[1]],
    ids=[f"{h[0]}-{loader}" for h in HEADERS for loader in h[1]],
)
def test_hostile_header_is_refused_before_its_data(
    tmp_path: Path, loader: str, member: bytes, match: str
) -> None:
    members = data_members() if loader == "load_data" else model_members(tmp_path)
    key = "X.npy" if loader == "load_data" else "w.npy"
    path = write_zip(tmp_path / "hostile.npz", members | {key: member})
    refused(LOADERS[loader], path, match)


@pytest.mark.parametrize("kind", ["object", "masked object"])
def test_pickled_data_arrays_are_refused_without_unpickling(tmp_path: Path, kind: str) -> None:
    """(Model files: tests/test_io.py.)"""
    marker = tmp_path / "unpickled"
    evil = np.array([_Payload(marker), 1.0], dtype=object)
    if kind == "masked object":
        evil = np.ma.masked_array(evil, mask=[False, True])
    path = write_zip(tmp_path / "evil.npz", data_members() | {"X.npy": npy(evil)})
    refused(lv.load_data, path, r"holds Python objects .* refused without unpickling")
    assert not marker.exists()


# ---- inflation bombs ----------------------------------------------------------------------------


def test_valid_array_followed_by_zeros_is_refused(tmp_path: Path, monkeypatch) -> None:
    """A valid ``w`` member followed by 8 MiB of zeros (deflated ~1000:1): refused from the
    zip directory by its ratio, and, with the ratio allowed, from its header by its size."""
    members = model_members(tmp_path)
    members["w.npy"] += b"\0" * (8 << 20)
    path = write_zip(tmp_path / "bomb.model", members, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    refused(lv.load, path, r"array 'w' inflates \d+ bytes to \d+ \(ratio \d+:1\).*max_ratio")
    monkeypatch.setattr(LIMITS, "max_ratio", 10_000)
    refused(lv.load, path, r"array 'w' declares shape \(2,\) .* holds 8388624 bytes after")


def test_member_over_the_size_limit_is_refused_unread(tmp_path: Path, monkeypatch) -> None:
    """A member that inflates past max_array_bytes + max_header_bytes is refused by the size
    its directory record states; a record that claims 3 GB is refused the same way."""
    monkeypatch.setattr(LIMITS, "max_array_bytes", 1000)
    monkeypatch.setattr(LIMITS, "max_header_bytes", 200)
    big = np.zeros((200, 2))  # 3200 bytes of data
    path = write_zip(tmp_path / "big.npz", data_members(X=big, y=np.zeros(200)))
    refused(lv.load_data, path, r"array 'X' inflates to \d+ bytes, more than the 1200 allowed")
    monkeypatch.undo()
    path = write_zip(tmp_path / "claim.npz", data_members(), zipfile.ZIP_DEFLATED)
    patch_central(path, "X.npy", 24, struct.pack("<I", 3_000_000_000))
    refused(lv.load_data, path, r"array 'X' inflates to 3000000000 bytes")


def test_compressed_data_over_the_ratio_is_refused_until_allowed(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(LIMITS, "ratio_grace_bytes", 1024)
    zeros = np.zeros((2000, 2))
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, X=zeros, y=np.zeros(2000))
    refused(lv.load_data, path, r"ratio \d+:1\), more than the 200:1 allowed \(LIMITS.max_ratio\)")
    monkeypatch.setattr(LIMITS, "max_ratio", 5000)
    assert lv.load_data(path)[0].shape == (2000, 2)
    # what the checks accept still loads exactly: Fortran order, big-endian, small integers
    members = {"X.npy": npy(np.asfortranarray(X).astype(">f8")), "y.npy": npy(Y.astype("u1"))}
    Xl, yl = lv.load_data(write_zip(tmp_path / "f.npz", members, zipfile.ZIP_DEFLATED))
    assert np.array_equal(Xl, X) and np.array_equal(yl, Y)


# ---- CSV ----------------------------------------------------------------------------------------


def test_csv_with_byte_order_mark_keeps_its_first_row(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf1,2,0\r\n3,4,1\r\n")
    Xl, yl = lv.load_data(path)
    assert Xl.tolist() == [[1, 2], [3, 4]] and yl.tolist() == [0, 1]
    path.write_bytes(b"\xef\xbb\xbfa,b,label\n1,2,0\n")  # a header after the mark is a header
    assert lv.load_data(path)[0].tolist() == [[1, 2]]
    for empty in (b"", b"\xef\xbb\xbf", b"\n \n", b"a,b,label\n"):
        path.write_bytes(empty)
        refused(lv.load_data, path, r"must hold at least one row of numbers")


CSV_REFUSED: list[tuple[str, bytes, dict[str, int], str]] = [
    ("latin-1", "1,2,0\n3,4é,1\n".encode("latin-1"), {}, r"UTF-8 text; line 2 holds byte 0xe9"),
    ("utf-16", "1,2,0\n".encode("utf-16"), {}, r"must be UTF-8 text; it starts like UTF-16"),
    (
        "file size",
        b"1,2,0\n" * 40,
        {"max_csv_bytes": 100},
        r"240 bytes, more than the 100 .*LIMITS.max_csv_bytes",
    ),
    (
        "sparse",
        b"0," * 99 + b"0\n" + b"0," * 99 + b"1\n",
        {"max_array_bytes": 1000},
        r"more than 1000 bytes of numbers at line 2",
    ),
    ("line", b"0," * 60 + b"1\n", {"max_csv_line_bytes": 100}, r"line 1 is longer than 100 bytes"),
    ("nan", b"1,2,0\nnan,1,1\n", {}, r"X must hold finite float64 values; got nan"),
    ("label", b"1,2,0\n1,1,7\n", {}, r"y must hold only 0 and 1; got 7.0"),
]


@pytest.mark.parametrize(
    "content,limits,match", [c[1:] for c in CSV_REFUSED], ids=[c[0] for c in CSV_REFUSED]
)
def test_bad_or_oversized_csv_is_one_valueerror_naming_it(
    tmp_path: Path, monkeypatch, content: bytes, limits: dict[str, int], match: str
) -> None:
    for field, value in limits.items():
        monkeypatch.setattr(LIMITS, field, value)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    message = refused(lv.load_data, path, match)
    assert "LIMITS" not in match or "raise" in message  # says how to raise the limit


def test_csv_is_streamed_without_blowing_up(tmp_path: Path) -> None:
    """A sparse CSV (2 bytes a value) peaks at about twice its float64 table, not the ~30x a
    Python list of rows of floats costs."""
    rows, cols = 20_000, 16
    path = tmp_path / "sparse.csv"
    path.write_bytes((b"0," * (cols - 1) + b"1\n") * rows)
    table_bytes = rows * cols * 8
    tracemalloc.start()
    try:
        Xl, _ = lv.load_data(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert Xl.shape == (rows, cols - 1)
    assert peak < 3 * table_bytes + (2 << 20), peak


@given(content=st.binary(max_size=64))
@example(content=b"\xff,1\n")
@example(content=b"1,0\n\x00,1\n")
def test_any_bytes_as_csv_load_or_name_the_file(workdir: Path, content: bytes) -> None:
    """Any bytes in a .csv give a validated (X, y) or a ValueError naming the file."""
    path = workdir / "any.csv"
    path.write_bytes(content)
    try:
        Xl, yl = lv.load_data(path)
    except ValueError as exc:
        assert str(path) in str(exc)
    else:
        assert Xl.ndim == 2 and set(np.unique(yl)) <= {0.0, 1.0}


# ---- paths --------------------------------------------------------------------------------------


def _path_case(tmp: Path, case: str) -> tuple[Any, str]:
    if case == "empty":
        return "", r"must be a non-empty path; got ''"
    if case == "too long":
        return str(tmp / ("x" * 5000)), r"must be a readable file; got .*5\d{3} characters"
    if case == "NUL":
        return str(tmp / "a\0b"), r"must be a path without NUL characters"
    if case == "directory":
        return tmp, r"must be a regular file; got .*, a directory"
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    return fifo, r"must be a regular file; got .*, a FIFO"


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("case", ["empty", "too long", "NUL", "directory", "fifo"])
def test_bad_path_is_one_valueerror(tmp_path: Path, loader: str, case: str) -> None:
    path, match = _path_case(tmp_path, case)
    with pytest.raises(ValueError, match=f"{ARG[loader]} {match}"):
        LOADERS[loader](path)  # a FIFO with no writer would block a plain open()


@pytest.mark.parametrize("loader", LOADERS)
def test_unreadable_file_is_one_valueerror(tmp_path: Path, loader: str, monkeypatch) -> None:
    path = tmp_path / ("d.csv" if loader == "load_data" else "m.model")
    path.write_bytes(b"1,2,0\n")
    if os.geteuid() == 0:  # root reads a mode-000 file: make the system say no instead
        real_open = os.open

        def deny(p: Any, *args: Any, **kwargs: Any) -> int:
            if os.fspath(p) == str(path):
                raise PermissionError(errno.EACCES, "Permission denied", str(p))
            return real_open(p, *args, **kwargs)

        monkeypatch.setattr(os, "open", deny)
    else:
        path.chmod(0)
    with pytest.raises(ValueError, match=r"must be a readable file; got .*: permission denied"):
        LOADERS[loader](path)


# ---- atomic save --------------------------------------------------------------------------------


def _saved(tmp: Path) -> tuple[Path, bytes]:
    path = tmp / "model.npz"
    lv.create("numpy", 2, momentum=0.9).save(path)
    path.chmod(0o640)
    return path, path.read_bytes()


def _failing_savez(exc: BaseException, after: int) -> Callable[..., None]:
    def savez(f: Any, **arrays: Any) -> None:
        f.write(b"\x01" * after)
        raise exc

    return savez


@pytest.mark.parametrize(
    "exc,raised",
    [
        (OSError(errno.ENOSPC, "No space left on device"), ValueError),
        (OSError(errno.EFBIG, "File too large"), ValueError),
        (KeyboardInterrupt(), KeyboardInterrupt),
        (MemoryError(), MemoryError),
    ],
    ids=["disk full", "file too large", "KeyboardInterrupt", "MemoryError"],
)
def test_failed_save_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch, exc: BaseException, raised: type[BaseException]
) -> None:
    path, good = _saved(tmp_path)
    monkeypatch.setattr(np, "savez", _failing_savez(exc, 700))
    with pytest.raises(raised) as info:
        lv.create("numpy", 5).save(path)
    if raised is ValueError:
        assert str(path) in str(info.value) and "unchanged" in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == good and lv.load(path).n_features == 2
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    lv.create("numpy", 5).save(path)  # a save that succeeds keeps the file's permissions
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and lv.load(path).n_features == 5


@given(after=st.integers(0, 4096), interrupt=st.booleans())
def test_write_atomic_failing_anywhere_keeps_the_old_file(
    workdir: Path, after: int, interrupt: bool
) -> None:
    """Whichever byte a write fails at, the target keeps its old content and no temporary
    remains."""
    folder = workdir / "atomic"
    folder.mkdir(exist_ok=True)
    target = folder / "t.bin"
    target.write_bytes(b"old")
    exc: BaseException = KeyboardInterrupt() if interrupt else OSError(errno.ENOSPC, "full")

    def write(f: Any) -> None:
        f.write(b"n" * after)
        raise exc

    with pytest.raises(KeyboardInterrupt if interrupt else ValueError):
        _files.write_atomic(target, write)
    assert target.read_bytes() == b"old" and os.listdir(folder) == ["t.bin"]


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE and FIFOs are POSIX")
def test_save_under_a_file_size_limit_keeps_the_old_file(tmp_path: Path) -> None:
    """A real RLIMIT_FSIZE (the system refuses writes past 8 KiB): the save fails as a
    ValueError, the smaller model saved before is intact, no temporary is left."""
    path, good = _saved(tmp_path)
    script = textwrap.dedent(
        f"""
        import resource, sys
        import lr_variants as lv
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
        try:
            lv.create("numpy", 4000).save({str(path)!r})
        except ValueError as exc:
            print("refused:", exc)
        """
    )
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert "refused:" in out.stdout and "File too large" in out.stdout, out.stdout + out.stderr
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("case", ["directory", "fifo", "no folder"])
def test_save_refuses_a_target_that_is_not_a_regular_file(tmp_path: Path, case: str) -> None:
    target = {"directory": tmp_path / "d", "fifo": tmp_path / "f", "no folder": tmp_path / "x/m"}
    match = {"directory": "a directory", "fifo": "a FIFO", "no folder": "existing directory"}
    path = target[case]
    if case == "directory":
        path.mkdir()
    elif case == "fifo":
        os.mkfifo(path)
    outcome: list[BaseException | None] = []

    def save() -> None:
        try:
            lv.create("numpy", 2).save(path)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=save, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # blocked opening the FIFO: give it a reader so the thread ends
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail("save blocked on a FIFO")
    assert isinstance(outcome[0], ValueError), outcome
    assert match[case] in str(outcome[0]) and str(path) in str(outcome[0])


# ---- hostile model files ------------------------------------------------------------------------


def _meta_edit(old: str, new: str) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    def edit(members: dict[str, bytes]) -> dict[str, bytes]:
        text = meta_text(members)
        assert old in text
        return with_meta(members, text.replace(old, new))

    return edit


def _set_array(key: str, value: Any) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    return lambda members: members | {f"{key}.npy": npy(np.asarray(value, dtype=np.float64))}


MODELS: list[tuple[str, Callable[[dict[str, bytes]], dict[str, bytes]], str]] = [
    ("400-digit lr", _meta_edit('"lr": 0.1', '"lr": 1' + "0" * 399), r"a number of 400 characters"),
    (
        "5000-digit n",
        _meta_edit('"n_features": 2', '"n_features": 1' + "0" * 4999),
        r"number of 5000",
    ),
    ("NaN lr", _meta_edit('"lr": 0.1', '"lr": NaN'), r"holds NaN, which is not JSON"),
    ("nested", lambda m: with_meta(m, "[" * 30_000 + "]" * 30_000), r"nests 30000 levels deep"),
    ("nested value", _meta_edit('"cpu"', "[" * 5000 + "]" * 5000), r"nests 5001 levels deep"),
    (
        "w 1e39",
        _set_array("w", [1e39, 0.0]),
        r"'w' must hold finite values in the model's dtype float32; got 1e\+39",
    ),
    (
        "buffer 1e39",
        _set_array("momentum_w", [0.0, -1e39]),
        r"'momentum_w' must hold finite values in the model's dtype float32; got -1e\+39",
    ),
    (
        "bias 1e39",
        _set_array("momentum_b", 1e39),
        r"'momentum_b' must hold finite values in the model's dtype float32",
    ),
    ("impl", _meta_edit('"impl": "textbook"', '"impl": "jax"'), r"impl must be one of"),
]


@pytest.mark.parametrize("edit,match", [m[1:] for m in MODELS], ids=[m[0] for m in MODELS])
def test_hostile_model_file_is_refused(tmp_path: Path, edit, match: str) -> None:
    path = write_zip(tmp_path / "hostile.model", edit(model_members(tmp_path)))
    refused(lv.load, path, match)


def test_metadata_over_its_limits_is_refused_before_parsing(tmp_path: Path, monkeypatch) -> None:
    members = model_members(tmp_path)
    path = write_zip(tmp_path / "m.model", members)
    monkeypatch.setattr(LIMITS, "max_json_bytes", 100)
    refused(lv.load, path, r"array 'metadata' declares .* more than the 100 bytes allowed")
    monkeypatch.setattr(LIMITS, "max_json_bytes", 1 << 16)
    monkeypatch.setattr(LIMITS, "max_json_depth", 1)
    refused(lv.load, path, r"metadata nests 2 levels deep, more than the 1 allowed")


@pytest.mark.parametrize(
    "offset,value,match",
    [
        (10, struct.pack("<H", 12), r"compression method 12; lr_variants reads only"),  # bzip2
        (10, struct.pack("<H", 99), r"compression method 99"),  # AES, unknown to zipfile
        (8, struct.pack("<H", 1), r"array 'w' is encrypted"),
    ],
    ids=["bzip2", "method 99", "encrypted"],
)
def test_unknown_compression_is_refused(
    tmp_path: Path, offset: int, value: bytes, match: str
) -> None:
    path = write_zip(tmp_path / "m.model", model_members(tmp_path))
    patch_central(path, "w.npy", offset, value)
    refused(lv.load, path, match)


def test_file_without_impl_loads_as_textbook(tmp_path: Path) -> None:
    """Format version 1 as first written (no 'impl' key) still loads; saving writes it."""
    members = model_members(tmp_path)
    assert json.loads(meta_text(members))["impl"] == "textbook"
    old = with_meta(members, meta_text(members).replace(', "impl": "textbook"', ""))
    loaded = lv.load(write_zip(tmp_path / "v1.model", old))
    assert loaded.impl == "textbook" and loaded.get_state().keys() == {
        "momentum_w",
        "momentum_b",
    }


@given(at=st.integers(0, 10**6), xor=st.integers(1, 255))
@example(at=-10, xor=0xFF)  # the compression method of the first central-directory record
@example(at=-8, xor=0x01)  # its "encrypted" flag
def test_any_flipped_byte_of_a_model_file_is_refused_or_harmless(
    workdir: Path, at: int, xor: int
) -> None:
    """Flipping any byte of a valid model file gives a ValueError naming it, or the same
    model, never another exception."""
    path = workdir / "flip.model"
    if not (workdir / "good.model").exists():
        model = lv.create("numpy", 2, momentum=0.9, dtype="float32")
        model.step(X, Y)
        model.save(workdir / "good.model")
    path.write_bytes(flip((workdir / "good.model").read_bytes(), at, xor))
    try:
        model = lv.load(path)
    except ValueError as exc:
        assert str(path) in str(exc)
    else:
        ref = lv.load(workdir / "good.model")
        assert np.array_equal(np.append(*model.get_params()), np.append(*ref.get_params()))
        assert model.sgd == ref.sgd


# ---- memory-mapped .npy pairs -------------------------------------------------------------------

# headers of an X.npy memory-mapped as is (no size limit applies: only the header is read)
MAPPED_HEADERS: list[tuple[str, bytes, str]] = [
    (
        "2**64 rows",
        raw_npy(head(shape=(2**64, 2)), b"\0" * 16),
        r"declares shape \(18446744073709551616, 2\) .*any array can hold",
    ),
    ("10**30", raw_npy(head(shape=(10**30,))), r"declares shape \(10{30},\) .*any array can hold"),
    ("empty 2**64", raw_npy(head(shape=(0, 2**64))), r"declares shape \(0, 18446744073709551616\)"),
    (
        "bool shape",
        raw_npy(head(shape=(True, 2)), b"\0" * 16),
        r"declares shape \(True, 2\): its dimensions must be integers",
    ),
    ("negative", raw_npy(head(shape=(-2, -1))), r"has a negative dimension in shape \(-2, -1\)"),
    ("40 dims", raw_npy(head(shape=(1,) * 40), b"\0" * 8), r"declares 40 dimensions; at most 32"),
    ("huge 2-D", raw_npy(head(shape=(2**62, 2**62))), r"declares shape .* any array can hold"),
    (
        "structured",
        raw_npy(head(descr=[("a", "<f8")]), b"\0" * 16),
        r"structured or sub-array dtype",
    ),
    (
        "sub-array",
        raw_npy(head(descr="(4,)<f8", shape=(1,)), b"\0" * 32),
        r"structured or sub-array",
    ),
    ("zero bytes", raw_npy(head(descr="|V0", shape=(2,))), r"whose items hold no bytes"),
    ("object", raw_npy(head(descr="|O", shape=(2,)), b"\0" * 16), r"holds Python objects"),
    ("short data", raw_npy(head(shape=(1000,)), b"\0" * 16), r"\(8000 bytes\) but holds 16 bytes"),
    ("header size", raw_npy(head() + " " * 20000, b"\0" * 16, (2, 0)), r"header of \d+ bytes"),
    ("version 3", raw_npy(head(), b"\0" * 16, (3, 0)), r"has \.npy version \(3, 0\)"),
    ("no magic", b"NOTNUMPY" * 4, r"is not a \.npy array \(no NumPy magic string\)"),
    ("cut header", raw_npy(head())[:20], r"is not a readable \.npy file: .*ends early"),
    ("not a dict", raw_npy("[1, 2]"), r"is not a readable \.npy file"),
    ("deep header", raw_npy("(" * 3000 + ")" * 3000), r"is not a readable \.npy file"),
]


@pytest.mark.parametrize(
    "member,match", [h[1:] for h in MAPPED_HEADERS], ids=[h[0] for h in MAPPED_HEADERS]
)
def test_hostile_header_of_a_mapped_pair_is_one_valueerror_naming_it(
    tmp_path: Path, member: bytes, match: str
) -> None:
    """Every .npy header field that could make the memory-mapping reader allocate, overflow or
    fail is checked first: one ValueError that names the file and the field (an OverflowError,
    a TypeError, or a message without the file before)."""
    (tmp_path / "X.npy").write_bytes(member)
    np.save(tmp_path / "y.npy", Y)
    with pytest.raises(ValueError, match=match) as info:
        lv.load_data(f"{tmp_path / 'X.npy'},{tmp_path / 'y.npy'}")
    assert "X.npy" in str(info.value) and "\n" not in str(info.value)


def _special(tmp: Path, case: str) -> tuple[Path, str]:
    """A path of the given kind, named like a data file, and how the refusal calls it."""
    path = tmp / f"{case}.npy"
    if case == "proc mem":  # a symbolic link to a kernel file every read of which fails
        path.symlink_to("/proc/self/mem")
        return path, "a kernel pseudo-file (procfs)"
    if case == "dev zero":  # endless zeros
        path.symlink_to("/dev/zero")
        return path, "a character device"
    if case == "fifo":  # no writer: a plain open() waits forever
        os.mkfifo(path)
        return path, "a FIFO (named pipe)"
    path.mkdir()
    return path, "a directory"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, /dev/zero: Linux")
@pytest.mark.parametrize("case", ["proc mem", "dev zero", "fifo", "directory"])
@pytest.mark.parametrize("reader", ["mapped pair", "npz", "csv", "model"])
def test_special_files_are_refused_by_type(tmp_path: Path, case: str, reader: str) -> None:
    """One ValueError naming the file and its kind, before anything is read (never an
    OSError, a hang on a FIFO, or an endless read of /dev/zero)."""
    path, kind = _special(tmp_path, case)
    if reader in ("npz", "csv", "model"):
        link = path.with_suffix("." + ("model" if reader == "model" else reader))
        path.rename(link)
        path = link
    np.save(tmp_path / "y_ok.npy", Y)
    load: Callable[[], Any] = {
        "mapped pair": lambda: lv.load_data(f"{path},{tmp_path / 'y_ok.npy'}"),
        "npz": lambda: lv.load_data(path),
        "csv": lambda: lv.load_data(path),
        "model": lambda: lv.load(path),
    }[reader]
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            load()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():  # blocked on the FIFO: give it a writer so that the thread ends
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"reading {case} blocked")
    assert isinstance(outcome[0], ValueError), outcome
    message = str(outcome[0])
    assert f"must be a regular file; got {str(path)!r}, {kind}" in message, message


def test_nan_in_a_float32_npy_is_one_error_without_a_numpy_warning(tmp_path: Path) -> None:
    """NaN in a float32 memory-mapped X: the one ValueError, no RuntimeWarning (which the
    command line showed with a source line before it)."""
    Xf = X.astype(np.float32)
    Xf[2, 1] = np.nan
    np.save(tmp_path / "X.npy", Xf)
    np.save(tmp_path / "y.npy", Y.astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"got nan at index \(2, 1\)"):
            lv.load_data(f"{tmp_path / 'X.npy'},{tmp_path / 'y.npy'}")
    out = subprocess.run(
        [sys.executable, "-m", "lr_variants", "train", "--data", "X.npy,y.npy", "--epochs", "1"],
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "got nan at index (2, 1)" in out.stderr, out.stderr


# ---- a memory-mapped file that shrinks during a run ---------------------------------------------

SHRINK = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import lr_variants as lv

    folder = sys.argv[1]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    np.save(os.path.join(folder, "y.npy"), y)
    for variant, impl in [("numpy", "textbook"), ("numpy", "fast"), ("torch_manual", "fast"),
                          ("autograd", "textbook"), ("numba", "textbook")]:
        for batch_size in (None, 100):
            path = os.path.join(folder, "X.npy")
            np.save(path, X)
            Xm, ym = lv.load_data(path + "," + os.path.join(folder, "y.npy"))
            model = lv.create(variant, 3, dtype="float32", impl=impl)

            def truncate(epoch, loss):
                if epoch == 2:  # between two epochs: the next pass would fault (SIGBUS)
                    os.truncate(path, 200)

            try:
                lv.train(model, Xm, ym, epochs=5, batch_size=batch_size, callback=truncate)
            except OSError as exc:
                print(variant, impl, batch_size, type(exc).__name__, exc)
            else:
                print(variant, impl, batch_size, "trained on")
    """
)


def test_a_mapped_file_that_shrinks_between_epochs_is_one_error(tmp_path: Path) -> None:
    """X.npy truncated while memory-mapped, between two epochs (full-batch and minibatch, every
    backend): the next epoch refuses to read it with one OSError naming the file, instead of
    the SIGBUS that killed the process without a word (run in a child: a SIGBUS must not take
    the test runner with it)."""
    out = subprocess.run(
        [sys.executable, "-c", SHRINK, str(tmp_path)],
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    lines = out.stdout.splitlines()
    assert len(lines) == 10, out.stdout
    for line in lines:
        assert "MappedFileChanged data file " in line and "X.npy' shrank to 200 bytes" in line, line


CLI_SHRINK = textwrap.dedent(
    """
    import os, sys
    from lr_variants.cli import _common, main

    path = sys.argv[1]
    show = _common.Progress.__call__

    def each_epoch(self, model, epoch, loss):  # the CLI's own per-epoch hook
        show(self, model, epoch, loss)
        if epoch == 3:
            os.truncate(path, 100)

    _common.Progress.__call__ = each_epoch
    sys.exit(main(sys.argv[2:]))
    """
)


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_run_over_a_shrinking_mapped_file_is_one_line_and_exit_1(
    tmp_path: Path, as_json: bool
) -> None:
    X2 = np.random.default_rng(1).standard_normal((500, 2))
    np.save(tmp_path / "X.npy", X2)
    np.save(tmp_path / "y.npy", (X2[:, 0] > 0).astype(np.float64))
    argv = ["train", "--variant", "numpy", "--data", "X.npy,y.npy", "--batch-size", "500"]
    argv += ["--epochs", "50", *(["--json"] if as_json else [])]
    out = subprocess.run(
        [sys.executable, "-c", CLI_SHRINK, str(tmp_path / "X.npy"), *argv],
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, (out.returncode, out.stderr)
    assert out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("lr-variants: error: data file ") and "shrank to 100" in out.stderr
    assert "Accuracy" not in out.stdout and "{" not in out.stdout


# ---- temporaries left by a killed save ----------------------------------------------------------

SLOW_SAVE = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import lr_variants as lv

    def savez(f, **arrays):  # writes part of the file, then never finishes
        f.write(b"x" * 4096)
        f.flush()
        print("writing", flush=True)
        time.sleep(600)

    np.savez = savez
    lv.create("numpy", 3).save(sys.argv[1])
    """
)


def _start_slow_save(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE, str(path)],
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
    return proc


def _temporaries(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f".{name}.*.tmp"))


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 and flock are POSIX")
def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(
    tmp_path: Path, monkeypatch
) -> None:
    """``kill -9`` during save: its temporary stays (nothing can run in a killed process);
    the next save of the same file removes it once no process holds it, and leaves alone a
    live writer's temporary, other files named like temporaries, and links."""
    target = tmp_path / "m.model"
    lv.create("numpy", 2).save(target)
    killed = _start_slow_save(target)
    killed.kill()
    killed.wait(60)
    (left,) = _temporaries(tmp_path, "m.model")
    assert left.stat().st_size == 4096
    live = _start_slow_save(target)  # a writer still at work, its temporary locked
    try:
        (mine,) = set(_temporaries(tmp_path, "m.model")) - {left}
        # make every temporary look old: only the lock can then tell the live one
        for path in (left, mine):
            os.utime(path, (1_000_000_000, 1_000_000_000))
        other = tmp_path / ".other.model.0123456789ab.tmp"  # another target's temporary
        other.write_bytes(b"x")
        lookalike = tmp_path / ".m.model.notours.tmp"  # not our pattern
        lookalike.write_bytes(b"x")
        link = tmp_path / ".m.model.abcdefabcdef.tmp"
        link.symlink_to(target)
        for path in (other, lookalike):
            os.utime(path, (1_000_000_000, 1_000_000_000))
        lv.create("numpy", 4).save(target)
        assert lv.load(target).n_features == 4
        assert not left.exists()  # the killed writer's
        assert mine.exists() and other.exists() and lookalike.exists() and link.is_symlink()
    finally:
        live.kill()
        live.wait(60)
    # the live writer is dead now: its temporary goes at the next save, once old enough
    monkeypatch.setattr(_files, "STALE_AFTER", 0.0)
    lv.create("numpy", 5).save(target)
    assert not mine.exists() and lv.load(target).n_features == 5


def test_a_fresh_unlocked_temporary_is_left_alone(tmp_path: Path) -> None:
    """A temporary modified within STALE_AFTER seconds may belong to a writer between
    creating and locking it: kept."""
    target = tmp_path / "m.model"
    fresh = tmp_path / ".m.model.0123456789ab.tmp"
    fresh.write_bytes(b"x")
    lv.create("numpy", 2).save(target)
    assert fresh.exists()
