"""Machine header: what the numbers below were measured on.

Speed numbers mean nothing without the CPU, core count, torch build and thread count, and on a
shared machine the load average tells a reader whether to trust them.
"""

from __future__ import annotations

import datetime
import os
import platform

from benchmarks.common import Options, Row


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else whatever platform reports."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
                    name = line.split(":", 1)[1].strip()
                    if name and not name.isdigit():
                        return name
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return f"cuda: {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "cuda (not available)"
    return device


def load_average() -> str:
    """1, 5 and 15-minute load averages: near 0 on a quiet machine, near the core count when busy."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def rows(options: Options) -> list[Row]:
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        Row("machine", "CPU", cpu_model()),
        Row("machine", "cores (usable / online)", f"{usable} / {os.cpu_count()}"),
        Row("machine", "torch", f"{torch.__version__} (Python {platform.python_version()})"),
        Row("machine", "torch threads", str(torch.get_num_threads())),
        Row("machine", "device", device_name(options.device)),
        Row("machine", "load average (1, 5, 15 min) at start", load_average(),
            "well above 0: other processes shared the CPU; timings are then noisy"),
        Row("machine", "date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
    ]
