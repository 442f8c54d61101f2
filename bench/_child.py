"""One measurement in a fresh process: `python -m bench._child W1 chain tapegrad --reps 7`.

Prints one line `BENCH-RESULT <json>` on stdout: the samples of each metric, values to compare
across implementations, notes, checks, or a status (`not available yet: ...`, `error: ...`).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
import traceback

from ._harness import NotAvailable, measure

WORKLOADS = {
    "W1": "bench.w1_overhead",
    "W2": "bench.w2_mlp",
    "W3": "bench.w3_hessian",
    "W4": "bench.w4_import",
    "W5": "bench.w5_cnn_lstm",
    "W6": "bench.w6_memory",
}
MARKER = "BENCH-RESULT "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._child")
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("part")
    parser.add_argument("implementation")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--min-sample", type=float, default=0.2,
                        help="seconds that one timed sample lasts at least")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    module = importlib.import_module(WORKLOADS[args.workload])
    timer = functools.partial(measure, repetitions=args.reps, min_sample_s=args.min_sample)
    try:
        if args.implementation == "profile":
            result = module.profile(args.part, args.quick)
        else:
            result = module.run(args.part, args.implementation, timer, args.quick)
        result.setdefault("status", "ok")
    except NotAvailable as error:
        result = {"status": f"not available yet: {error}"}
    except Exception as error:  # reported in the table, so one failure does not end the run
        traceback.print_exc()
        result = {"status": f"error: {type(error).__name__}: {error}"}
    sys.stdout.flush()
    print(MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
