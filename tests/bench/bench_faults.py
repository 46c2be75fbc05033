"""Fault table: every injected fault, every interruption from outside, several seeds, through the real CLI."""

from support.faultsuite import FAULTS, run_fault
from support.interruptions import BESIDE, INTERRUPTIONS, run_beside, run_interrupted

SEEDS = (0, 1, 2)
HEADER = (f"{'fault':<44} {'runs':>4} {'switch left on':>14} {'wrap lit at end':>15} {'rows lost':>9} "
          f"{'outcome recorded':>26}")


def test_fault_table(tmp_path):
    print("\n" + HEADER)
    all_ok = True
    for index, fault in enumerate(FAULTS):
        results = [run_fault(fault, tmp_path / f"{index}-{seed}", seed) for seed in SEEDS]
        left_on = sum(r.switch_left_on for r in results)
        lit = sum(r.wrap_lit_at_end for r in results)
        lost = sum(r.rows_lost for r in results)
        outcomes = sorted({r.outcome for r in results})
        ok = all(r.as_expected for r in results)
        all_ok &= ok
        note = "" if ok else "  <-- NOT AS EXPECTED: " + "; ".join(r.reason for r in results)
        lit_text = f"{lit} (reported)" if fault.wrap_lit_at_end else str(lit)
        print(f"{fault.name:<44} {len(results):>4} {left_on:>14} {lit_text:>15} {lost:>9} "
              f"{'/'.join(outcomes) + ' + reason':>26}{note}")
    print("switch left on: the rig's power pin after the run (must be 0). wrap lit at end: the simulated truth; "
          "only a welded relay keeps the wrap lit, which no software can undo: the run stops and says so.")
    assert all_ok


def test_interruption_table(tmp_path):
    print(f"\n{'interruption of a running rig run':<44} {'runs':>4} {'switch left on':>14} {'exit codes':>10} "
          f"{'rows csv = run.json':>19} {'outcome recorded':>24}")
    all_ok = True
    for index, interruption in enumerate(INTERRUPTIONS):
        results = [run_interrupted(interruption, tmp_path / f"{index}-{seed}", seed) for seed in SEEDS]
        left_on = sum(r.switch_left_on or r.wrap_lit_at_end for r in results)
        codes = "/".join(str(c) for c in sorted({r.exit_code for r in results}))
        rows = "folder gone" if not interruption.csv_kept else \
            f"{sum(r.rows_in_csv == r.rows_recorded for r in results)}/{len(results)}"
        outcomes = "/".join(sorted({r.outcome for r in results}))
        problems = [p for r in results for p in r.problems]
        all_ok &= not problems
        note = "" if not problems else "  <-- NOT AS EXPECTED: " + "; ".join(problems)
        print(f"{interruption.name:<44} {len(results):>4} {left_on:>14} {codes:>10} {rows:>19} "
              f"{outcomes + ' + reason':>24}{note}")
    for index, name in enumerate(BESIDE):
        results = [run_beside(name, tmp_path / f"beside{index}-{seed}", seed) for seed in SEEDS]
        codes = "/".join(str(c) for c in sorted({r.exit_code for r in results}))
        first = "/".join(sorted({r.run.outcome for r in results}))
        problems = [p for r in results for p in r.problems]
        all_ok &= not problems
        note = "" if not problems else "  <-- NOT AS EXPECTED: " + "; ".join(problems)
        left_on = sum(r.run.switch_left_on for r in results)
        print(f"{name:<44} {len(results):>4} {left_on:>14} {codes:>10} {'(first run) ' + first:>44}{note}")
    print("exit codes: of the interrupted run (3 = ABORTED/ERROR); for the last two rows, of the second command "
          "(2 = refused, 0 = done) while the first run went on undisturbed.")
    assert all_ok


def test_signal_storm_table(tmp_path):
    """2-5 stop signals at seeded random moments, to the pid or the process group, per command (child
    processes): the pin's own log must end off, a run's record must match it and give the exit code."""
    from support.signal_storms import COMMANDS, run_storm, storm

    per_command = 24
    print(f"\n{'signal storms':<18} {'storms':>6} {'hit':>4} {'to group':>8} {'pin left on':>11} "
          f"{'record wrong':>12} {'exit codes':>10} {'problems':>8}")
    all_ok = True
    rows = [(command, False) for command in COMMANDS] + [(command, True) for command in ("run", "read", "calibrate")]
    for command, welded in rows:
        results = [run_storm(storm(command, seed, welded=welded), tmp_path / f"{command}-{welded}-{seed}")
                   for seed in range(per_command // 2 if welded else per_command)]
        command = f"{command}{' welded' if welded else ''}"
        hit = sum(bool(r.sent) for r in results)
        group = sum(r.storm.target == "group" for r in results)
        left_on = sum(r.final_power != "off" for r in results)
        wrong = sum(any("run.json" in p or "rows" in p for p in r.problems) for r in results)
        codes = "/".join(str(c) for c in sorted({r.exit_code for r in results}))
        problems = [f"{r.storm.name}: {'; '.join(r.problems)}" for r in results if r.problems]
        all_ok &= not problems
        print(f"{command:<18} {len(results):>6} {hit:>4} {group:>8} {left_on:>11} {wrong:>12} {codes:>10} "
              f"{len(problems):>8}")
        for problem in problems:
            print(f"    <-- {problem}")
    print("hit: storms whose signals were sent before the command ended; pin left on: the simulated power pin's "
          "own log ends on; record wrong: run.json differs from the pin or samples.csv; welded: the relay is welded "
          "on, every storm must still end with WRAP STILL LIT (exit 3, in run.json for a run).")
    assert all_ok
