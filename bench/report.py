"""Rows of figures against targets, printed as they come and written as a Markdown table."""

import collections
import datetime
import os
import platform

Row = collections.namedtuple("Row", "target what figure bound ok")


def mib(kib):
    return "%.2f MiB" % (kib / 1024)


def ms(seconds, digits=2):
    return "%.*f ms" % (digits, seconds * 1000)


def verdict(row):
    if row.ok == "":
        return ""
    if row.ok is None:
        return "N/A"
    return "PASS" if row.ok else "FAIL"


def print_row(row):
    print("%-4s %-2s %-78s %-26s %s" % (verdict(row), row.target, row.what, row.figure,
                                         row.bound), flush=True)


def machine():
    """nproc, CPU model, memory, kernel: what the figures depend on."""
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        total_kib = int(f.readline().split()[1])
    with open("/etc/debian_version") as f:
        debian = f.read().strip()
    return "%d CPUs (nproc), %s, %.1f GiB RAM, Linux %s, Debian %s" % (
        os.cpu_count(), model, total_kib / 1024 / 1024, platform.release(), debian)


def markdown(rows, command, started, load, notes):
    failed = [r for r in rows if r.ok is False]
    lines = [
        "# Performance",
        "",
        "Written by `%s` (do not edit by hand: run it again)." % command,
        "Benchmarks, not tests: nothing here is asserted by the test suite; the command",
        "prints PASS/FAIL against the targets of issues 4 (rows 1-6) and 11 (rows #11) and",
        "exits non-zero on any FAIL.",
        "",
        "- date: %s" % started.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        "- machine: %s" % machine(),
        "- load average when the run started: %s" % load,
        "- verdict: %s" % ("PASS, every target met" if not failed else
                           "FAIL: %d target(s) missed" % len(failed)),
        "",
        "| # | measure | figure | target | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append("| %s | %s | %s | %s | %s |" % (r.target, r.what.replace("|", "\\|"),
                                                     r.figure, r.bound, verdict(r)))
    lines += ["", "## How each figure is measured", ""] + notes
    return "\n".join(lines) + "\n"


def now():
    return datetime.datetime.now(datetime.timezone.utc)
