"""Reader for CTranslate2 ``model.bin`` files (no ctranslate2 needed).

Layout: int32 version, spec name (uint16 length + bytes), int32 revision, uint32 variable
count, then per variable: name (uint16 length + bytes), uint8 rank, uint32 per dimension,
uint8 dtype, uint32 byte count, raw little-endian data; then aliases. The file may be split in
several parts (read as one stream, in order).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Iterable, Sequence

import numpy as np

from ..errors import ModelError

# CTranslate2's DataType enum.
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class _ChainedReader:
    """Sequential reads across several files as if they were one."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._index = 0
        self._fh: BinaryIO | None = None

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self._fh is None:
                if self._index >= len(self._paths):
                    break
                self._fh = open(self._paths[self._index], "rb")
                self._index += 1
            chunk = self._fh.read(n - len(out))
            if not chunk:
                self._fh.close()
                self._fh = None
                continue
            out += chunk
        if len(out) < n:
            raise ModelError(str(self._paths[-1]), "truncated CTranslate2 model.bin")
        return bytes(out)

    def skip(self, n: int) -> None:
        self.read(n)  # parts are small enough; keeps the reader simple

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def read_ct2_variables(paths: Path | Sequence[Path], prefixes: Iterable[str] = ("",)) -> dict[str, np.ndarray]:
    """Variables of a CTranslate2 ``model.bin`` whose names start with one of ``prefixes``.

    ``paths`` is the file, or its parts in order. Arrays keep the stored dtype (float16 for
    Whisper); names are like ``encoder/layer_0/ffn/linear_0/weight``.
    """
    parts = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    prefixes = tuple(prefixes)
    r = _ChainedReader(parts)
    try:
        (version,) = struct.unpack("<i", r.read(4))
        if version < 5:
            raise ModelError(str(parts[0]), f"unsupported CTranslate2 model version {version}")
        (n,) = struct.unpack("<H", r.read(2))
        r.read(n)  # spec name
        r.read(4)  # spec revision
        (count,) = struct.unpack("<I", r.read(4))
        out: dict[str, np.ndarray] = {}
        for _ in range(count):
            (n,) = struct.unpack("<H", r.read(2))
            name = r.read(n).rstrip(b"\0").decode("utf-8")
            (rank,) = struct.unpack("<B", r.read(1))
            dims = struct.unpack(f"<{rank}I", r.read(4 * rank)) if rank else ()
            (dtype,) = struct.unpack("<B", r.read(1))
            (nbytes,) = struct.unpack("<I", r.read(4))
            data = r.read(nbytes)
            if name.startswith(prefixes):
                np_dtype = _DTYPES.get(dtype)
                if np_dtype is None:
                    raise ModelError(name, f"unsupported CTranslate2 dtype {dtype}")
                out[name] = np.frombuffer(data, dtype=np_dtype).reshape(dims).copy()
        return out
    except struct.error as exc:
        raise ModelError(str(parts[0]), f"not a CTranslate2 model.bin ({exc})") from None
    finally:
        r.close()
