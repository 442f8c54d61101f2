"""The benchmark suite, writing bench/RESULTS.md: `python -m bench.run [--quick] [--only W1,W3]`.

Every (workload, part, implementation) runs in its own fresh subprocess with one thread for every
library; the ratios in the report are between medians measured in this same run.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ._child import MARKER, WORKLOADS
from ._harness import Part

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
RAW = Path(__file__).resolve().parent / "out" / "results.json"  # bench/out/ is git-ignored
THREADS = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
LABELS = {"tapegrad": "tapegrad", "torch": "PyTorch", "numpy": "NumPy (by hand)"}
PROFILED = ("W1", "W2", "W4")


@dataclass
class Outcome:
    """What one child reported, with the wall time it took."""

    workload: str
    part: Part
    implementation: str
    status: str
    metrics: dict[str, list[float]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    checks: dict[str, list] = field(default_factory=dict)
    seconds: float = 0.0


def child_environment(part: Part) -> dict[str, str]:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(THREADS)
    env["PYTHONHASHSEED"] = "0"
    env.update(part.env)
    return env


def run_child(workload: str, part: Part, implementation: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "bench._child", workload, part.name, implementation,
               "--reps", str(args.reps), "--min-sample", str(args.min_sample)]
    if args.quick:
        command.append("--quick")
    try:
        completed = subprocess.run(command, cwd=ROOT, env=child_environment(part),
                                   capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"error: no result within {args.timeout:.0f} s"}
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER):])
            if result["status"].startswith("error") and completed.stderr.strip():
                print(completed.stderr.rstrip(), file=sys.stderr)
            return result
    tail = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
    return {"status": f"error: child exited with {completed.returncode}: {tail}"}


def summarize(samples: list[float]) -> tuple[float, float, float]:
    return statistics.median(samples), min(samples), max(samples)


def number(value: float, unit: str = "") -> str:
    if value == 0:
        text = "0"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 0.01:
        text = f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    else:
        text = f"{value:.2e}"
    return f"{text} {unit}".strip()


def find(outcomes: list[Outcome], workload: str, part: str, implementation: str) -> Outcome | None:
    for outcome in outcomes:
        if (outcome.workload, outcome.part.name, outcome.implementation) == (
                workload, part, implementation):
            return outcome
    return None


def median_of(outcome: Outcome | None, metric: str) -> float | None:
    if outcome is None or metric not in outcome.metrics or not outcome.metrics[metric]:
        return None
    return statistics.median(outcome.metrics[metric])


def ratio_text(value: float | None, baseline: float | None) -> str:
    if value is None or baseline is None or baseline == 0:
        return "—"
    return f"{value / baseline:.2f}x"


def target_cells(part: Part, metric: str, implementation: str, median: float,
                 outcomes: list[Outcome], workload: str) -> tuple[str, str]:
    """The target text and whether tapegrad meets it (or by how much it misses)."""
    texts, verdicts = [], []
    for target in part.targets:
        if target.metric != metric or implementation != "tapegrad":
            continue
        unit = part.metrics[metric]
        if target.baseline is None:
            texts.append(f"<= {number(target.limit, unit)}")
            if median <= target.limit:
                verdicts.append("yes")
            else:
                verdicts.append(f"no: {median / target.limit:.2f}x the limit")
            continue
        texts.append(f"<= {target.limit:g}x {LABELS[target.baseline]}")
        baseline = median_of(find(outcomes, workload, part.name, target.baseline), metric)
        if baseline is None:
            verdicts.append(f"? ({LABELS[target.baseline]} not measured)")
            continue
        ratio = median / baseline
        if ratio <= target.limit:
            verdicts.append("yes")
        else:
            verdicts.append(f"no: {ratio:.2f}x, needs {ratio / target.limit:.2f}x faster"
                            if "µs" in unit or unit in ("ms", "s", "ms/step")
                            else f"no: {ratio:.2f}x, {ratio / target.limit:.2f}x over")
    return "; ".join(texts) or "", "; ".join(verdicts) or ""


def agreement_checks(outcomes: list[Outcome]) -> list[str]:
    """Values each part names in ``agree`` compared against PyTorch's (or the first present)."""
    lines = []
    seen = set()
    for outcome in outcomes:
        key = (outcome.workload, outcome.part.name)
        if key in seen:
            continue
        seen.add(key)
        group = [o for o in outcomes if (o.workload, o.part.name) == key]
        for name, tolerance in outcome.part.agree.items():
            have = [o for o in group if name in o.values]
            if len(have) < 2:
                continue
            reference = next((o for o in have if o.implementation == "torch"), have[0])
            for other in have:
                if other is reference:
                    continue
                error = relative_error(other.values[name], reference.values[name])
                verdict = "ok" if error <= tolerance else "MISMATCH"
                lines.append(f"{verdict}: {key[0]} {key[1]}: {name} of "
                             f"{LABELS[other.implementation]} vs {LABELS[reference.implementation]}"
                             f": max relative error {error:.1e} (tolerance {tolerance:g})")
    return lines


