"""Markdown tables and the machine description shared by the benchmark commands."""

import os
import platform

import torch


def machine_description():
    return f"{platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}, torch {torch.__version__}"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def load_table(measurements):
    """Format one row per server and concurrency: rate, latency percentiles and failed requests."""
    rows = []
    for measurement in measurements:
        for concurrency, result in measurement.medians.items():
            rows.append([measurement.name, concurrency, f"{result.requests_per_second:,.1f}", f"{result.p50_ms:.1f}",
                         f"{result.p95_ms:.1f}", f"{result.p99_ms:.1f}", failures(result)])
    return markdown_table(["server", "concurrency", "req/s", "p50 ms", "p95 ms", "p99 ms", "failed requests"], rows)


def failures(result):
    """Describe failed requests, summed over every repeat; 0 when there were none."""
    if not result.responses:
        # wrk reports zero latencies when nothing came back; the row's figures mean nothing.
        return f"**no response completed** ({result.socket_errors} socket errors or timeouts)"
    if not result.failed:
        return "0"
    parts = []
    if result.unexpected_status:
        parts.append(f"{result.unexpected_status} unexpected status")
    if result.socket_errors:
        parts.append(f"{result.socket_errors} socket errors or timeouts")
    return f"**{result.failed}** ({', '.join(parts)})"


def ratio(numerator, denominator):
    return f"{numerator / denominator:.2f}" if denominator else "n/a"
