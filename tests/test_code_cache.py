"""The compiled-code cache for generated functions: written beside the bytecode, read back,
and harmless when missing or damaged."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = (
    "import tapegrad, tapegrad.ops._code_cache as r; "
    "x = tapegrad.ones(2, requires_grad=True); (x * 2).sum().backward(); "
    "print(len(r._CODE_CACHE), x.grad.tolist())"
)


def _run(prefix: str) -> str:
    environment = dict(os.environ, PYTHONPYCACHEPREFIX=prefix)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run([sys.executable, "-c", PROBE], env=environment, capture_output=True,
                          text=True, check=True)
    return done.stdout.split("\n")[0]


def _cache_files(prefix: str) -> list[str]:
    return [os.path.join(folder, name) for folder, _, names in os.walk(prefix)
            for name in names if name.startswith("generated.") and name.endswith(".marshal")]


def test_cache_is_written_then_used(tmp_path):
    first = _run(str(tmp_path))
    assert first.startswith("0 ")  # nothing cached yet: everything compiled
    assert len(_cache_files(str(tmp_path))) == 1
    second = _run(str(tmp_path))
    cached, grad = second.split(" ", 1)
    assert int(cached) > 100 and grad == "[2.0, 2.0]"


def test_damaged_cache_is_ignored(tmp_path):
    _run(str(tmp_path))
    (path,) = _cache_files(str(tmp_path))
    with open(path, "wb") as file:
        file.write(b"not a marshal stream")
    assert _run(str(tmp_path)).endswith("[2.0, 2.0]")


def test_imports_from_a_zip(tmp_path):
    # A zipped package (zipapp, locked-down installs) has no files to stat or cache beside:
    # import must still work, keying generated code by its source.
    import zipfile

    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    archive = tmp_path / "tapegrad.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for folder, _, names in os.walk(os.path.join(source, "tapegrad")):
            for name in names:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    bundle.write(path, os.path.relpath(path, source))
    environment = dict(os.environ, PYTHONPATH=str(archive))
    done = subprocess.run([sys.executable, "-c", PROBE.replace("_CODE_CACHE", "_CODE_USED")
                           + "; print(tapegrad.__file__)"],
                          env=environment, capture_output=True, text=True, check=True,
                          cwd=str(tmp_path))
    assert done.stdout.split("\n")[0].endswith("[2.0, 2.0]")
    assert "tapegrad.zip" in done.stdout