def relative_error(value: Any, reference: Any) -> float:
    values = value if isinstance(value, list) else [value]
    references = reference if isinstance(reference, list) else [reference]
    if len(values) != len(references):
        return float("inf")
    worst = 0.0
    for a, b in zip(values, references):
        worst = max(worst, abs(a - b) / max(abs(b), 1e-30))
    return worst


def describe_machine(start_load: tuple[float, ...]) -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        changed = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain"],
                                 cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
        # The report being rewritten is not a change to what is measured.
        changed = [line for line in changed if line[3:] != "bench/RESULTS.md"]
        tree = f"commit {commit}, {len(changed)} uncommitted paths in the working tree"
    except OSError:
        tree = "unknown"

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return [
        f"- Machine: {platform.machine()} {cpu}, {os.cpu_count()} logical CPUs "
        f"({len(os.sched_getaffinity(0))} usable), {memory} RAM; {platform.platform()}",
        f"- Load average (1, 5, 15 min) at start: {', '.join(f'{v:.2f}' for v in start_load)}; "
        f"at end: {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
        "(other engineers' test runs share this machine, so timings are noisy)",
        f"- Python {platform.python_version()}, numpy {version('numpy')}, "
        f"torch {version('torch')}, tapegrad {version('tapegrad')} ({tree})",
        f"- Threads: {THREADS} for every implementation ({'/'.join(THREAD_VARIABLES[:3])}="
        f"{THREADS} in each child's environment, torch.set_num_threads({THREADS}))",
    ]


