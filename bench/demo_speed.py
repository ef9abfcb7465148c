"""Time the demo incident: first failing probe → verified recovery, against its floor.

The floor is what the settings and the option's own tool imply: failure threshold × probe
interval (detection), plus the option's readiness checks (the protocol asks them before any
approval: a dry run, a tool asked for its state; measured in the same run), plus the mitigation
itself (its command's duration, measured in the same run: a restart, a flag write, a migration),
plus the validation window. Engine overhead is the time from the F-th failing probe to the
mitigation starting; readiness is the part of it the option's own checks took, shown apart
because the tool, not the engine, sets it: the ratio is above 1.0 only when the engine adds
time of its own.

With ``--deploy-aware`` each scenario also runs with deploy-aware probing (``probe.after_deploy``:
every 0.1 s, 2 failures in a row for a minute after a deploy) on the same settings otherwise,
and time-to-detect and time-to-recover are printed side by side. With ``--healthy-deploys N``
it then records N deploys of a healthy service whose probe fails at random 5% of the time,
watches each for its after-deploy window, and prints the incidents opened (false positives);
it exits 1 if there is any.

Usage: python bench/demo_speed.py [--runs N] [--scenario NAME ...] [--deploy-aware]
                                  [--healthy-deploys N] [--deploy-window S]
       (scenarios: bad-deploy, bad-flag, bad-migration; default bad-deploy)
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
from pathlib import Path

from flaky_deploys import healthy_deploys
from incident_commander.demo.scenario import DemoSettings, run_demo
from incident_commander.demo.scenarios import SCENARIOS

Medians = dict[str, float]


def _detection_floor(timings: DemoSettings) -> float:
    if timings.deploy_window_s is not None:
        return timings.deploy_failure_threshold * timings.deploy_probe_interval_s
    return timings.failure_threshold * timings.probe_interval_s


def _measure(name: str, runs: int, timings: DemoSettings, tmp: Path) -> Medians | None:
    detect, recover, floor, overhead, readiness = [], [], [], [], []
    label = "deploy-aware" if timings.deploy_window_s is not None else "normal"
    for n in range(runs):
        summary = run_demo(tmp / f"{name}-{label}-{n}", timings=timings, scenario=name)
        if not summary["recovered"]:
            print(f"{name} run {n}: the service did not recover; {summary['needs']}")
            return None
        restart = summary["restart_s"]
        checks = (summary["readiness_ms"] or 0.0) / 1000
        implied = _detection_floor(timings) + checks + restart + timings.validation_window_s
        detect.append(summary["time_to_detect_s"])
        recover.append(summary["time_to_recover_s"])
        floor.append(implied)
        overhead.append(summary["engine_overhead_ms"])
        readiness.append(summary["readiness_ms"] or 0.0)
        print(
            f"{name} run {n} ({summary['probing']}): detected in "
            f"{summary['time_to_detect_s']:.3f} s, recovered in "
            f"{summary['time_to_recover_s']:.3f} s "
            f"(floor {implied:.3f} s, readiness {checks:.3f} s, mitigation {restart:.3f} s), "
            f"engine overhead {summary['engine_overhead_ms']:.1f} ms "
            f"(readiness {summary['readiness_ms'] or 0:.1f} ms)"
        )
    return {
        "detect": statistics.median(detect),
        "recover": statistics.median(recover),
        "floor": statistics.median(floor),
        "overhead": statistics.median(overhead),
        "readiness": statistics.median(readiness),
    }


def _speed_table(found: dict[str, Medians], timings: DemoSettings, runs: int) -> None:
    print(
        f"\nsettings: probe every {timings.probe_interval_s:g} s, "
        f"{timings.failure_threshold} failures in a row, "
        f"validation window {timings.validation_window_s:g} s; {runs} runs each"
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


def _deploy_aware_table(
    normal: dict[str, Medians], aware: dict[str, Medians], timings: DemoSettings
) -> None:
    print(
        f"\ndeploy-aware probing: every {timings.deploy_probe_interval_s:g} s, "
        f"{timings.deploy_failure_threshold} in a row for {timings.deploy_window_s:g} s after "
        f"a deploy (normal: every {timings.probe_interval_s:g} s, "
        f"{timings.failure_threshold} in a row); medians"
    )
    print(
        f"{'scenario':<15} {'detect':>9} {'deploy-aware':>13} {'recover':>9} {'deploy-aware':>13}"
    )
    for name, m in normal.items():
        a = aware[name]
        print(
            f"{name:<15} {m['detect']:>7.3f} s {a['detect']:>11.3f} s "
            f"{m['recover']:>7.3f} s {a['recover']:>11.3f} s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeat for several"
    )
    parser.add_argument(
        "--deploy-aware", action="store_true", help="also run with deploy-aware probing"
    )
    parser.add_argument(
        "--healthy-deploys", type=int, default=0, metavar="N", help="false positives over N"
    )
    parser.add_argument("--deploy-window", type=float, default=3.0, metavar="S")
    args = parser.parse_args()
    names = args.scenario or ["bad-deploy"]
    timings = DemoSettings()
    aware_timings = dataclasses.replace(timings, deploy_window_s=60.0)
    found: dict[str, Medians] = {}
    aware: dict[str, Medians] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            medians = _measure(name, args.runs, timings, Path(tmp))
            if medians is None:
                return 1
            found[name] = medians
            if args.deploy_aware:
                medians = _measure(name, args.runs, aware_timings, Path(tmp))
                if medians is None:
                    return 1
                aware[name] = medians
    _speed_table(found, timings, args.runs)
    if args.deploy_aware:
        _deploy_aware_table(found, aware, aware_timings)
    if args.healthy_deploys > 0:
        run = healthy_deploys(args.healthy_deploys, window_s=args.deploy_window)
        print()
        print("\n".join(run.lines()))
        if run.incidents:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
