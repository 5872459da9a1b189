"""Validate a GGUF file's Q4_0 / IQ4_NL matrices the way ``q4repack validate`` does: repack into
each layout asked for, unpack and compare with the original bytes, and run the matmul on every
available ISA against the scalar ISA on the plain weights (docs/FILES.md, "Commands")."""

from __future__ import annotations

import os

import numpy as np

from .context import Context
from .core import LAYOUTS, available_isas, dequantize, preferred_layout, repack, unpack
from .gguf import GGUFFile

# |y - y_ref| <= REL * sum_j |w_j x_j| + ABS per output: the ISAs differ in float summation order
# and activation rounding at ties; a wrong block, scale or nibble is far above this.
REL_TOLERANCE = 1e-4
ABS_TOLERANCE = 1e-6


class Check(dict):
    """One (matrix, layout, ISA) check; a dict with attribute access.

    Keys: ``tensor``, ``matrix`` (expert index or None), ``type``, ``layout``, ``isa``,
    ``round_trip`` (unpack(repack(w)) == w), ``max_error``, ``worst_ratio`` (max error / tolerance,
    <= 1 passes) and ``ok``.
    """

    __getattr__ = dict.__getitem__


class Report:
    """The checks of one file: ``.checks`` (list of :class:`Check`), ``.ok``, ``.failures``."""

    def __init__(self, path: str, checks: list):
        self.path, self.checks = path, checks

    @property
    def failures(self) -> list:
        return [c for c in self.checks if not c["ok"]]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and not self.failures

    def __repr__(self) -> str:
        return "Report(%r: %d checks, %d failed)" % (
            os.path.basename(self.path), len(self.checks), len(self.failures))


def _layouts(spec, type: str) -> list:
    if spec == "auto":
        return [preferred_layout(type)]
    if spec == "all":
        return [lay for lay in LAYOUTS if lay != "none"]
    return [spec] if isinstance(spec, str) else list(spec)


def validate(gguf, layouts="auto", batch: int = 5, seed: int = 0, isas=None) -> Report:
    """Check every Q4_0 / IQ4_NL matrix of a GGUF file (a path or an open :class:`GGUFFile`).

    Args:
        layouts: ``"auto"`` (the preferred layout), ``"all"``, one layout name or a list.
        batch: activation rows (5: a GEMM group of 4 and a GEMV row).
        seed: for the random activations.
        isas: the ISAs to run (default: every available one).

    Returns:
        A :class:`Report`; ``report.ok`` is True when every round trip is exact and every output
        is within ``1e-4 * sum|w x| + 1e-6`` of the scalar ISA on the plain weights.
    """
    own = not isinstance(gguf, GGUFFile)
    f = GGUFFile(gguf) if own else gguf
    rng = np.random.default_rng(seed)
    contexts = {isa: Context(isa=isa, threads=0) for isa in (isas or available_isas())}
    reference = contexts.get("scalar") or Context(isa="scalar", threads=0)
    checks = []
    try:
        for t in f.tensors:
            if t.type not in ("q4_0", "iq4_nl") or len(t.shape) not in (2, 3):
                continue
            plain = t.plain()
            matrices = [(None, plain)] if plain.ndim == 2 else list(enumerate(plain))
            for index, w in matrices:
                x = rng.standard_normal((batch, t.k)).astype(np.float32)
                y_ref = reference.matmul(w, x, t.type, "none")
                bound = np.abs(x) @ np.abs(dequantize(w, t.type)).T
                tol = REL_TOLERANCE * bound + ABS_TOLERANCE
                for layout in _layouts(layouts, t.type):
                    packed = repack(w, t.type, layout)
                    round_trip = bool(np.array_equal(unpack(packed, t.type, layout), w))
                    for isa, ctx in contexts.items():
                        err = np.abs(ctx.matmul(packed, x, t.type, layout) - y_ref)
                        ratio = float(np.max(err / tol))
                        checks.append(Check(
                            tensor=t.name, matrix=index, type=t.type, layout=layout, isa=isa,
                            round_trip=round_trip, max_error=float(err.max()),
                            worst_ratio=ratio, ok=round_trip and ratio <= 1.0))
    finally:
        for ctx in contexts.values():
            ctx.close()
        reference.close()
        if own:
            f.close()
    return Report(f.path, checks)
