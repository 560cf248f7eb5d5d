#!/usr/bin/env python3
"""bench/summarize.py OUT_DIR SWEEP_POINTS SIZES SMALLEST BIGGEST

Reads OUT_DIR/results.txt (one "tag=... label=... key=value ..." line per figure, written by
bench/run), prints the summary as Markdown (every cashd figure as a ratio to its reference, against
the targets of issue 7) and writes OUT_DIR/sweep.dat for the gnuplot plot.
"""

import os
import statistics
import sys


def read_lines(path):
    lines = []
    with open(path, encoding="utf-8") as results:
        for text in results:
            fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
            if "label" in fields:
                lines.append(fields)
    return lines


def number(fields, key):
    try:
        return float(fields[key])
    except (KeyError, ValueError):
        return None


def values(lines, label, key, tag_prefix):
    found = []
    for fields in lines:
        if fields.get("label") == label and fields.get("tag", "").startswith(tag_prefix):
            value = number(fields, key)
            if value is not None:
                found.append(value)
    return found


def median(found):
    return statistics.median(found) if found else None


def show(value, digits=1):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def spread(found, digits=1):
    """The median and, with several runs, the range: "1,234 (1,100–1,300)"."""
    if not found:
        return "—"
    text = show(median(found), digits)
    if len(found) > 1:
        text += f" ({show(min(found), digits)}–{show(max(found), digits)})"
    return text


def ratio(top, bottom):
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom


def verdict(value, target, at_least):
    if value is None:
        return "not measured"
    met = value >= target if at_least else value <= target
    return "met" if met else "missed"


def per_round(lines, label, key):
    """{round tag: value} of the round lines of label."""
    found = {}
    for fields in lines:
        tag = fields.get("tag", "")
        if fields.get("label") == label and tag.startswith("round"):
            value = number(fields, key)
            if value is not None:
                found[tag] = value
    return found


def round_ratios(lines, top_label, bottom_label, key):
    """The ratio of two figures within each round (both measured minutes apart at most)."""
    top = per_round(lines, top_label, key)
    bottom = per_round(lines, bottom_label, key)
    return [top[tag] / bottom[tag] for tag in sorted(top) if bottom.get(tag)]


def headline(lines, smallest, biggest):
    out = ["| figure | cashd | reference | ratio | target | verdict |",
           "|---|---|---|---|---|---|"]

    def row(name, top, bottom, key, target_text, target, at_least=True, digits=1):
        top_values = list(per_round(lines, top, key).values())
        bottom_values = list(per_round(lines, bottom, key).values())
        ratios = round_ratios(lines, top, bottom, key)
        value = median(ratios)
        out.append(f"| {name} | {spread(top_values, digits)} | {spread(bottom_values, digits)} "
                   f"| {spread(ratios, 2)} | {target_text} | "
                   f"{verdict(value, target, at_least) if target is not None else 'info'} |")

    row("withdrawals/s over HTTP (SQLite, 1,000 accounts, 64 conn) ÷ raw SQLite 64/commit",
        "withdraw", "sqlite-64", "throughput", "≥ 0.7", 0.7)
    row("same ÷ raw SQLite 1/commit", "withdraw", "sqlite-1", "throughput", "", None)
    row("withdrawals/s on one hot account ÷ raw SQLite 64/commit", "hot", "sqlite-64",
        "throughput", "", None)
    row("authenticated balance reads/s (64 conn) ÷ nginx static req/s (wrk)", "balance",
        "nginx-wrk", "throughput", "≥ 0.25", 0.25)
    row("withdrawals/s, 3 cashd on PostgreSQL (63 conn) ÷ pgbench one-statement tps "
        "(16 clients)", "cashd-pg-3-processes", "pg-one-statement", "throughput", "≥ 0.9", 0.9)
    for kind in ("list", "history"):
        row(f"{kind} page p50 ms at {int(biggest):,} rows ÷ at {int(smallest):,} rows "
            f"(1 conn each, both at once)", f"{kind}-{biggest}", f"{kind}-{smallest}", "p50_ms",
            "≤ 1.5", 1.5, False, 3)
    rss_mib = [value / 1024 for value in values(lines, "cashd-rss", "rss_kib", "rss")]
    out.append(f"| cashd resident memory, 256 open connections (MiB) | {spread(rss_mib)} | — | — "
               f"| ≤ 64 | {verdict(median(rss_mib), 64, False)} |")
    half = values(lines, "withdraw-half-peak", "p50_ms", "half")
    peaks = values(lines, "withdraw-peak", "throughput", "half")
    out.append(f"| p50 ms of withdrawals at half the peak rate (SQLite; peak {spread(peaks)}/s) "
               f"| {spread(half, 3)} | — | — | ≤ 2 | {verdict(median(half), 2, False)} |")
    out += ["", "Ratios are taken within each round, then their median (range in brackets); cashd "
            "and reference columns are the medians of the rounds' own figures.", "",
            "Load generator check (its ceiling must sit far above cashd's figures):", ""]
    engine = round_ratios(lines, "engine-static", "nginx-wrk", "throughput")
    static = list(per_round(lines, "engine-static", "throughput").values())
    signed = list(per_round(lines, "engine-signed", "throughput").values())
    wrk = list(per_round(lines, "nginx-wrk", "throughput").values())
    out.append(f"- cashbench on nginx, unsigned: {spread(static)} req/s; wrk: {spread(wrk)} "
               f"req/s; ratio {spread(engine, 2)}")
    out.append(f"- cashbench on nginx, every request signed: {spread(signed)} req/s")
    return out


