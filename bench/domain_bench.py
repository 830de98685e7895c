"""amount_due and milestones for 1,000,000 debts in the domain alone (goal: under 5 s).

Run: /work/venv/bin/python bench/domain_bench.py [--debts 1000000] [--seed 7]

The debts are a realistic mix: out-of-court fines from the fixed-penalty schedule served
over two years (most of the volume), fine warrants, admin fines, and tax and customs debts
with arbitrary amounts in cents (so their schedules are mostly cache misses).
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from debtbot.domain.amounts import amount_due
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import milestones

FIXED_PENALTIES = [Decimal(n) for n in (25, 30, 40, 50, 60, 85, 100, 150, 200, 250, 300, 500)]
ADMIN_FINES = [Decimal(n) for n in (750, 1500, 3000, 6000)]


def make_debts(count: int, rng: random.Random) -> list[Debt]:
    start = date(2025, 1, 1).toordinal()
    days = [date.fromordinal(start + offset) for offset in range(730)]
    debts = []
    for index in range(count):
        roll = rng.random()
        served = rng.choice(days)
        if roll < 0.70:
            debt = Debt(DebtKind.OUT_OF_COURT_FINE, f"O{index}", rng.choice(FIXED_PENALTIES),
                        served if rng.random() > 0.02 else None)
        elif roll < 0.80:
            debt = Debt(DebtKind.FINE_WARRANT, f"W{index}", rng.choice(FIXED_PENALTIES), served)
        elif roll < 0.85:
            debt = Debt(DebtKind.ADMIN_FINE, f"A{index}", rng.choice(ADMIN_FINES), served)
        elif roll < 0.95:
            cents = Decimal(rng.randrange(1_000, 2_000_000)).scaleb(-2)
            debt = Debt(DebtKind.TAX, f"T{index}", cents, None, due_on=served)
        else:
            cents = Decimal(rng.randrange(1_000, 2_000_000)).scaleb(-2)
            debt = Debt(DebtKind.CUSTOMS, f"C{index}", cents, served,
                        post_clearance=rng.random() < 0.3)
        debts.append(debt)
    return debts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    debts = make_debts(args.debts, rng)
    now = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    moments = [now - timedelta(hours=rng.randrange(0, 24 * 800)) for _ in range(1024)]

    # The debts are long-lived input: keep the collector off them, as a batch job would.
    gc.freeze()
    # Caches start empty: the figures include building every clock once.
    started, cpu_started = time.perf_counter(), time.process_time()
    total_milestones = 0
    for debt in debts:
        total_milestones += len(milestones(debt))
    after_milestones = time.perf_counter()
    payable = 0
    for index, debt in enumerate(debts):
        if amount_due(debt, moments[index & 1023]).payable:
            payable += 1
    finished, cpu_finished = time.perf_counter(), time.process_time()

    ms_time = after_milestones - started
    ad_time = finished - after_milestones
    mix = Counter(debt.kind.value for debt in debts)
    print(f"debts:          {len(debts):,}  ({', '.join(f'{k} {n:,}' for k, n in mix.items())})")
    print(f"milestones():   {ms_time:.2f} s  ({ms_time / len(debts) * 1e6:.2f} µs/debt,"
          f" {total_milestones:,} milestones)")
    print(f"amount_due():   {ad_time:.2f} s  ({ad_time / len(debts) * 1e6:.2f} µs/debt,"
          f" {payable:,} payable at their moment)")
    print(f"both, total:    {finished - started:.2f} s wall, {cpu_finished - cpu_started:.2f} s CPU"
          "  (goal: under 5 s)")


if __name__ == "__main__":
    main()
