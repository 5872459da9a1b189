""".q4p packed-weights files through Python: pack a golden GGUF, open (and verify) it, its tensors
are the repacked GGUF tensors and multiply like them, the source check, damaged and mismatched
files, and the arrays outliving the file object."""

import gc
import os
import shutil

import numpy as np
import pytest

import q4repack
from conftest import random_floats


@pytest.fixture
def gguf(golden_dir):
    return os.path.join(golden_dir, "gguf", "tiny-llama-q4_0.gguf")


@pytest.fixture
def q4p(gguf, tmp_path):
    path = tmp_path / "tiny.q4p"
    q4repack.pack_q4p(gguf, path, layout="4x8")
    return path


def test_packed_tensors_are_the_repacked_gguf_tensors(gguf, q4p):
    with q4repack.GGUFFile(gguf) as src, q4repack.Q4PFile(q4p, verify=True) as f:
        f.check_source(gguf, verify=True)
        assert f.tensors and all(t.layout == "4x8" for t in f.tensors)
        for t in f.tensors:
            s = src.tensor(t.name)
            assert (t.type, t.shape) == (s.type, s.shape)
            assert t.required_isa == "scalar" and t.source_offset > 0
            assert not t.data.flags.writeable
            assert np.array_equal(t.data, q4repack.repack(s.data, s.type, "4x8"))
            assert q4repack.checksum64(t.data) == t.packed_checksum
            assert q4repack.checksum64(s.data) == t.source_checksum
        t = f.tensor("blk.0.attn_q.weight")
        x = random_floats((3, t.k), seed=1)
        plain = src.tensor(t.name).data
        assert np.array_equal(q4repack.matmul(t.data, x, t.type, t.layout, 1),
                              q4repack.matmul(q4repack.repack(plain, t.type, "4x8"), x, t.type,
                                              "4x8", 1))
        with pytest.raises(q4repack.ArgumentError, match="nope"):
            f.tensor("nope")


def test_auto_layout_and_required_isa(gguf, tmp_path):
    path = tmp_path / "auto.q4p"
    q4repack.pack_q4p(gguf, path, require_isa=True)
    with q4repack.Q4PFile(path) as f:
        preferred = q4repack.preferred_layout("q4_0")
        assert {t.layout for t in f.tensors} == {preferred}
        assert {t.required_isa for t in f.tensors} == {q4repack.active_isa()}


def test_arrays_stay_valid_after_close(q4p):
    f = q4repack.Q4PFile(q4p)
    t = f.tensors[1]
    data, copy = t.data, t.data.copy()
    f.close()
    del f, t
    gc.collect()
    assert np.array_equal(data, copy)  # the mapping lives as long as an array refers to it
    with pytest.raises(q4repack.ArgumentError, match="closed"):
        f = q4repack.Q4PFile(q4p)
        f.close()
        f.check_source("x.gguf")


def test_source_mismatch(golden_dir, q4p):
    other = os.path.join(golden_dir, "gguf", "tiny-iq4_nl.gguf")
    with q4repack.Q4PFile(q4p) as f:
        with pytest.raises(q4repack.MismatchError):
            f.check_source(other)
        with pytest.raises(q4repack.FileIOError):
            f.check_source(os.path.join(golden_dir, "no-such.gguf"))


def test_damaged_files(q4p, tmp_path):
    data = bytearray(q4p.read_bytes())
    bad = tmp_path / "bad.q4p"
    damaged = bytearray(data)
    damaged[-1] ^= 0xFF  # tensor data: found by verify only
    bad.write_bytes(damaged)
    q4repack.Q4PFile(bad).close()
    with pytest.raises(q4repack.MismatchError):
        q4repack.Q4PFile(bad, verify=True)
    damaged = bytearray(data)
    damaged[8] = 99  # version
    bad.write_bytes(damaged)
    with pytest.raises(q4repack.FormatError):
        q4repack.Q4PFile(bad)
    bad.write_bytes(data[:100])
    with pytest.raises(q4repack.FormatError):
        q4repack.Q4PFile(bad)
    with pytest.raises(q4repack.FileIOError):
        q4repack.Q4PFile(tmp_path / "missing.q4p")
    assert isinstance(q4repack.FileIOError("x"), OSError)


def test_pack_errors_leave_the_output_as_it_was(gguf, tmp_path):
    out = tmp_path / "out.q4p"
    out.write_bytes(b"previous contents")
    with pytest.raises(q4repack.ArgumentError):
        q4repack.pack_q4p(gguf, out, layout="none")
    with pytest.raises(q4repack.ArgumentError):
        q4repack.pack_q4p(gguf, out, layout="5x5")
    with pytest.raises(q4repack.FileIOError):
        q4repack.pack_q4p(tmp_path / "missing.gguf", out)
    not_gguf = tmp_path / "not.gguf"
    shutil.copyfile(out, not_gguf)
    with pytest.raises(q4repack.FormatError):
        q4repack.pack_q4p(not_gguf, out)
    assert out.read_bytes() == b"previous contents"
    with pytest.raises(q4repack.FileIOError):
        q4repack.pack_q4p(gguf, tmp_path / "no-such-dir" / "x.q4p")


def test_checksum64():
    a = np.arange(1000, dtype=np.uint8)
    assert q4repack.checksum64(a) == q4repack.checksum64(a.tobytes())
    assert q4repack.checksum64(a[::2]) == q4repack.checksum64(a[::2].copy())
    assert q4repack.checksum64(b"") == q4repack.checksum64(np.zeros(0, np.uint8))
    assert q4repack.checksum64(a[:999]) != q4repack.checksum64(a)


def test_open_from_memory(q4p):
    raw = q4p.read_bytes()
    with q4repack.Q4PFile(q4p) as on_disk, q4repack.Q4PFile.from_buffer(raw, verify=True) as f:
        assert [t.name for t in f.tensors] == [t.name for t in on_disk.tensors]
        t = f.tensors[2]
        assert np.array_equal(t.data, on_disk.tensors[2].data)
        base = np.frombuffer(raw, np.uint8).ctypes.data
        assert base <= t.data.ctypes.data < base + len(raw)  # a view into the caller's bytes
    damaged = bytearray(raw)
    damaged[0] ^= 1
    with pytest.raises(q4repack.FormatError):
        q4repack.Q4PFile.from_buffer(damaged)
    with pytest.raises(q4repack.FormatError):
        q4repack.Q4PFile.from_buffer(b"")
