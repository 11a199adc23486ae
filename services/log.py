"""Structured one-line logs on stderr (supervisord keeps them; `opensessions logs` shows them)."""
from __future__ import annotations

import sys
import time

_service = "opensessions"


def configure(service: str) -> None:
    global _service
    _service = service


def _fmt(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def log(level: str, event: str, **fields: object) -> None:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    parts = [stamp, f"level={level}", f"svc={_service}", f"event={event}"]
    parts += [f"{k}={_fmt(v)}" for k, v in fields.items()]
    try:
        sys.stderr.write(" ".join(parts) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # a closed stderr must never take a service down


def info(event: str, **fields: object) -> None:
    log("info", event, **fields)


def warn(event: str, **fields: object) -> None:
    log("warn", event, **fields)


def error(event: str, **fields: object) -> None:
    log("error", event, **fields)
