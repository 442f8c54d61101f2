"""W4: time `import tapegrad` adds above `import numpy`, and the size of the wheel and install."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._harness import MB, Part, Target

TITLE = "W4 import time above numpy, wheel and installed size"
ROOT = Path(__file__).resolve().parent.parent
PARTS = [
    Part("import", ("torch", "tapegrad"),
         metrics={"import above numpy (in process)": "s",
                  "import above numpy (interpreter wall)": "s"},
         targets=[Target("import above numpy (in process)", None, 0.08),
                  Target("import above numpy (interpreter wall)", None, 0.08)],
         rounds=False),  # the child itself alternates the interpreters it times
    Part("size", ("tapegrad",),
         metrics={"wheel": "MB", "installed package": "MB"},
         targets=[Target("wheel", None, 2.0)], rounds=False),
]
# Timed inside the fresh interpreter, after numpy is already imported.
IN_PROCESS = ("import time, numpy; start = time.perf_counter(); import {module}; "
              "print(time.perf_counter() - start)")


def _python(code: str, env: dict[str, str], *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *options, "-c", code], capture_output=True,
                          text=True, check=True, cwd=ROOT, env=env)


def _wall(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    _python(code, env)
    return time.perf_counter() - start


def _cached_environment(cache: str) -> dict[str, str]:
    """Bytecode caches on, kept under ``cache``: as an installed package (pip writes .pyc),
    without writing __pycache__ folders into the shared working tree."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def import_breakdown(module: str, env: dict[str, str], top: int = 8) -> str:
    """The modules under ``module`` with the most own import time (python -X importtime)."""
    stderr = _python(f"import numpy; import {module}", env, "-X", "importtime").stderr
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line[len("import time:"):].split("|")
        try:
            own = int(fields[0])
        except ValueError:  # the header line
            continue
        name = fields[2].strip()
        if name.split(".")[0] == module:
            rows.append((own, name))
    rows.sort(reverse=True)
    return ", ".join(f"{name} {own / 1000:.1f} ms" for own, name in rows[:top])


def run_import(implementation: str, quick: bool) -> dict:
    # torch's import is context only (no target) and takes seconds: fewer repetitions.
    repetitions = (9 if quick else 31) if implementation == "tapegrad" else (3 if quick else 5)
    module = implementation
    with tempfile.TemporaryDirectory() as cache:
        env = _cached_environment(cache)
        _python(f"import numpy, {module}", env)  # writes the bytecode caches first
        in_process, with_module, numpy_only = [], [], []
        for _ in range(repetitions):
            # Alternate the three measurements so that load changes hit them alike.
            in_process.append(float(_python(IN_PROCESS.format(module=module), env).stdout))
            with_module.append(_wall(f"import numpy, {module}", env))
            numpy_only.append(_wall("import numpy", env))
        breakdown = import_breakdown(module, env)
    uncached_env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory() as empty:
        uncached_env["PYTHONPYCACHEPREFIX"] = empty  # no cache to read: every module compiled
        uncached = float(_python(IN_PROCESS.format(module=module), uncached_env).stdout)
    # The interpreter measure is the difference of two noisy distributions: report the
    # differences of pairs taken back to back, whose median is robust to slow spells.
    differences = [a - b for a, b in zip(with_module, numpy_only)]
    notes = [f"own import time by module (-X importtime, one run): {breakdown}",
             f"`python -c 'import numpy'` alone: median {statistics.median(numpy_only):.3f} s",
             f"without bytecode caches (every module compiled, as under the "
             f"PYTHONDONTWRITEBYTECODE=1 set on this machine): {uncached:.3f} s above numpy"]
    return {"metrics": {"import above numpy (in process)": in_process,
                        "import above numpy (interpreter wall)": differences},
            "notes": notes}


def _tree_size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def run_size() -> dict:
    notes = []
    with tempfile.TemporaryDirectory() as temporary:
        source = Path(temporary) / "source"
        # Build from a clean copy so the shared working tree gets no build/ folder.
        shutil.copytree(ROOT / "src", source / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (ROOT / name).exists():
                shutil.copy2(ROOT / name, source / name)
        wheels = Path(temporary) / "wheels"
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                   str(source)]
        built = subprocess.run(command, capture_output=True, text=True)
        if built.returncode != 0:
            # Offline machines cannot fetch setuptools into an isolated build environment.
            command.insert(4, "--no-build-isolation")
            built = subprocess.run(command, capture_output=True, text=True)
        if built.returncode != 0:
            raise RuntimeError(f"pip wheel failed: {built.stderr.strip().splitlines()[-1:]}")
        notes.append(f"built with `pip wheel {' '.join(command[4:-3])} -w <tmp> .` "
                     "from a copy of pyproject.toml, README.md and src/")
        (wheel,) = wheels.glob("*.whl")
        target = Path(temporary) / "site"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                        "--target", str(target), str(wheel)], check=True, capture_output=True)
        package = target / "tapegrad"
        python_files = sum(1 for _ in package.rglob("*.py"))
        lines = sum(len(file.read_text().splitlines()) for file in package.rglob("*.py"))
        source_bytes = sum(file.stat().st_size for file in package.rglob("*.py"))
        notes.append(f"wheel {wheel.name}: {wheel.stat().st_size / 1024:.0f} KiB; installed "
                     f"package directory (with the .pyc pip compiles): "
                     f"{_tree_size(package) / 1024:.0f} KiB; {python_files} .py files, "
                     f"{lines} lines, {source_bytes / 1024:.0f} KiB of source")
        return {"metrics": {"wheel": [wheel.stat().st_size / MB],
                            "installed package": [_tree_size(package) / MB]},
                "notes": notes}


def run(part: str, implementation: str, measure: Any, quick: bool = False) -> dict:
    if part == "import":
        return run_import(implementation, quick)
    return run_size()


def profile(part: str, quick: bool) -> dict:
    """cProfile of `import tapegrad` after `import numpy`, with bytecode caches."""
    import json

    code = ("import json, numpy; from bench._harness import profile_import; "
            "print(json.dumps(profile_import('tapegrad')))")
    with tempfile.TemporaryDirectory() as cache:
        env = _cached_environment(cache)
        _python("import numpy, tapegrad", env)
        result = json.loads(_python(code, env).stdout.splitlines()[-1])
    result["title"] = "`import tapegrad` (after numpy, bytecode cached)"
    return result