def render(outcomes: list[Outcome], args: argparse.Namespace, machine: list[str],
           profiles: dict[str, dict], elapsed: float, selected: list[str],
           analysis: str) -> str:
    lines = ["# tapegrad benchmarks", "",
             f"Generated by `{' '.join(['python -m bench.run'] + args.argv)}` on "
             f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} in {elapsed:.0f} s "
             f"(workloads {', '.join(selected)}).", ""]
    lines += machine
    lines += [
        f"- Method: each (workload, implementation) runs in fresh subprocesses; timed parts in "
        f"{args.rounds} round(s), the order of implementations rotating each round, each child "
        f"taking {max(2, -(-args.reps // args.rounds)) if args.rounds > 1 else args.reps} "
        f"samples after warm-up, each sample the mean of enough back-to-back calls to last >= "
        f"{args.min_sample:g} s (gc enabled, collected before each sample). Median and min–max "
        "over the pooled samples; ratios are tapegrad's median over the other's median, both "
        "from this run.",
        "",
        "| Workload | Metric | Implementation | Median | Spread (min–max) | vs PyTorch | vs NumPy "
        "| Target | Met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        part, workload = outcome.part, outcome.workload
        title = f"{workload} {part.name}"
        label = LABELS[outcome.implementation]
        if outcome.status != "ok":
            lines.append(f"| {title} | (all) | {label} | {outcome.status} | | | | | |")
            continue
        torch_outcome = find(outcomes, workload, part.name, "torch")
        numpy_outcome = find(outcomes, workload, part.name, "numpy")
        for metric, unit in part.metrics.items():
            samples = outcome.metrics.get(metric)
            if not samples:
                continue
            median, low, high = summarize(samples)
            spread = (f"{number(low)}–{number(high)}" if len(samples) > 1 else "single run")
            vs_torch = (ratio_text(median, median_of(torch_outcome, metric))
                        if outcome.implementation != "torch" else "1")
            vs_numpy = (ratio_text(median, median_of(numpy_outcome, metric))
                        if outcome.implementation != "numpy" else "1")
            target, met = target_cells(part, metric, outcome.implementation, median, outcomes,
                                       workload)
            lines.append(f"| {title} | {metric} | {label} | {number(median, unit)} | {spread} "
                         f"| {vs_torch} | {vs_numpy} | {target} | {met} |")
    checks = agreement_checks(outcomes)
    for outcome in outcomes:
        for name, (ok, detail) in outcome.checks.items():
            checks.append(f"{'ok' if ok else 'FAILED'}: {outcome.workload} {outcome.part.name} "
                          f"{LABELS[outcome.implementation]}: {name}: {detail}")
    if checks:
        lines += ["", "## Checks", ""] + [f"- {line}" for line in checks]
    notes = [f"{o.workload} {o.part.name} {LABELS[o.implementation]}: {note}"
             for o in outcomes for note in o.notes]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    if profiles:
        lines += ["", "## Where tapegrad's time goes (cProfile, own time)", ""]
        for workload, profile in profiles.items():
            if profile.get("status") != "ok":
                lines += [f"{workload}: {profile.get('status')}", ""]
                continue
            lines += [f"### {workload}: {profile['title']}", "",
                      f"{profile['calls']} call(s) profiled, {profile['total_s']:.2f} s in total "
                      "(cProfile itself inflates Python-level time; read the shares, not the "
                      "absolute numbers).", "",
                      "| Function | Calls | Own time | Share | Cumulative |",
                      "|---|---|---|---|---|"]
            for where, ncalls, own, cumulative in profile["rows"]:
                where = where.replace("|", "\\|")
                lines.append(f"| `{where}` | {ncalls} | {own * 1e3:.1f} ms | "
                             f"{100 * own / profile['total_s']:.1f}% | {cumulative * 1e3:.1f} ms |")
            shares = ", ".join(f"{home} {100 * own / profile['total_s']:.0f}%"
                               for home, own in profile.get("files", []))
            lines += ["", f"Own time by file: {shares}."]
            lines.append("")
    if analysis and Path(analysis).exists():
        lines += ["", Path(analysis).read_text().rstrip()]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="3 repetitions of shorter samples (for development)")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3")
    parser.add_argument("--reps", type=int, default=None, help="samples per metric (default 7)")
    parser.add_argument("--min-sample", type=float, default=None,
                        help="seconds each timed sample lasts at least (default 0.2)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of fresh children per timed part (default 3; quick 1)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per child process")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the cProfile runs of W1, W2 and of the import (W4)")
    parser.add_argument("--output", default=str(RESULTS), help="where the Markdown report goes")
    parser.add_argument("--render-only", action="store_true",
                        help=f"rewrite the report from the last run's raw results ({RAW.name}), "
                        "e.g. after editing the commentary; measures nothing")
    parser.add_argument("--analysis", default=str(Path(__file__).parent / "ANALYSIS.md"),
                        help="hand-written commentary appended to the report when it exists")
    args = parser.parse_args(argv)
    args.argv = argv
    if args.reps is None:
        args.reps = 3 if args.quick else 7
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.min_sample is None:
        args.min_sample = 0.05 if args.quick else 0.2
    selected = [name.strip().upper() for name in args.only.split(",") if name.strip()] or list(
        WORKLOADS)
    unknown = [name for name in selected if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")

    if args.render_only:
        raw = json.loads(RAW.read_text())
        parts = {(workload, part.name): part for workload in WORKLOADS
                 for part in importlib.import_module(WORKLOADS[workload]).PARTS}
        outcomes = [Outcome(item["workload"], parts[(item["workload"], item["part"])],
                            item["implementation"], item["status"], item["metrics"],
                            item["values"], item["notes"], item["checks"], item["seconds"])
                    for item in raw["outcomes"]]
        run_args = argparse.Namespace(**raw["args"])
        report = render(outcomes, run_args, raw["machine"], raw["profiles"], raw["elapsed"],
                        raw["selected"], args.analysis)
    else:
        report = measure_all(args, selected)
    Path(args.output).write_text(report)
    table_start = report.index("| Workload")
    print()
    print(report[table_start:report.find("\n## Where")] if "\n## Where" in report
          else report[table_start:])
    print(f"written to {args.output}")
    return 0


def measure_all(args: argparse.Namespace, selected: list[str]) -> str:
    """Run the selected workloads (and the profiles), save the raw results, render the report."""
    start_load = os.getloadavg()
    began = time.perf_counter()
    outcomes: list[Outcome] = []
    for workload in selected:
        module = importlib.import_module(WORKLOADS[workload])
        print(module.TITLE, flush=True)
        for part in module.PARTS:
            outcomes += run_part(workload, part, args)

    profiles = {}
    if args.profile:
        for workload in PROFILED:
            if workload not in selected:
                continue
            module = importlib.import_module(WORKLOADS[workload])
            print(f"profiling tapegrad on {workload}", flush=True)
            result = run_child(workload, module.PARTS[0], "profile", args)
            profiles[workload] = result
    machine = describe_machine(start_load)
    elapsed = time.perf_counter() - began
    RAW.parent.mkdir(exist_ok=True)
    RAW.write_text(json.dumps({
        "args": {key: value for key, value in vars(args).items()},
        "machine": machine, "profiles": profiles, "elapsed": elapsed, "selected": selected,
        "outcomes": [{"workload": o.workload, "part": o.part.name,
                      "implementation": o.implementation, "status": o.status,
                      "metrics": o.metrics, "values": o.values, "notes": o.notes,
                      "checks": o.checks, "seconds": o.seconds} for o in outcomes]}))
    return render(outcomes, args, machine, profiles, elapsed, selected, args.analysis)


def run_part(workload: str, part: Part, args: argparse.Namespace) -> list[Outcome]:
    """Each implementation in fresh children: ``args.rounds`` rounds for timed parts, the order
    of implementations rotating each round, samples pooled over the rounds."""
    rounds = args.rounds if part.rounds else 1
    per_child = argparse.Namespace(**vars(args))
    per_child.reps = max(2, -(-args.reps // rounds)) if rounds > 1 else args.reps
    outcomes = {name: Outcome(workload, part, name, "ok") for name in part.implementations}
    for round_index in range(rounds):
        shift = round_index % len(part.implementations)
        order = part.implementations[shift:] + part.implementations[:shift]
        for implementation in order:
            outcome = outcomes[implementation]
            if outcome.status != "ok":
                continue  # not available or failed: once is enough
            started = time.perf_counter()
            result = run_child(workload, part, implementation, per_child)
            outcome.seconds += time.perf_counter() - started
            outcome.status = result["status"]
            for metric, samples in result.get("metrics", {}).items():
                outcome.metrics.setdefault(metric, []).extend(samples)
            for name, value in result.get("values", {}).items():
                outcome.values.setdefault(name, value)
            for name, check in result.get("checks", {}).items():
                if name not in outcome.checks or not check[0]:
                    outcome.checks[name] = check  # a failure in any round is kept
            outcome.notes += [note for note in result.get("notes", [])
                              if note not in outcome.notes]
    for implementation in part.implementations:
        outcome = outcomes[implementation]
        print(f"  {part.name:<12} {LABELS[implementation]:<16} {progress_line(outcome)} "
              f"[{outcome.seconds:.0f} s]", flush=True)
    return list(outcomes.values())


def progress_line(outcome: Outcome) -> str:
    if outcome.status != "ok":
        return outcome.status
    cells = []
    for metric, unit in outcome.part.metrics.items():
        if outcome.metrics.get(metric):
            cells.append(f"{metric}: {number(statistics.median(outcome.metrics[metric]), unit)}")
    return "; ".join(cells)


if __name__ == "__main__":
    sys.exit(main())
