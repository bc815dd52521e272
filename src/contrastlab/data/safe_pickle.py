"""Pickles that should hold only data, read without running any code from them.

A pickle names the callables it wants called (its GLOBAL, STACK_GLOBAL, INST and EXT opcodes all
go through `pickle.Unpickler.find_class`), and ``pickle.loads`` imports and calls whatever is
named: a ``__reduce__`` payload in a "CIFAR batch" runs ``os.system``. `load_data_pickle` answers
`find_class` only for the few callables that a pickled NumPy array, NumPy scalar or protocol-2
``bytes`` object needs, each wrapped so that it is checked before it is called:

- ``numpy[._]core.multiarray._reconstruct`` (only for ``numpy.ndarray``, always with an empty
  shape: the real shape and bytes arrive in ``ndarray.__setstate__``, which checks their size);
- ``numpy[._]core.numeric._frombuffer`` (protocol 5) and ``numpy[._]core.multiarray.scalar``;
- ``numpy.dtype`` for plain numeric, bytes and string types (no object or structured dtypes);
- ``_codecs.encode`` to latin-1 (how Python 3 writes ``bytes`` in protocol 2).

Any other name is refused before it is imported, as `UnsafePickleError` naming it; the loaded
object is then checked to be built of dict, list, tuple, str, bytes, int, float, bool, None and
such arrays alone. This is the rule for every pickle-shaped input of contrastlab: CIFAR batches
come through here, checkpoints through ``torch.load(weights_only=True)`` (PyTorch's own restricted
unpickler), and ``.npz`` files through ``np.load(allow_pickle=False)``.
"""

from __future__ import annotations

import codecs
import importlib
import io
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["UnsafePickleError", "load_data_pickle"]

_DTYPE_KINDS = "biufcSU"  # bool, ints, floats, complex, bytes, str: no objects, no records
_PLAIN = (str, bytes, int, float, bool, type(None))


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a callable that a data pickle never needs (it could run code)."""


def _numpy_function(module: str, name: str) -> Callable[..., Any]:
    """A NumPy internal by its NumPy 2 (``numpy._core``) or NumPy 1 (``numpy.core``) home."""
    for home in (module.replace("numpy.core", "numpy._core"), module):
        try:
            found: Callable[..., Any] = getattr(importlib.import_module(home), name)
            return found
        except (ImportError, AttributeError):
            continue
    raise UnsafePickleError(f"{module}.{name} is not available in this NumPy")


def _checked_dtype(dtype: Any) -> np.dtype[Any]:
    made = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
    if made.hasobject or made.names is not None or made.kind not in _DTYPE_KINDS:
        raise UnsafePickleError(f"dtype {made} is not a plain numeric or string type")
    return made


def _dtype(spec: Any, align: bool = False, copy: bool = False) -> np.dtype[Any]:
    if isinstance(spec, bytes):  # a Python 2 str, read with encoding="bytes"
        spec = spec.decode("ascii", errors="replace")
    if not isinstance(spec, str):
        raise UnsafePickleError(f"numpy.dtype({spec!r}) is not a plain type name")
    return _checked_dtype(np.dtype(spec, align=bool(align), copy=bool(copy)))


class _ArrayType:
    """Stands for ``numpy.ndarray``: only `_reconstruct` accepts it; calling it is refused."""


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not _ArrayType:
        raise UnsafePickleError(f"_reconstruct of {subtype!r} (only numpy.ndarray is admitted)")
    del shape, dtype  # the real ones arrive in __setstate__, which checks them against the bytes
    return np.empty((0,), dtype=np.uint8)


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if not isinstance(buffer, bytes | bytearray | memoryview):
        raise UnsafePickleError("_frombuffer of something other than bytes")
    flat = np.frombuffer(buffer, dtype=_checked_dtype(dtype))
    return flat.reshape(shape, order="F" if order == "F" else "C").copy()


def _scalar(dtype: Any, data: Any = None) -> Any:
    checked = _checked_dtype(dtype)
    if not isinstance(data, bytes) or len(data) != checked.itemsize:
        raise UnsafePickleError(f"a numpy {checked} scalar needs {checked.itemsize} bytes")
    return np.frombuffer(data, dtype=checked)[0]


def _encode(text: Any, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise UnsafePickleError(f"_codecs.encode to {encoding!r} (only latin-1 is admitted)")
    return text.encode("latin-1")


_ADMITTED: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy", "ndarray"): lambda: _ArrayType,
    ("numpy", "dtype"): lambda: _dtype,
    ("_codecs", "encode"): lambda: _encode,
}
for _home in ("numpy.core", "numpy._core"):
    _ADMITTED[(f"{_home}.multiarray", "_reconstruct")] = lambda: _reconstruct
    _ADMITTED[(f"{_home}.multiarray", "scalar")] = lambda: _scalar
    _ADMITTED[(f"{_home}.numeric", "_frombuffer")] = lambda: _frombuffer


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        admitted = _ADMITTED.get((module, name))
        if admitted is None:
            raise UnsafePickleError(f"it calls {module}.{name}")
        return admitted()


def _check_tree(obj: Any, depth: int = 0) -> None:
    """Data only: containers of plain values and plain arrays (`load_data_pickle`'s contract)."""
    if depth > 64:
        raise UnsafePickleError("it nests containers more than 64 deep")
    if isinstance(obj, _PLAIN):
        return
    if isinstance(obj, np.ndarray | np.generic):
        _checked_dtype(obj.dtype)
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_tree(key, depth + 1)
            _check_tree(value, depth + 1)
        return
    if isinstance(obj, list | tuple):
        for item in obj:
            _check_tree(item, depth + 1)
        return
    raise UnsafePickleError(f"it holds a {type(obj).__name__}")


def load_data_pickle(data: bytes, encoding: str = "bytes") -> Any:
    """Unpickle ``data`` that must hold only plain values and NumPy arrays (see the module
    docstring); Python 2 strings become bytes by default, as CIFAR's authors suggest.

    Raises `UnsafePickleError` for a pickle that names any other callable, before importing it,
    and `pickle.UnpicklingError` (or whatever a damaged stream raises) for a broken one.
    """
    obj = _DataUnpickler(io.BytesIO(data), encoding=encoding).load()
    _check_tree(obj)
    return obj