def sweep(lines, points, directory):
    """Medians over the sweep rounds of each scenario at each number of connections."""
    labels = ["balance", "withdraw", "hot", "list", "history"]
    out = ["| connections | " + " | ".join(f"{label} req/s (p50 ms)" for label in labels) + " |",
           "|---" * (len(labels) + 1) + "|"]
    data = ["# connections " + " ".join(f"{label}_rps {label}_p50_ms" for label in labels)]
    for point in points:
        cells = []
        columns = []
        for label in labels:
            match = [fields for fields in lines if fields.get("tag", "").startswith("sweep") and
                     fields.get("label") == label and fields.get("connections") == point]
            rps = median([number(fields, "throughput") for fields in match])
            answered = [fields for fields in match if number(fields, "ok")]
            p50 = median([number(fields, "p50_ms") for fields in answered])
            cells.append(f"{show(rps)} ({show(p50, 2)})")
            columns.append(f"{rps if rps is not None else 'NaN'} {p50 if p50 is not None else 'NaN'}")
        out.append(f"| {point} | " + " | ".join(cells) + " |")
        data.append(f"{point} " + " ".join(columns))
    with open(os.path.join(directory, "sweep.dat"), "w", encoding="utf-8") as file:
        file.write("\n".join(data) + "\n")
    return out


def sizes_table(lines, sizes):
    kinds = ["list-first", "history-first", "list-deep", "history-deep"]
    out = ["| rows | first list page | first history page | list page at startKey = middle "
           "| history page at offset = rows/2 |", "|---|---|---|---|---|"]
    for size in sizes:
        cells = []
        for kind in kinds:
            found = [fields for fields in lines if fields.get("tag") == "size" and
                     fields.get("label") == f"{kind}-{size}"]
            p50 = number(found[-1], "p50_ms") if found else None
            ok = number(found[-1], "ok") if found else None
            if not found:
                cells.append("—")
            elif not ok:
                cells.append(f"no answer within {found[-1].get('seconds')} s")
            else:
                cells.append(f"{show(p50, 3)} ms")
        out.append(f"| {int(size):,} | " + " | ".join(cells) + " |")
    return out


def data_lines(lines):
    out = []
    for fields in lines:
        if fields.get("tag") in ("seed", "seed-cached", "check"):
            out.append("- " + " ".join(f"{k}={v}" for k, v in fields.items() if k != "tag"))
    return out


def problems(lines):
    out = []
    for fields in lines:
        target = number(fields, "rate_target")
        achieved = number(fields, "throughput")
        if target and achieved is not None and achieved < 0.9 * target:
            out.append(f"- {fields.get('tag')} {fields.get('label')}: asked {target:.0f}/s, the "
                       f"server sustained {achieved:.0f}/s (its queue grew: latency counts it)")
        if number(fields, "ok") == 0 and number(fields, "sent"):
            out.append(f"- {fields.get('tag')} {fields.get('label')} connections="
                       f"{fields.get('connections')}: no answer at all within "
                       f"{fields.get('seconds')} s ({fields.get('sent')} requests sent)")
        errors = number(fields, "errors")
        if errors:
            out.append(f"- {fields.get('tag')} {fields.get('label')} connections="
                       f"{fields.get('connections')}: {int(errors)} failed answers "
                       f"(first status {fields.get('first_error')})")
    return out


def main():
    directory, points, sizes, smallest, biggest = sys.argv[1:6]
    lines = read_lines(os.path.join(directory, "results.txt"))
    report = ["# cashd benchmark summary", ""]
    with open(os.path.join(directory, "machine.txt"), encoding="utf-8") as machine:
        report += ["```", machine.read().rstrip(), "```", ""]
    report += ["## Targets (medians of the rounds; range in brackets)", ""]
    report += headline(lines, smallest, biggest)
    report += ["", "## Throughput against concurrency (medians of the rounds; p50 of answered runs)", ""]
    report += sweep(lines, points.split(), directory)
    report += ["", "## Page latency (p50, 1 connection) against data size", ""]
    report += sizes_table(lines, sizes.split())
    report += ["", "## Data and checks", ""] + data_lines(lines)
    trouble = problems(lines)
    report += ["", "## Failed answers", ""] + (trouble if trouble else ["none"])
    print("\n".join(report))


if __name__ == "__main__":
    main()
