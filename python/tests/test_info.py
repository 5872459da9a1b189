"""info(), names, sizes, ISA selection and the library search."""

import os
import subprocess
import sys

import pytest

import q4repack


def test_info_describes_library_and_cpu():
    info = q4repack.info()
    assert info["version"] == q4repack.library_version() == q4repack.__version__
    assert os.path.exists(info["library"])
    assert "scalar" in info["isas_available"]
    assert info["isa_active"] in info["isas_available"]
    # q4r_isa values are not in preference order (x86 forced widths, sve256 come after i8mm)
    assert info["isa_best"] in info["isas_available"]
    assert set(info["preferred_layouts"]) == set(q4repack.WEIGHT_TYPES)
    for isa, layouts in info["preferred_layouts_by_isa"].items():
        assert isa in q4repack.ISAS and set(layouts.values()) <= set(q4repack.LAYOUTS)


def test_names_and_sizes():
    assert q4repack.row_bytes("q4_0", 4096) == 4096 // 32 * 18
    assert q4repack.row_bytes("q8_0", 64) == 68
    assert q4repack.tensor_bytes("iq4_nl", 3, 96) == 3 * 3 * 18
    assert q4repack.block_bytes("q8_0") == 34
    assert [q4repack.layout_rows(l) for l in q4repack.LAYOUTS] == [1, 4, 4, 8]
    assert [q4repack.layout_chunk(l) for l in q4repack.LAYOUTS] == [0, 4, 8, 8]
    assert q4repack.layout_rows("plain") == 1
    with pytest.raises(q4repack.ShapeError):
        q4repack.row_bytes("q4_0", 33)


def test_set_isa_round_trip(restore_isa):
    for isa in q4repack.available_isas():
        q4repack.set_isa(isa)
        assert q4repack.active_isa() == isa
        assert q4repack.info()["isa_active"] == isa


def run_python(code, **env):
    full = dict(os.environ, **env)
    pkg_root = os.path.dirname(os.path.dirname(q4repack.__file__))
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                          cwd=pkg_root)


def test_q4repack_isa_environment_variable():
    out = run_python("import q4repack; print(q4repack.info()['isa_active'])", Q4REPACK_ISA="scalar")
    assert out.stdout.strip() == "scalar", out


def test_explicit_library_path():
    path = q4repack.library_path()
    out = run_python("import q4repack; print(q4repack.library_path())", Q4REPACK_LIBRARY=path)
    assert out.stdout.strip() == os.path.realpath(path), out


def test_cpu_info_comes_from_the_library(monkeypatch):
    """info()'s CPU part is q4r_cpu_info's (cpu_features), not a /proc/cpuinfo parse."""
    import builtins

    real_open = builtins.open

    def no_cpuinfo(path, *args, **kwargs):
        assert "cpuinfo" not in str(path), "info() read %s" % path
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_cpuinfo)
    info = q4repack.info()
    cpu = q4repack.cpu_info()
    assert set(cpu) == set(q4repack.CPU_INFO_KEYS) and info["cpu"] == cpu
    assert cpu["arch"] in ("x86_64", "aarch64", "other")
    assert info["cpu_features"] == cpu["features"] == q4repack.cpu_features()
    assert set(cpu["features"]) <= set(cpu["features_checked"])
    available = set(q4repack.available_isas())
    if "avx2" in available:
        assert {"avx2", "fma3", "f16c"} <= set(cpu["features"])
    if "avx512vnni" in available:
        assert {"avx512f", "avx512bw", "avx512vl", "avx512vnni"} <= set(cpu["features"])
    if cpu["arch"] == "x86_64":
        assert cpu["model"].startswith("family ") and cpu["vendor"]


def test_kernel_set_of_every_isa():
    assert q4repack.info()["kernel_set"] == q4repack.kernel_set()
    for isa in q4repack.available_isas():
        text = q4repack.kernel_set(isa)
        assert bool(text) == isa.startswith("avx512vnni"), (isa, text)
    for isa in set(q4repack.ISAS) - set(q4repack.available_isas()):
        with pytest.raises(q4repack.ISAError, match=isa):
            q4repack.kernel_set(isa)
    with pytest.raises(q4repack.ArgumentError, match="avx9"):
        q4repack.kernel_set("avx9")


def test_a_library_without_a_newer_function_still_loads(monkeypatch):
    """Functions the loaded library lacks raise UnsupportedError naming them; the rest works."""
    from q4repack import _library

    lib = _library.lib()
    stub = lib.function("q4r_no_such_function", None, [])
    with pytest.raises(q4repack.UnsupportedError, match="q4r_no_such_function"):
        stub()
