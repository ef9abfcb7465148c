"""Time the demo incident: first failing probe → verified recovery, against its floor.

The floor is what the settings alone imply: failure threshold × probe interval (detection),
plus the mitigation itself (its command's duration, measured in the same run: a restart, a flag
write, a migration), plus the validation window. Engine overhead is the time from the F-th
failing probe to the mitigation starting; readiness is the part of it the option's own checks
took (a dry run, a tool asked for its state), shown apart because the tool, not the engine,
sets it.

Usage: python bench/demo_speed.py [--runs N] [--scenario NAME ...]
       (scenarios: bad-deploy, bad-flag, bad-migration; default bad-deploy)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from incident_commander.demo.scenario import DemoSettings, run_demo
from incident_commander.demo.scenarios import SCENARIOS


def _measure(name: str, runs: int, timings: DemoSettings, tmp: Path) -> dict[str, float] | None:
    recover, floor, overhead, readiness = [], [], [], []
    for n in range(runs):
        summary = run_demo(tmp / f"{name}-{n}", timings=timings, scenario=name)
        if not summary["recovered"]:
            print(f"{name} run {n}: the service did not recover; {summary['needs']}")
            return None
        restart = summary["restart_s"]
        implied = (
            timings.failure_threshold * timings.probe_interval_s
            + restart
            + timings.validation_window_s
        )
        recover.append(summary["time_to_recover_s"])
        floor.append(implied)
        overhead.append(summary["engine_overhead_ms"])
        readiness.append(summary["readiness_ms"] or 0.0)
        print(
            f"{name} run {n}: recovered in {summary['time_to_recover_s']:.3f} s "
            f"(floor {implied:.3f} s, mitigation {restart:.3f} s), "
            f"engine overhead {summary['engine_overhead_ms']:.1f} ms "
            f"(readiness {summary['readiness_ms'] or 0:.1f} ms)"
        )
    return {
        "recover": statistics.median(recover),
        "floor": statistics.median(floor),
        "overhead": statistics.median(overhead),
        "readiness": statistics.median(readiness),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeat for several"
    )
    args = parser.parse_args()
    names = args.scenario or ["bad-deploy"]
    timings = DemoSettings()
    found: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            medians = _measure(name, args.runs, timings, Path(tmp))
            if medians is None:
                return 1
            found[name] = medians
    print(
        f"\nsettings: probe every {timings.probe_interval_s:g} s, "
        f"{timings.failure_threshold} failures in a row, "
        f"validation window {timings.validation_window_s:g} s; {args.runs} runs each"
    )
    print(
        f"{'scenario':<15} {'median recovery':>16} {'median floor':>13} "
        f"{'ratio (<= 1.0)':>15} {'engine overhead':>16} {'of it readiness':>16}"
    )
    for name, m in found.items():
        print(
            f"{name:<15} {m['recover']:>14.3f} s {m['floor']:>11.3f} s "
            f"{m['recover'] / m['floor']:>15.3f} {m['overhead']:>13.1f} ms "
            f"{m['readiness']:>13.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
