"""Time the demo incident: first failing probe → verified recovery, against its floor.

The floor is what the settings alone imply: failure threshold × probe interval (detection),
plus the restart the rollback performs (measured in the same run), plus the validation window.
Engine overhead is the time from the F-th failing probe to the rollback command starting.

Usage: python bench/demo_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from incident_commander.demo.scenario import DemoSettings, run_demo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    timings = DemoSettings()
    recover, floor, overhead = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            summary = run_demo(Path(tmp) / f"run-{n}", timings=timings)
            if not summary["recovered"]:
                print(f"run {n}: the service did not recover; {summary['needs']}")
                return 1
            restart = summary["restart_s"]
            implied = (
                timings.failure_threshold * timings.probe_interval_s
                + restart
                + timings.validation_window_s
            )
            recover.append(summary["time_to_recover_s"])
            floor.append(implied)
            overhead.append(summary["engine_overhead_ms"])
            print(
                f"run {n}: recovered in {summary['time_to_recover_s']:.3f} s "
                f"(floor {implied:.3f} s, restart {restart:.3f} s), "
                f"engine overhead {summary['engine_overhead_ms']:.1f} ms"
            )
    median_recover = statistics.median(recover)
    median_floor = statistics.median(floor)
    print(
        f"\nsettings: probe every {timings.probe_interval_s:g} s, "
        f"{timings.failure_threshold} failures in a row, "
        f"validation window {timings.validation_window_s:g} s; {args.runs} runs"
    )
    print(f"median first failing probe → recovery verified: {median_recover:.3f} s")
    print(f"median floor implied by the settings:          {median_floor:.3f} s")
    print(f"ratio (target <= 1.2):                          {median_recover / median_floor:.3f}")
    print(f"median engine overhead (target < 100 ms):       {statistics.median(overhead):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
