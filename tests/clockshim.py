"""Run a module in a child process on the parent test's clock.

`python -m tests.clockshim -m MODULE ARGS…` travels to the moment in ZHIBU_TEST_CLOCK (set by
`tests.support.procs.clean_env` from the test's pinned clock), lets time run on from there, and
runs MODULE as `python -m MODULE ARGS…` would. Forked children (gunicorn workers) inherit it.
"""

from __future__ import annotations

import os
import runpy
import sys
from datetime import datetime

import time_machine

CLOCK_ENV = "ZHIBU_TEST_CLOCK"


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] != "-m":
        raise SystemExit("usage: python -m tests.clockshim -m MODULE [ARGS...]")
    module = sys.argv[2]
    moment = os.environ.get(CLOCK_ENV)
    if moment:
        time_machine.travel(datetime.fromisoformat(moment), tick=True).start()
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
