"""q4repack for numpy: GGML Q4_0 / IQ4_NL weights, online repacking and matmul on the CPU.

A thin layer over the library's C ABI (``libq4repack.so``, loaded with ctypes; no compiled
extension): quantize float rows to GGML blocks, repack them into the 4x4 / 4x8 / 8x8 layouts the
SIMD kernels read, unpack, dequantize, and multiply with float activations; read GGUF files
(metadata and zero-copy tensor views). Errors raise :class:`Q4RError` subclasses carrying the
library's message. See docs/PYTHON.md.

>>> import numpy as np, q4repack
>>> w = q4repack.quantize(np.ones((8, 64), np.float32), "q4_0")      # uint8 [8, 36]
>>> p = q4repack.repack(w, "q4_0", "8x8")
>>> q4repack.matmul(p, np.ones((1, 64), np.float32), "q4_0", "8x8").shape
(1, 8)
"""

__version__ = "0.2.0"

from ._arrays import DTypeError
from .context import Context
from .core import (
    BLOCK_VALUES,
    CPU_INFO_KEYS,
    ISAS,
    LAYOUTS,
    TYPES,
    WEIGHT_TYPES,
    active_isa,
    available_isas,
    best_isa,
    block_bytes,
    cpu_features,
    cpu_info,
    dequantize,
    gguf_type_info,
    info,
    kernel_set,
    layout_chunk,
    layout_rows,
    library_path,
    library_version,
    matmul,
    preferred_layout,
    quantize,
    quantize_q8_0_rows,
    quantize_q8_0_x4,
    repack,
    repack_range,
    row_bytes,
    row_groups,
    set_isa,
    tensor_bytes,
    unpack,
    unpack_range,
)
from .errors import (
    AlignmentError,
    ArgumentError,
    FileIOError,
    FormatError,
    ISAError,
    LibraryNotFoundError,
    MismatchError,
    NonFiniteError,
    NullPointerError,
    OutOfMemoryError,
    OverlapError,
    Q4RError,
    ShapeError,
    SizeError,
    UnsupportedError,
)
from .gguf import GGUFFile, GGUFTensor, write_gguf
from .prepared import prepare_matmul
from .q4p import Q4PFile, Q4PTensor, checksum64, pack_q4p
from .stateless import column_step, quantize_activations, row_step, run, workspace_size
from .validate import validate

__all__ = [
    name
    for name, value in list(globals().items())
    if not name.startswith("_") and not isinstance(value, type(errors))
]
