#!/usr/bin/env python3
"""Summarises `ncu --csv --page raw` output: one line per kernel name with the median over its
launches of duration, DRAM bytes read and written, DRAM throughput (% of peak), achieved
occupancy, and the launch shape and registers of its last launch. Lines that are not ncu's CSV
(the program's own output) are skipped. With --by-total, kernels are sorted by the sum of their
durations (a whole training step: where its time goes) and that sum is printed too."""
import csv
import statistics
import sys


def main(path, by_total=False):
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]
    rows = list(csv.DictReader(lines))
    if not rows:
        print("   (no kernels profiled)")
        return 1
    rows = [r for r in rows if r.get("ID", "").isdigit()]  # drop the units row
    by_kernel = {}
    for r in rows:
        by_kernel.setdefault(r["Kernel Name"], []).append(r)

    def median(rs, key):
        values = []
        for r in rs:
            try:
                values.append(float(r[key].replace(",", "")))
            except (KeyError, ValueError):
                pass
        return statistics.median(values) if values else float("nan")

    def total(rs):
        return sum(float(r["gpu__time_duration.sum"].replace(",", "")) for r in rs if r.get("gpu__time_duration.sum")) / 1e3

    items = list(by_kernel.items())
    if by_total:
        items.sort(key=lambda item: -total(item[1]))
        print(f"   all kernels: {sum(total(rs) for _, rs in items):.1f} us over {len(rows)} launches")
    for name, rs in items:
        last = rs[-1]
        us = median(rs, "gpu__time_duration.sum") / 1e3  # ns → µs
        if by_total:
            print(f"   {total(rs):9.1f} us total", end="")
        read = median(rs, "dram__bytes_read.sum") / 1e6
        write = median(rs, "dram__bytes_write.sum") / 1e6
        print(f"   {name[:60]:60s} x{len(rs):<3d} {us:9.2f} us  dram r {read:8.2f} MB w {write:8.2f} MB"
              f"  {median(rs, 'dram__throughput.avg.pct_of_peak_sustained_elapsed'):5.1f}% peak"
              f"  occ {median(rs, 'sm__warps_active.avg.pct_of_peak_sustained_active'):5.1f}%"
              f"  regs {last.get('launch__registers_per_thread', '?')} grid {last.get('launch__grid_size', '?')}"
              f" block {last.get('launch__block_size', '?')} smem {last.get('launch__shared_mem_per_block_dynamic', '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], by_total="--by-total" in sys.argv[2:]))
