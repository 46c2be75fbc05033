"""Fault table: every injected fault, several seeds, through the real CLI."""

from rig.faultsuite import FAULTS, run_fault

SEEDS = (0, 1, 2)


def test_fault_table(tmp_path):
    print(f"\n{'fault':<36} {'runs':>4} {'switch left on':>14} {'wrap lit at end':>15} {'rows lost':>9} "
          f"{'outcome recorded':>24}")
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
        print(f"{fault.name:<36} {len(results):>4} {left_on:>14} {lit_text:>15} {lost:>9} "
              f"{'/'.join(outcomes) + ' + reason':>24}{note}")
    print("switch left on: the rig's power pin after the run (must be 0). wrap lit at end: the simulated truth; "
          "only a welded relay keeps the wrap lit, which no software can undo: the run stops and says so.")
    assert all_ok
