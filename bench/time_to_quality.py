"""Benchmark time to quality: agreement along a training run, and when it first reached 95% and 99%.

``python -m bench.time_to_quality RUN`` reads a run folder of ``gan_core.train``
trained with ``--keep-checkpoints true``. It scores each kept checkpoint
(``RUN/checkpoints/step_*.pt``, EMA generator) with the evaluation classifier, at
``--per-digit`` samples per digit from the evaluation's fixed seeds, and prints one row per
checkpoint in a Markdown table:

- training minutes: the sum of the run's logged seconds per step up to that step, which
  count training only (not checkpoints, not time the process was stopped);
- wall minutes: time since the run's first log line, as its log records it;
- agreement, overall and for the weakest digit.

It ends with the first checkpoint at or above each of ``--thresholds``. ``--quick``
scores at most two checkpoints with 10 samples per digit, for the smoke test.
"""

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path

import torch

from gan_core.checkpoint import load_generator
from gan_core.classifier import load_classifier
from gan_core.evaluate import default_classifier, evaluate

from .load import write_json
from .report import machine_description, markdown_table

LOG_LINE = re.compile(r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?step (?P<step>\d+)/\d+ .* "
                      r"(?P<seconds>[0-9.]+)s/step$")
STAMP = re.compile(r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f")


def read_log(path):
    """Return ``(first timestamp, [(step, timestamp, training seconds up to step)])`` from a train.log.

    Each interval line reports the mean seconds per step since the previous line. A resumed
    run's log restarts the count from the resumed step.
    """
    first, points, previous_step, total = None, [], 0, 0.0
    for line in path.read_text().splitlines():
        stamp = STAMP.match(line)
        if stamp and first is None:
            first = parse_time(stamp["time"])
        match = LOG_LINE.match(line)
        if not match:
            continue
        step = int(match["step"])
        if step <= previous_step:  # a resumed run logs from its checkpoint's step again
            previous_step = step - 1
        total += (step - previous_step) * float(match["seconds"])
        points.append((step, parse_time(match["time"]), total))
        previous_step = step
    if first is None:
        raise ValueError(f"{path} has no timestamped lines; is it a gan_core.train log?")
    return first, points


def at_step(points, step, started):
    """Return ``(timestamp, training seconds)`` at ``step``, interpolated between logged steps.

    Before the first logged step, it interpolates from step 0 at ``started``.
    """
    before = [point for point in points if point[0] <= step]
    after = [point for point in points if point[0] >= step]
    if not before and not after:
        return None, None
    low = before[-1] if before else (0, started, 0.0)
    high = after[0] if after else before[-1]
    if high[0] == low[0]:
        return high[1], high[2]
    fraction = (step - low[0]) / (high[0] - low[0])
    return low[1] + (high[1] - low[1]) * fraction, low[2] + (high[2] - low[2]) * fraction


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.time_to_quality", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a gan_core.train run folder with checkpoints/ and train.log")
    parser.add_argument("--per-digit", type=int, default=100, help="samples per digit for each checkpoint (default 100)")
    parser.add_argument("--thresholds", default="0.95,0.99", help="agreement levels to report (default 0.95,0.99)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="two checkpoints, 10 samples per digit (smoke test)")
    parser.add_argument("--json", type=Path, help="also write every row to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoints = sorted((args.run / "checkpoints").glob("step_*.pt"))
    if not checkpoints:
        parser.error(f"no checkpoints in {args.run / 'checkpoints'}; train with --keep-checkpoints true")
    if args.quick:
        checkpoints, args.per_digit = checkpoints[-2:], 10
    thresholds = [float(value) for value in args.thresholds.split(",")]
    started, points = read_log(args.run / "train.log")

    rows, classifier = [], None
    for path in checkpoints:
        generator, state = load_generator(path)
        if classifier is None:
            classifier = load_classifier(default_classifier(state.get("train_config", {}).get("dataset", "mnist")))
        metrics = evaluate(generator, classifier, per_digit=args.per_digit,
                           dataset=state.get("train_config", {}).get("dataset", "mnist"))
        stamp, seconds = at_step(points, state["step"], started)
        weakest = min(metrics["per_digit"].items(), key=lambda item: item[1]["agreement"])
        rows.append({"step": state["step"], "training_minutes": seconds / 60 if seconds is not None else None,
                     "wall_minutes": (stamp - started).total_seconds() / 60 if stamp else None,
                     "agreement": metrics["agreement"], "weakest_digit": int(weakest[0]),
                     "weakest_agreement": weakest[1]["agreement"]})
        print(f"step {state['step']}: agreement {metrics['agreement']:.4f}", file=sys.stderr, flush=True)

    def minutes(value):
        return "" if value is None else f"{value:.1f}"

    print(f"Machine: {machine_description()}. Run: {args.run}. Agreement of {args.per_digit} samples per digit.\n")
    print(markdown_table(["step", "training min", "wall min", "agreement", "weakest digit"], [
        [f"{row['step']:,}", minutes(row["training_minutes"]), minutes(row["wall_minutes"]),
         f"{row['agreement']:.2%}", f"{row['weakest_digit']}: {row['weakest_agreement']:.1%}"] for row in rows]))
    print()
    reached = {}
    for threshold in thresholds:
        first = next((row for row in rows if row["agreement"] >= threshold), None)
        reached[threshold] = first
        if first is None:
            print(f"- {threshold:.0%} agreement: not reached by step {rows[-1]['step']:,}")
        else:
            print(f"- {threshold:.0%} agreement: step {first['step']:,}, after "
                  f"{minutes(first['training_minutes'])} training minutes ({minutes(first['wall_minutes'])} wall)")
    if args.json:
        write_json(args.json, {"machine": machine_description(), "run": str(args.run), "per_digit": args.per_digit,
                               "rows": rows, "first_reached": {str(key): value for key, value in reached.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
