"""Files that are safe to read and write: atomic writes, bounded ``.npz`` and text reading.

The bottom layer under [`lr_variants.io`][] (model files) and [`lr_variants.data`][] (data
files); NumPy and the standard library only. What it guarantees:

- ``write_atomic`` replaces a file whole or not at all. It writes a temporary file in the
  target's directory, flushes and ``fsync``-s it, then moves it over the target with
  ``os.replace``, so a full disk, a file-size limit or ``KeyboardInterrupt`` mid-write leaves
  the previous file intact and no temporary behind. A target that exists but is not a
  regular file (a directory, a FIFO, a device) is refused before anything is written.
  Temporaries of earlier writes that a killed process left behind (``kill -9`` mid-write)
  are removed by the next write to the same target, once no process holds them.
- ``open_regular`` opens only regular files, without blocking on a FIFO; a kernel
  pseudo-file (``/proc``, ``/sys``) is refused by type too.
- ``read_npy_header`` checks every field of a ``.npy`` header that could make a reader
  allocate, overflow or fail (shape, dimensions, dtype) before anything else is read;
  ``map_npy`` memory-maps a checked ``.npy`` file from the descriptor it checked
  (``lr_variants._mapped`` then checks, before each pass, that the file was not cut short).
- ``read_npz`` reads ``.npy`` members of a zip archive without ever unpickling, and checks
  every member's zip entry (compression method, size, compression ratio) and ``.npy`` header
  (version, dtype, shape times item size) against ``LIMITS`` *before* reading its data.
- ``csv_lines`` yields the lines of a UTF-8 text file (byte-order mark dropped) with the
  file and each line bounded.
- ``read_json`` parses JSON bytes after bounding their size and nesting depth.

Anything wrong with a file, however the standard library or NumPy reports it (``BadZipFile``,
``zlib.error``, ``EOFError``, ``OSError``, ``UnicodeDecodeError``, ``MemoryError`` ...), becomes
one ``ValueError`` that names the file and says what is wrong.

The limits are fields of one mutable object, ``LIMITS`` (also reachable as
``lr_variants.data.LIMITS`` and ``lr_variants.io.LIMITS``); every check reads it when it runs,
so raising a field takes effect at once::

    from lr_variants.data import LIMITS
    LIMITS.max_csv_bytes = 4 * 2**30     # read CSV files up to 4 GiB
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import numbers
import os
import re
import secrets
import stat
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
import numpy.typing as npt

_KiB, _MiB, _GiB = 1 << 10, 1 << 20, 1 << 30


@dataclasses.dataclass
class Limits:
    """The bounds every file read by lr_variants must respect (defaults in brackets).

    - ``max_array_bytes`` [2 GiB]: the data of one array (its header's shape times item size),
      and the table a CSV file parses into (rows x columns x 8 bytes).
    - ``max_header_bytes`` [10,000]: one ``.npy`` header (NumPy's own default bound).
    - ``max_ratio`` [200]: uncompressed / compressed size of one zip member larger than
      ``ratio_grace_bytes`` [1 MiB]. Deflate reaches about 1032:1 on zeros; real data compress
      far less, so a higher ratio is refused as a likely inflation bomb.
    - ``max_csv_bytes`` [1 GiB]: a CSV file; ``max_csv_line_bytes`` [4 MiB]: one of its lines.
    - ``max_json_bytes`` [64 KiB] and ``max_json_depth`` [32]: a model file's metadata (JSON of
      about 400 bytes, nested 2 deep).

    A zip member may hold at most ``max_array_bytes + max_header_bytes`` bytes. Setting a field
    checks its value (a positive integer; ``max_ratio`` a real number >= 1).
    """

    max_array_bytes: int = 2 * _GiB
    max_header_bytes: int = 10_000
    max_ratio: float = 200.0
    ratio_grace_bytes: int = _MiB
    max_csv_bytes: int = _GiB
    max_csv_line_bytes: int = 4 * _MiB
    max_json_bytes: int = 64 * _KiB
    max_json_depth: int = 32

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "max_ratio":
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 1:
                raise ValueError(
                    f"LIMITS.max_ratio must be a finite real number >= 1; got {value!r}"
                )
            value = float(value)
        elif isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"LIMITS.{name} must be an integer >= 1; got {value!r}")
        else:
            value = int(value)
        super().__setattr__(name, value)


#: The limits in force; change a field to raise or lower one for the whole process.
LIMITS = Limits()


class Refused(ValueError):
    """A file that was read but is not acceptable; its message is complete (names the file)."""


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` as it appears in messages: quoted, and shortened beyond 200 characters."""
    text = os.fsdecode(path)
    if len(text) > 200:
        return f"{text[:100]!r}...{text[-60:]!r} ({len(text)} characters)"
    return repr(text)


def _fspath(path: Any, name: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike; got {type(path).__name__}")
    text = os.fsdecode(os.fspath(path))
    if not text:
        raise ValueError(f"{name} must be a non-empty path; got ''")
    if "\0" in text:
        raise ValueError(f"{name} must be a path without NUL characters; got {shown(text)}")
    return text


def _kind(mode: int) -> str:
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def _os_problem(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or type(exc).__name__


# kernel pseudo-file systems: their "regular" files are views of the kernel or of a process
# (/proc/self/mem fails every read at offset 0; others never end or change while read)
_PSEUDO_ROOTS = (("/proc", "procfs"), ("/sys", "sysfs"))


def _pseudo_file_system(device: int) -> str | None:
    """The name of the kernel pseudo-file system on ``device`` (an ``st_dev``), if it is one:
    compared with the mount points ``/proc`` and ``/sys`` (only where they are mounted, so that
    an empty ``/proc`` directory of the root file system matches nothing)."""
    for root, kind in _PSEUDO_ROOTS:
        try:
            if os.stat(root).st_dev == device != os.stat("/").st_dev:
                return kind
        except OSError:
            continue
    return None


def open_regular(path: str | os.PathLike[str], name: str) -> BinaryIO:
    """``path`` opened for binary reading, or ``ValueError`` (``TypeError`` for a non-path).

    ``name`` is the argument as messages call it (``"path"``, ``"data"``): a missing file gives
    ``"{name} must be an existing file; got 'x'"``. The file is opened with ``O_NONBLOCK`` and
    checked with ``fstat`` before anything is read, so a FIFO, a directory or a device is
    refused at once instead of blocking or failing later; so is a file of a kernel
    pseudo-file system (``/proc``, ``/sys``, also through a symbolic link), whose "regular"
    files are views of the kernel (``/proc/self/mem`` fails every read).
    """
    text = _fspath(path, name)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(text, flags)
    except FileNotFoundError:
        raise ValueError(f"{name} must be an existing file; got {shown(text)}") from None
    except OSError as exc:
        raise ValueError(
            f"{name} must be a readable file; got {shown(text)}: {_os_problem(exc)}"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(
                f"{name} must be a regular file; got {shown(text)}, {_kind(st.st_mode)}"
            )
        pseudo = _pseudo_file_system(st.st_dev)
        if pseudo is not None:
            raise ValueError(
                f"{name} must be a regular file; got {shown(text)}, a kernel pseudo-file ({pseudo})"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# ---- atomic writing ----------------------------------------------------------------------------


def write_atomic(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], None], *, name: str = "path"
) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, then put it in place atomically.

    Readers see the old file or the complete new one, never a mixture: the temporary is
    flushed and ``fsync``-ed before ``os.replace`` moves it over ``path`` (the directory is
    then ``fsync``-ed too, where the system allows). On any failure, ``KeyboardInterrupt``
    included, the temporary is removed and ``path`` is left as it was; an ``OSError`` (disk
    full, file-size limit, no permission) becomes a ``ValueError`` naming the file, others
    propagate unchanged. A target that exists but is not a regular file is refused first. The
    new file gets the old file's permissions, or those ``open`` would give a new file.

    The temporary is named ``.{name}.{12 hex digits}.tmp`` and locked (``flock``) while it is
    written. A process killed mid-write (``kill -9``, a power cut) leaves its temporary behind;
    the next write to the same target removes such leftovers first: only files of exactly that
    pattern for this target, regular files (not links), unchanged for at least
    ``STALE_AFTER`` seconds and locked by no process (a writer's lock dies with it). Where
    the file system cannot lock, a leftover must be ``STALE_UNLOCKABLE`` seconds old.
    """
    text = _fspath(path, name)
    target = Path(text)
    parent = target.parent
    old_mode: int | None = None
    try:
        st = os.stat(text)
    except FileNotFoundError:
        if not parent.is_dir():
            raise ValueError(
                f"{name} must be in an existing directory; got {shown(text)}"
            ) from None
    except OSError as exc:
        raise ValueError(f"{name} {shown(text)} cannot be written: {_os_problem(exc)}") from None
    else:
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(
                f"{name} must be a regular file or a new name; got {shown(text)}, "
                f"{_kind(st.st_mode)}"
            )
        old_mode = stat.S_IMODE(st.st_mode)
    _remove_stale_temporaries(parent, target.name)
    tmp = ""
    try:
        fd, tmp = _create_temporary(parent, target.name)
        # the lock stays held until the temporary has its final name: a cleaner never sees an
        # unlocked temporary of a live writer (fsync may take longer than STALE_AFTER)
        with os.fdopen(fd, "wb") as f:
            _lock(f.fileno(), exclusive=True)
            if old_mode is not None:
                os.fchmod(f.fileno(), old_mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, text)
            tmp = ""
    except OSError as exc:
        raise ValueError(
            f"{name} {shown(text)} could not be written: {_os_problem(exc)}; "
            "the file there (if any) is unchanged"
        ) from exc
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _fsync_directory(parent)


def write_npz_atomic(
    path: str | os.PathLike[str], arrays: Mapping[str, npt.NDArray[Any]], *, name: str = "path"
) -> None:
    """``np.savez`` of ``arrays`` (uncompressed, no pickles) to exactly ``path``, atomically."""
    for key, value in arrays.items():
        if np.asarray(value).dtype.hasobject:
            raise ValueError(f"array {key!r} must not hold Python objects; got dtype object")
    members: dict[str, Any] = dict(arrays)  # Any: savez's stub would take a key allow_pickle
    write_atomic(path, lambda f: np.savez(f, **members), name=name)


#: Seconds a leftover temporary must have been unchanged before a later write removes it (a
#: writer locks its temporary right after creating it; this covers that instant).
STALE_AFTER = 2.0
#: The same where the file system cannot lock files (a leftover's writer cannot be asked).
STALE_UNLOCKABLE = 24 * 3600.0


def _temporary_prefix(base: str) -> str:
    return f".{base[:80]}."


def _lock(fd: int, *, exclusive: bool) -> bool | None:
    """Try to take a ``flock`` on ``fd`` without waiting: True if taken, False if another open
    file holds a conflicting one, None where the system or file system cannot lock. (A writer
    locks exclusively; a cleaner probes with a shared lock, which needs only read access.)"""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return None
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # ENOLCK, EOPNOTSUPP, EINVAL: this file system has no locks
        return None
    return True


def _remove_stale_temporaries(parent: Path, base: str) -> None:
    """Remove the temporaries that killed writers of ``parent / base`` left behind (see
    ``write_atomic``); anything in doubt is left alone, and no error escapes."""
    pattern = re.compile(re.escape(_temporary_prefix(base)) + r"[0-9a-f]{12}\.tmp\Z", re.DOTALL)
    try:
        names = [e.name for e in os.scandir(parent) if pattern.match(e.name)]
    except OSError:
        return
    for name in names:
        with contextlib.suppress(OSError):
            _remove_if_stale(str(parent / name))


def _remove_if_stale(path: str) -> None:
    st = os.lstat(path)
    age = time.time() - st.st_mtime  # creating or writing it sets it
    if not stat.S_ISREG(st.st_mode) or age < STALE_AFTER:
        return
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return  # replaced since it was looked at
        locked = _lock(fd, exclusive=False)
        if locked is False or (locked is None and age < STALE_UNLOCKABLE):
            return  # a live writer holds it, or nobody can tell
        os.unlink(path)
    finally:
        os.close(fd)


def _create_temporary(parent: Path, base: str) -> tuple[int, str]:
    # O_EXCL with mode 0o666: the kernel applies the umask, as for a file made by open()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = str(parent / f"{_temporary_prefix(base)}{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {parent}")


def _fsync_directory(parent: Path) -> None:
    # makes the rename itself durable; not every system can open a directory
    try:
        fd = os.open(parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- bounded .npz reading ----------------------------------------------------------------------

# Every way the standard library and NumPy report a damaged archive, member or header.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    NotImplementedError,
    RuntimeError,  # RecursionError included
    EOFError,
    OSError,
    UnicodeDecodeError,
    MemoryError,
    OverflowError,
    SyntaxError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
)
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_CHUNK = 16 * _MiB


def read_npz(
    f: BinaryIO,
    where: str,
    unreadable: str,
    *,
    select: Callable[[list[str]], Collection[str]] | None = None,
    max_bytes: Mapping[str, tuple[int, str]] | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """The arrays of the ``.npz`` archive open in ``f`` (a seekable binary file), by name.

    ``where`` names the file in messages (``"model file 'm.npz'"``); a damaged archive gives
    ``"{where} is not a readable {unreadable}: {what the reader said}"``.

    First every zip entry is checked: each must be ``NAME.npy``, once; stored or deflated and
    not encrypted; at most ``max_array_bytes + max_header_bytes`` bytes; and, above
    ``ratio_grace_bytes``, compressed at most ``max_ratio``:1. ``select`` then receives the
    array names and returns those to read (it may raise ``ValueError`` to refuse the file);
    the others are skipped unread. For each array read, the ``.npy`` header is checked before
    its data: version 1.0 or 2.0, at most ``max_header_bytes``, no Python objects (those only a
    pickle restores: refused without unpickling), a shape whose size times item size is at most
    ``max_array_bytes`` (or ``max_bytes[name][0]``, whose limit is called ``max_bytes[name][1]``
    in the message) and equals what the member holds after its header. The data are then read
    in chunks into the array, and the member's CRC-32 is verified.
    """
    lim = LIMITS
    try:
        with zipfile.ZipFile(f) as zf:
            infos: dict[str, zipfile.ZipInfo] = {}
            for info in zf.infolist():
                key = info.filename[:-4]
                if not info.filename.endswith(".npy") or key in infos:
                    raise Refused(f"{where} holds an unexpected member {info.filename!r}")
                _check_entry(info, key, where, lim)
                infos[key] = info
            wanted = list(infos)
            if select is not None:
                try:
                    wanted = list(select(wanted))
                except ValueError as exc:  # the caller's refusal: its message is complete
                    raise Refused(str(exc)) from None
            out: dict[str, npt.NDArray[Any]] = {}
            for key in wanted:
                limit = (lim.max_array_bytes, "max_array_bytes")
                if max_bytes and key in max_bytes:
                    limit = min(limit, max_bytes[key])
                with zf.open(infos[key]) as member:
                    out[key] = _read_member(member, infos[key].file_size, key, where, limit, lim)
            return out
    except Refused:
        raise
    except _READ_ERRORS as exc:
        detail = "not enough memory" if isinstance(exc, MemoryError) else str(exc)
        raise ValueError(f"{where} is not a readable {unreadable}: {detail}") from None


def _check_entry(info: zipfile.ZipInfo, key: str, where: str, lim: Limits) -> None:
    """Refuse a zip entry by what its directory record says, before any of its data is read."""
    if info.compress_type not in _METHODS:
        raise Refused(
            f"{where}: array {key!r} uses zip compression method {info.compress_type}; "
            "lr_variants reads only stored (0) and deflated (8) members, as NumPy writes them"
        )
    if info.flag_bits & 0x1:
        raise Refused(f"{where}: array {key!r} is encrypted; lr_variants reads only plain members")
    most = lim.max_array_bytes + lim.max_header_bytes
    if info.file_size > most:
        raise Refused(
            f"{where}: array {key!r} inflates to {info.file_size} bytes, more than the {most} "
            "allowed (LIMITS.max_array_bytes + LIMITS.max_header_bytes; raise them if the file "
            "is trusted)"
        )
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise Refused(
            f"{where}: array {key!r} is stored uncompressed but its sizes differ "
            f"({info.compress_size} and {info.file_size} bytes)"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > lim.ratio_grace_bytes and ratio > lim.max_ratio:
        raise Refused(
            f"{where}: array {key!r} inflates {info.compress_size} bytes to {info.file_size} "
            f"(ratio {ratio:.0f}:1), more than the {lim.max_ratio:g}:1 allowed "
            "(LIMITS.max_ratio): a likely inflation bomb; raise the limit if the file is trusted"
        )


@dataclasses.dataclass(frozen=True)
class NpyHeader:
    """What a checked ``.npy`` header declares: ``count`` items of ``dtype`` in ``shape``
    (``nbytes`` bytes of data, starting ``offset`` bytes into the file or member)."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype[Any]
    count: int
    nbytes: int
    offset: int


#: The most dimensions a ``.npy`` header may declare (NumPy 1.x's own limit).
MAX_DIMS = 32


def read_npy_header(f: IO[bytes], what: str, lim: Limits) -> NpyHeader:
    """Read and check the ``.npy`` header at the start of ``f``; ``what`` names the array in
    messages (``"data file 'X.npy'"``). Every field that could make a reader allocate, overflow
    or fail is checked here, before any data are read, each refusal a ``Refused`` naming
    ``what`` and the field: the magic string and version (1.0 or 2.0); the header's length (at
    most ``max_header_bytes``); the dtype (no Python objects, which only a pickle restores; no
    structured or sub-array dtypes, which change the shape; no items of zero bytes); the shape
    (a tuple of at most ``MAX_DIMS`` integers, not booleans, none negative, each at most
    the largest array index, their product times the item size too). Whatever NumPy's own
    parser says of a malformed header (``ValueError``, ``SyntaxError``...) propagates."""
    magic = f.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise Refused(f"{what} is not a .npy array (no NumPy magic string)")
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0)):
        raise Refused(f"{what} has .npy version {version}")
    length_format = "<H" if version == (1, 0) else "<I"
    length_bytes = f.read(struct.calcsize(length_format))
    if len(length_bytes) != struct.calcsize(length_format):
        raise EOFError(f"{what}: the .npy header ends early")
    (header_len,) = struct.unpack(length_format, length_bytes)
    if header_len > lim.max_header_bytes:
        raise Refused(
            f"{what} has a .npy header of {header_len} bytes, more than the "
            f"{lim.max_header_bytes} allowed (LIMITS.max_header_bytes)"
        )
    text = f.read(header_len)
    if len(text) != header_len:
        raise EOFError(f"{what}: the .npy header ends early")
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran_order, dtype = read_header(
        io.BytesIO(length_bytes + text), max_header_size=lim.max_header_bytes
    )
    if dtype.hasobject:
        raise Refused(
            f"{what} holds Python objects (dtype {dtype}), which only a pickle "
            "can restore (object arrays, or masked arrays of objects, as np.save writes them); "
            "refused without unpickling (lr_variants never writes one)"
        )
    if dtype.names is not None or dtype.subdtype is not None:
        raise Refused(
            f"{what} has the structured or sub-array dtype {dtype}; lr_variants reads arrays "
            "of plain numbers"
        )
    if dtype.itemsize == 0:
        raise Refused(f"{what} has the dtype {dtype}, whose items hold no bytes")
    shape = tuple(shape)
    if len(shape) > MAX_DIMS:
        raise Refused(f"{what} declares {len(shape)} dimensions; at most {MAX_DIMS} are allowed")
    if any(isinstance(n, (bool, np.bool_)) or not isinstance(n, int) for n in shape):
        raise Refused(f"{what} declares shape {shape}: its dimensions must be integers")
    if any(n < 0 for n in shape):
        raise Refused(f"{what} has a negative dimension in shape {shape}")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    # an empty shape such as (0, 2**64) holds no bytes but still cannot be made into an array
    extent = math.prod(n for n in shape if n) * dtype.itemsize
    if max(shape, default=0) > sys.maxsize or extent > sys.maxsize:
        raise Refused(
            f"{what} declares shape {shape} of {dtype} ({nbytes} bytes), more than the "
            f"{sys.maxsize} bytes (or items in one dimension) that any array can hold"
        )
    return NpyHeader(
        shape, bool(fortran_order), dtype, count, nbytes, len(magic) + len(length_bytes) + len(text)
    )


def _read_member(
    member: IO[bytes],
    size: int,
    key: str,
    where: str,
    limit: tuple[int, str],
    lim: Limits,
) -> npt.NDArray[Any]:
    """One ``.npy`` member of ``size`` bytes: header checked, then data read into the array."""
    what = f"{where}: array {key!r}"
    header = read_npy_header(member, what, lim)
    shape, fortran_order, dtype = header.shape, header.fortran_order, header.dtype
    count, nbytes = header.count, header.nbytes
    most, limit_name = limit
    if max(nbytes, count) > most:
        raise Refused(
            f"{what} declares shape {shape} of {dtype} ({nbytes} bytes), more "
            f"than the {most} bytes allowed (LIMITS.{limit_name}; raise it if the file is trusted)"
        )
    held = size - header.offset
    if nbytes != held:
        raise Refused(
            f"{what} declares shape {shape} of {dtype} ({nbytes} bytes) but its "
            f"member holds {held} bytes after the header"
        )
    flat = np.empty(count, dtype=dtype)
    if nbytes:
        raw = flat.view(np.uint8)
        done = 0
        while done < nbytes:
            chunk = member.read(min(_CHUNK, nbytes - done))
            if not chunk:
                raise EOFError(f"array {key!r}: the data end after {done} of {nbytes} bytes")
            raw[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            done += len(chunk)
    if member.read(1):  # the member is exhausted: its CRC-32 has been checked
        raise Refused(f"{where}: array {key!r} holds bytes after its data")
    if fortran_order:
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)


# ---- memory-mapped .npy files ------------------------------------------------------------------


def map_npy(path: str, where: str) -> npt.NDArray[Any]:
    """The ``.npy`` file at ``path`` as a read-only memory map (``where`` names it in messages),
    mapped from the very descriptor whose type (``open_regular``) and header
    (``read_npy_header``) were checked, so the file cannot be swapped in between; its data
    must be exactly what the header declares. Nothing is read into memory, so
    ``LIMITS.max_array_bytes`` does not apply. Anything wrong is one ``ValueError`` naming the
    file."""
    with open_regular(path, "data") as f:
        try:
            header = read_npy_header(f, where, LIMITS)
            size = os.fstat(f.fileno()).st_size
        except Refused:
            raise
        except _READ_ERRORS as exc:
            raise Refused(f"{where} is not a readable .npy file: {_problem(exc)}") from None
        held = size - header.offset
        if header.nbytes != held:
            raise Refused(
                f"{where} declares shape {header.shape} of {header.dtype} ({header.nbytes} "
                f"bytes) but holds {held} bytes after its header"
            )
        order: Any = "F" if header.fortran_order else "C"
        if header.nbytes == 0:  # nothing to map (mmap refuses an empty range)
            empty = np.empty(header.shape, dtype=header.dtype, order=order)
            empty.flags.writeable = False
            return empty
        try:
            mapped: Any = np.memmap(
                f,
                dtype=header.dtype,
                mode="r",
                offset=header.offset,
                shape=header.shape,
                order=order,
            )
        except (OSError, ValueError, OverflowError) as exc:
            raise Refused(f"{where} cannot be memory-mapped: {_problem(exc)}") from None
    mapped.filename = os.path.abspath(path)
    return mapped  # type: ignore[no-any-return]


def _problem(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return _os_problem(exc)
    return "not enough memory" if isinstance(exc, MemoryError) else str(exc) or type(exc).__name__


# ---- bounded text and JSON ---------------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def csv_lines(f: BinaryIO, where: str) -> Iterator[tuple[int, str]]:
    """``(line number from 1, text)`` for each line of the UTF-8 file open in ``f``.

    A UTF-8 byte-order mark at the start is dropped (so the first row is read as written).
    The file must hold at most ``LIMITS.max_csv_bytes`` (checked from its size first, then
    while reading, should it grow) and each line at most ``LIMITS.max_csv_line_bytes``; bytes
    that are not UTF-8 are refused with their line and column. Lines keep their line ending.
    """
    lim = LIMITS
    try:
        size = os.fstat(f.fileno()).st_size
    except (OSError, io.UnsupportedOperation):
        size = 0
    if size > lim.max_csv_bytes:
        raise Refused(_too_big(where, f"is {size} bytes", lim.max_csv_bytes))
    total = 0
    number = 0
    while True:
        try:
            raw = f.readline(lim.max_csv_line_bytes + 1)
        except OSError as exc:
            raise Refused(f"{where} could not be read: {_os_problem(exc)}") from None
        if not raw:
            return
        number += 1
        total += len(raw)
        if total > lim.max_csv_bytes:
            raise Refused(_too_big(where, f"grew past {total} bytes", lim.max_csv_bytes))
        if len(raw.rstrip(b"\r\n")) > lim.max_csv_line_bytes:
            raise Refused(
                f"{where}: line {number} is longer than {lim.max_csv_line_bytes} bytes "
                "(LIMITS.max_csv_line_bytes); raise it if the file is trusted, e.g. "
                "lr_variants.data.LIMITS.max_csv_line_bytes = 64 * 2**20"
            )
        if number == 1:
            if raw.startswith(_UTF16_BOMS):
                raise Refused(
                    f"{where} must be UTF-8 text; it starts like UTF-16: save it as UTF-8"
                )
            if raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Refused(
                f"{where} must be UTF-8 text; line {number} holds byte 0x{raw[exc.start]:02x} "
                f"at byte {exc.start + 1}, which is not UTF-8 (save the file as UTF-8)"
            ) from None
        yield number, text


def _too_big(where: str, what: str, most: int) -> str:
    return (
        f"{where} {what}, more than the {most} bytes allowed for a CSV file "
        "(LIMITS.max_csv_bytes); convert it to .npz (np.savez), or raise the limit if the "
        "file is trusted, e.g. lr_variants.data.LIMITS.max_csv_bytes = 4 * 2**30"
    )


# an escape pair (so an escaped quote does not end a string), a quote or a bracket
_JSON_TOKENS = re.compile(r'\\.|["\[\]{}]', re.DOTALL)
_MAX_NUMBER_CHARS = 40  # a float64 needs at most 24 characters; a longer number is not ours


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (strings skipped), found in
    one linear scan without parsing, so that a bound can be checked before ``json.loads``.
    (A backslash outside a string is invalid JSON: the parser stops there anyway.)"""
    depth = deepest = 0
    in_string = False
    for m in _JSON_TOKENS.finditer(text):
        c = m.group()
        if c == '"':
            in_string = not in_string
        elif in_string or c[0] == "\\":
            continue
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def read_json(raw: bytes, where: str, what: str) -> Any:
    """Parse JSON ``raw`` (``what`` names it in messages, e.g. ``"metadata"``), bounded.

    Refused before parsing: more than ``LIMITS.max_json_bytes``, text that is not UTF-8,
    nesting deeper than ``LIMITS.max_json_depth``. Refused while parsing: ``NaN`` and
    ``Infinity`` (not JSON), and numbers longer than 40 characters (a 400-digit integer is
    nobody's hyperparameter, and converting huge ones is slow).
    """
    lim = LIMITS
    if len(raw) > lim.max_json_bytes:
        raise Refused(
            f"{where}: its {what} is {len(raw)} bytes, more than the {lim.max_json_bytes} "
            "allowed (LIMITS.max_json_bytes)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(f"{where}: its {what} is not valid UTF-8 JSON: {exc}") from None
    depth = json_depth(text)
    if depth > lim.max_json_depth:
        raise Refused(
            f"{where}: its {what} nests {depth} levels deep, more than the "
            f"{lim.max_json_depth} allowed (LIMITS.max_json_depth)"
        )

    def number(kind: type[int] | type[float]) -> Callable[[str], int | float]:
        def convert(s: str) -> int | float:
            if len(s) > _MAX_NUMBER_CHARS:
                raise Refused(
                    f"{where}: its {what} holds a number of {len(s)} characters "
                    f"({s[:12]}...); at most {_MAX_NUMBER_CHARS} are allowed"
                )
            return kind(s)

        return convert

    def constant(s: str) -> Any:
        raise Refused(f"{where}: its {what} holds {s}, which is not JSON (values must be finite)")

    try:
        return json.loads(
            text, parse_int=number(int), parse_float=number(float), parse_constant=constant
        )
    except Refused:
        raise
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise Refused(f"{where}: its {what} is not valid UTF-8 JSON: {exc}") from None
