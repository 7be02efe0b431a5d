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
