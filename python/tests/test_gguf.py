"""The GGUF reader and writer against the golden files: every tensor and key as the sidecars list
them, legacy pre-repacked types, byte-for-byte round trips, and malformed files."""

import hashlib
import json
import math
import os

import numpy as np
import pytest

import q4repack
from q4repack.gguf import GGUFFile, write_gguf

FILES = ["tiny-llama-q4_0", "tiny-iq4_nl", "aligned64-q4_0"]
LEGACY = {"legacy-tiny-llama": "tiny-llama-q4_0", "legacy-tiny-iq4_nl": "tiny-iq4_nl"}


def gguf_path(golden_dir, name):
    return os.path.join(golden_dir, "gguf", name + ".gguf")


def tsv(golden_dir, name, kind):
    with open(os.path.join(golden_dir, "gguf", "%s.%s.tsv" % (name, kind)), encoding="utf-8") as f:
        header, *rows = [line.rstrip("\n").split("\t") for line in f]
    return [dict(zip(header, row)) for row in rows]


def json_value(v):
    """A parsed value as the sidecar's JSON would decode (floats as special strings)."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, list):
        return [json_value(e) for e in v]
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


@pytest.mark.parametrize("name", FILES)
def test_tensors_match_sidecar(golden_dir, name):
    with GGUFFile(gguf_path(golden_dir, name)) as f:
        rows = tsv(golden_dir, name, "tensors")
        assert [t.name for t in f.tensors] == [r["name"] for r in rows]
        for t, r in zip(f.tensors, rows):
            ne = [int(r["ne%d" % i]) for i in range(int(r["n_dims"]))]
            assert (t.type, t.type_id, list(t.ne), t.layout) == (r["type"], int(r["type_id"]), ne, "none")
            assert t.shape == tuple(reversed(ne))
            assert (t.offset, t.nbytes) == (int(r["offset"]), int(r["nbytes"]))
            assert hashlib.sha256(t.data.tobytes()).hexdigest() == r["sha256"]
            assert not t.data.flags.writeable
            if t.type in ("q4_0", "iq4_nl"):
                assert t.data.shape == t.shape[:-1] + (q4repack.row_bytes(t.type, t.k),)


@pytest.mark.parametrize("name", FILES)
def test_metadata_matches_sidecar(golden_dir, name):
    with GGUFFile(gguf_path(golden_dir, name)) as f:
        rows = tsv(golden_dir, name, "kv")
        assert list(f.metadata) == [r["key"] for r in rows]
        for r in rows:
            assert f.metadata_types[r["key"]] == r["type"], r["key"]
            assert json_value(f.metadata[r["key"]]) == json.loads(r["value_json"]), r["key"]


def test_alignment_and_data_offset(golden_dir):
    with GGUFFile(gguf_path(golden_dir, "aligned64-q4_0")) as f:
        assert (f.version, f.alignment, f.data_offset) == (3, 64, 384)
        assert [t.offset for t in f.tensors] == [0, 320, 384, 1536]
    with GGUFFile(gguf_path(golden_dir, "tiny-llama-q4_0")) as f:
        assert (f.alignment, f.data_offset) == (32, 4320)


@pytest.mark.parametrize("legacy, source", LEGACY.items())
def test_legacy_types_unpack_to_the_source_file(golden_dir, legacy, source):
    with GGUFFile(gguf_path(golden_dir, legacy)) as lf, GGUFFile(gguf_path(golden_dir, source)) as sf:
        layouts = {}
        for lt, st in zip(lf.tensors, sf.tensors):
            assert (lt.name, lt.type, lt.shape) == (st.name, st.type, st.shape)
            layouts[lt.name] = lt.layout
            assert np.array_equal(lt.plain(), st.data), lt.name
            if lt.type in ("q4_0", "iq4_nl"):
                assert np.array_equal(lt.dequantize(), st.dequantize()), lt.name
        if legacy == "legacy-tiny-llama":
            assert lf.tensor("blk.0.attn_q.weight").type_id == 31
            assert layouts["blk.0.attn_q.weight"] == "4x4"
            assert layouts["blk.1.ffn_gate.weight"] == "8x8"
            assert layouts["blk.1.ffn_up.weight"] == "none"  # 92 rows stayed q4_0
            assert layouts["output.weight"] == "4x8"
            assert layouts["token_embd.weight"] == "none"
        else:
            exps = lf.tensor("blk.0.ffn_gate_exps.weight")
            assert (exps.type_id, exps.type, exps.layout, exps.shape) == (36, "iq4_nl", "4x4", (4, 128, 256))


@pytest.mark.parametrize("name", FILES + list(LEGACY))
def test_write_back_byte_for_byte(golden_dir, tmp_path, name):
    src = gguf_path(golden_dir, name)
    with GGUFFile(src) as f:
        write_gguf(tmp_path / "out.gguf", f.metadata, f.tensors, f.metadata_types)
    with open(src, "rb") as a, open(tmp_path / "out.gguf", "rb") as b:
        assert a.read() == b.read()


@pytest.mark.parametrize("legacy, source", LEGACY.items())
def test_convert_between_plain_and_legacy_files(golden_dir, tmp_path, legacy, source):
    """Plain -> legacy with repack (and legacy -> plain with unpack) writes the other golden file."""
    with GGUFFile(gguf_path(golden_dir, legacy)) as lf, GGUFFile(gguf_path(golden_dir, source)) as sf:
        to_plain = [(t.name, t.type, t.ne, t.plain()) for t in lf.tensors]
        to_legacy = []
        for lt, st in zip(lf.tensors, sf.tensors):
            data = st.data
            if lt.layout != "none":
                data = q4repack.repack(st.data.reshape(st.rows, -1), st.type, lt.layout)
            to_legacy.append((st.name, (st.type, lt.layout), st.ne, data))
        write_gguf(tmp_path / "plain.gguf", lf.metadata, to_plain, lf.metadata_types)
        write_gguf(tmp_path / "legacy.gguf", sf.metadata, to_legacy, sf.metadata_types)
    for out, want in (("plain.gguf", source), ("legacy.gguf", legacy)):
        with open(tmp_path / out, "rb") as a, open(gguf_path(golden_dir, want), "rb") as b:
            assert a.read() == b.read(), out


def test_repack_a_tensor_and_check_against_float_matmul(golden_dir):
    """The docs/PYTHON.md example: repack one tensor, compare with its dequantized float matmul."""
    with GGUFFile(gguf_path(golden_dir, "tiny-llama-q4_0")) as f:
        t = f.tensor("blk.0.attn_q.weight")
        layout = q4repack.preferred_layout(t.type)
        packed = q4repack.repack(t.data, t.type, layout)
        x = np.random.default_rng(0).standard_normal((5, t.k)).astype(np.float32)
        y = q4repack.matmul(packed, x, t.type, layout)
        ref = x.astype(np.float64) @ t.dequantize().astype(np.float64).T
        # q8_0 activations: relative error ~1/127 per value, averaged over k.
        assert np.max(np.abs(y - ref)) <= 0.02 * np.max(np.abs(ref))


def test_copy_on_write_repacks_in_place_without_touching_the_file(golden_dir, tmp_path):
    path = tmp_path / "copy.gguf"
    with open(gguf_path(golden_dir, "tiny-iq4_nl"), "rb") as f:
        original = f.read()
    path.write_bytes(original)
    with GGUFFile(path, copy_on_write=True) as f:
        t = f.tensor("blk.0.attn_q.weight")
        before = t.data.copy()
        assert q4repack.repack(t.data, t.type, "8x8", out=t.data) is t.data
        assert np.array_equal(t.data, q4repack.repack(before, t.type, "8x8"))
    assert path.read_bytes() == original


def test_views_outlive_close(golden_dir):
    f = GGUFFile(gguf_path(golden_dir, "aligned64-q4_0"))
    data = f.tensor("c.weight").data
    want = data.copy()
    f.close()
    f.close()
    assert np.array_equal(data, want)


def test_expert_tensor_is_one_matrix_per_expert(golden_dir):
    with GGUFFile(gguf_path(golden_dir, "tiny-iq4_nl")) as f:
        exps = f.tensor("blk.0.ffn_gate_exps.weight")
        assert exps.data.shape == (4, 128, 144)
        packed = [q4repack.repack(e, "iq4_nl", "8x8") for e in exps.data]
        assert all(p.shape == (128, 144) for p in packed)


# ---------------------------------------------------------------- malformed files


def parse_bytes(tmp_path, data):
    p = tmp_path / "bad.gguf"
    p.write_bytes(bytes(data))
    with GGUFFile(p):
        pass


def test_truncated_files_raise_format_error(golden_dir, tmp_path):
    with open(gguf_path(golden_dir, "aligned64-q4_0"), "rb") as f:
        data = f.read()
    for cut in list(range(0, 400)) + list(range(400, len(data), 97)):
        with pytest.raises(q4repack.FormatError):
            parse_bytes(tmp_path, data[:cut])


@pytest.mark.parametrize(
    "offset, value, words",
    [
        (0, b"GGUX", "magic"),
        (4, (1).to_bytes(4, "little"), "version 1"),
        (4, (3 << 24).to_bytes(4, "little"), "big-endian"),
        (16, (10**12).to_bytes(8, "little"), "metadata pairs"),
    ],
)
def test_bad_headers(golden_dir, tmp_path, offset, value, words):
    with open(gguf_path(golden_dir, "aligned64-q4_0"), "rb") as f:
        data = bytearray(f.read())
    data[offset : offset + len(value)] = value
    with pytest.raises(q4repack.FormatError, match=words):
        parse_bytes(tmp_path, data)


def test_bad_tensor_infos(tmp_path):
    def one(ne, type_id=2, offset=0, alignment=None, data=b"\0" * 64):
        meta = {} if alignment is None else {"general.alignment": alignment}
        write_gguf(tmp_path / "t.gguf", meta, [("t", type_id, ne, np.frombuffer(data, np.uint8))],
                   {"general.alignment": "u32"} if alignment is not None else None)
        raw = bytearray((tmp_path / "t.gguf").read_bytes())
        if offset:
            at = raw.rindex(b"\x02\x00\x00\x00" if type_id == 2 else bytes([type_id, 0, 0, 0])) + 4
            raw[at : at + 8] = offset.to_bytes(8, "little")
        return raw

    with pytest.raises(q4repack.FormatError, match="not a multiple of q4_0's block"):
        parse_bytes(tmp_path, one([48, 1]))
    with pytest.raises(q4repack.FormatError, match="run past the end"):
        parse_bytes(tmp_path, one([32, 100]))
    with pytest.raises(q4repack.FormatError, match="not a multiple of the alignment"):
        parse_bytes(tmp_path, one([32, 1], offset=8))
    with pytest.raises(q4repack.FormatError, match="power of two"):
        parse_bytes(tmp_path, one([32, 1], alignment=48))
    with pytest.raises(q4repack.FormatError, match="dimensions"):
        parse_bytes(tmp_path, one([32, 1, 1, 1, 1]))
    # An unknown type id is listed, never touched.
    p = tmp_path / "u.gguf"
    p.write_bytes(bytes(one([32, 1], type_id=77)))
    with GGUFFile(p) as f:
        assert (f.tensors[0].type, f.tensors[0].data, f.tensors[0].nbytes) == ("unknown", None, None)


def test_random_mutations_never_crash(golden_dir, tmp_path):
    with open(gguf_path(golden_dir, "aligned64-q4_0"), "rb") as f:
        data = f.read()
    rng = np.random.default_rng(1)
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            at = int(rng.integers(0, 400))
            mutated[at] = int(rng.integers(0, 256))
        try:
            parse_bytes(tmp_path, mutated)
        except q4repack.FormatError:
            pass


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        GGUFFile(tmp_path / "missing.gguf")


@pytest.mark.parametrize("name", FILES + list(LEGACY))
def test_validate_golden_files(golden_dir, name):
    report = q4repack.validate(gguf_path(golden_dir, name), layouts="all")
    assert report.ok, report.failures[:3]
    matrices = {(c.tensor, c.matrix) for c in report.checks}
    assert len(report.checks) == len(matrices) * 3 * len(q4repack.available_isas())


def test_validate_finds_a_broken_kernel_input(golden_dir, monkeypatch):
    """A wrong result (one flipped weight byte seen only by the repacked path) fails the check."""
    real = q4repack.validate.__globals__["repack"]

    def broken_repack(w, type, layout, out=None):
        p = real(w, type, layout, out)
        p[0, 5] ^= 0x11
        return p

    monkeypatch.setitem(q4repack.validate.__globals__, "repack", broken_repack)
    report = q4repack.validate(gguf_path(golden_dir, "aligned64-q4_0"))
    assert not report.ok
    assert all(not c.round_trip and c.worst_ratio > 10 for c in report.failures)


CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "corpus",
                      "gguf")


def test_fuzz_seed_files(tmp_path):
    """The C reader's seed files (tests/corpus/gguf): version 2, nested and heterogeneous arrays,
    an unknown tensor type, an empty file; written back byte for byte where every size is known."""
    with GGUFFile(os.path.join(CORPUS, "rich-v3.gguf")) as f:
        nested = f.metadata["t.nested"]
        assert f.metadata_types["t.nested"] == "arr[arr]"
        assert nested[0].tolist() == [1, 2] and nested[0].dtype == np.uint8 and nested[1] == ["x"]
        unknown = f.tensor("w.unknown")
        assert (unknown.type, unknown.data, unknown.shape) == ("unknown", None, (2, 16))
    with GGUFFile(os.path.join(CORPUS, "moe-v2-align64.gguf")) as f:
        assert (f.version, f.alignment) == (2, 64)
        assert f.tensor("w.exps").data.shape == (3, 8, 36)
    for name in ("empty-v3", "moe-v2-align64"):
        src = os.path.join(CORPUS, name + ".gguf")
        with GGUFFile(src) as f:
            write_gguf(tmp_path / "out.gguf", f.metadata, f.tensors, f.metadata_types, f.version)
        with open(src, "rb") as a:
            assert a.read() == (tmp_path / "out.gguf").read_bytes(), name


def test_nested_arrays_write_back(tmp_path):
    meta = {"n": [np.array([1, 2], np.uint8), ["x", ""], np.array([True]),
                  [[np.array([-1], np.int64)]]]}
    write_gguf(tmp_path / "n.gguf", meta, [])
    with GGUFFile(tmp_path / "n.gguf") as f:
        v = f.metadata["n"]
        assert v[0].dtype == np.uint8 and v[1] == ["x", ""] and v[2].dtype == bool
        assert v[3][0][0].tolist() == [-1] and v[3][0][0].dtype == np.int64
