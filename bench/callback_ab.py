"""Is a change faster? The check-in callback of two versions of the app, in alternating rounds.

    .venv/bin/python bench/callback_ab.py                    # HEAD against the working tree
    .venv/bin/python bench/callback_ab.py --base 831c8cb --rounds 4 --duration 10
    .venv/bin/python bench/callback_ab.py --base HEAD~3 --head HEAD

One machine's figures drift from minute to minute by more than most changes move them, so one
run of each version, one after the other, says little. This runs the two versions in rounds
(A B, then B A, …), each on a fresh copy of one seeded SQLite database with the same members,
under the same gunicorn settings as bench/callback_bench.py, and reports each round and the
medians: requests/s, p50 and p99, server CPU per check-in and its kernel share, and the
ratio head/base of each. Each version's tree is `git archive`d into a temporary folder
(``--head`` defaults to the working tree itself, uncommitted changes included); both must
read the same database schema. The database is seeded once with the working tree's code.

Every phase must answer every request with a check-in success (bench/callbacks.lua checks the
body), and its database must then hold one check-in per answered request.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from callback_bench import (  # noqa: E402 - after the path set-up
    Phase,
    Server,
    copy_sqlite,
    count_sqlite,
    ensure_wrk,
    ms,
    prepare_database,
    run_wrk,
    smoke_checkin,
    write_requests,
)

CONTENT = "学习 第{n}次学习心得：今天读了党章第一章，很有收获。"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", default="HEAD", help="git ref of version A (default: HEAD)")
    p.add_argument(
        "--head", default="", help="git ref of version B (default: the working tree, as it is)"
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds; each runs A and B once")
    p.add_argument("--duration", type=float, default=8, help="measured seconds per phase")
    p.add_argument("--warmup", type=float, default=2, help="warm-up seconds per phase")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-class", choices=["gthread", "sync"], default="gthread")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--timeout", type=int, default=5, help="wrk timeout in s: WeChat's deadline")
    p.add_argument("--members", type=int, default=40000, help="bound members in the database")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args(argv)
    args.profile = 0
    if args.duration + args.warmup > 240:
        p.error("a phase must stay under 240 s: its requests are signed right before it")
    return args


def export_tree(ref: str, target: Path) -> Path:
    """``git archive`` of ref into target; the working tree itself for ''."""
    if not ref:
        return ROOT
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def label(ref: str) -> str:
    if not ref:
        described = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        )
        return f"working tree ({described.stdout.strip()})"
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref],
        capture_output=True,
        text=True,
        check=True,
    )
    return f"{ref} ({rev.stdout.strip()})"


def phase(
    name: str,
    tree: Path,
    seed: Path,
    folder: Path,
    creds: dict[str, str],
    openids: list[str],
    wrk: str,
    args: Any,
) -> Phase:
    """One version on a fresh copy of the seeded database: a pre-flight check-in, a warm-up,
    then the measured run, each with requests of their own."""
    from bot.simulate import CallbackDriver

    folder.mkdir()
    db_path = folder / "db.sqlite"
    copy_sqlite(str(seed), db_path)
    config = folder / "config.toml"
    config.write_text(
        "[app]\n"
        f'secret_key = "{secrets.token_hex(16)}"\n'
        'log_level = "WARNING"\n'
        "[database]\n"
        f'url = "sqlite:///{db_path}"\n'
        "[wechat]\n"
        'mode = "safe"\n'
        f'token = "{creds["token"]}"\nencoding_aes_key = "{creds["aes_key"]}"\n'
        f'app_id = "{creds["app_id"]}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    env.update(ZHIBU_CONFIG=str(config), PYTHONPATH=str(tree))
    server = Server(name, "app:create_app()", tree, env, args, folder / "server.log")
    try:
        server.wait_ready()
        driver = CallbackDriver(**creds, url=server.url + "/wechat")
        probe = smoke_checkin(driver, openids[0])
        n_warm = int(len(openids) * args.warmup / (args.warmup + args.duration))
        warm, run = openids[1 : 1 + n_warm], openids[1 + n_warm :]
        if args.warmup > 0:
            write_requests(driver, folder / "warmup.txt", warm, CONTENT)
            run_wrk(wrk, server, folder / "warmup.txt", args.warmup, args)
        write_requests(driver, folder / "run.txt", run, CONTENT)
        result = run_wrk(wrk, server, folder / "run.txt", args.duration, args)
    finally:
        server.stop()
    problems = server.log_problems()
    counts = count_sqlite(db_path, probe)
    data = result.data
    if data["wrapped"] or data["non200"] or data["badbody"] or result.socket_errors:
        raise SystemExit(f"{name}: the run had errors or ran out of members: {data}")
    if problems["tracebacks"] or problems["worker_timeouts"]:
        raise SystemExit(f"{name}: the server log shows {problems} ({folder / 'server.log'})")
    if counts["checkins"] != counts["distinct_members"] or counts["two_a_day"]:
        raise SystemExit(f"{name}: some member has two check-ins on one day: {counts}")
    return result


def line(name: str, p: Phase) -> str:
    kernel = 100 * p.server_sys_s / max(p.server_cpu_s, 1e-9)
    return (
        f"{name:>5}: {p.rps:7.1f} req/s  p50 {ms(p.data['p50'])}  p99 {ms(p.data['p99'])}  "
        f"server CPU {p.cpu_ms_per_request:.2f} ms/check-in ({kernel:.0f}% kernel)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="zhibu-ab-"))
    creds = {
        "token": secrets.token_hex(8),
        "aes_key": secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:43],
        "app_id": "wxab" + secrets.token_hex(5),
    }
    try:
        trees = {
            "A": export_tree(args.base, tmp / "tree-a"),
            "B": export_tree(args.head, tmp / "tree-b"),
        }
        print(f"A = {label(args.base)}\nB = {label(args.head)}", flush=True)
        seed = tmp / "seed.sqlite"
        (tmp / "seed.toml").write_text(
            f'[app]\nsecret_key = "{secrets.token_hex(16)}"\nlog_level = "WARNING"\n'
            f'[database]\nurl = "sqlite:///{seed}"\n'
        )
        for key in [k for k in os.environ if k.startswith("ZHIBU_")]:
            del os.environ[key]
        os.environ["ZHIBU_CONFIG"] = str(tmp / "seed.toml")
        from app import create_app
        from models.base import db

        t0 = time.monotonic()
        openids = prepare_database(create_app(), args.members, 50, reset=False)
        db.close_all()
        print(f"seeded {len(openids)} bound members in {time.monotonic() - t0:.1f}s", flush=True)

        results: dict[str, list[Phase]] = {"A": [], "B": []}
        for r in range(args.rounds):
            order = ("A", "B") if r % 2 == 0 else ("B", "A")
            for name in order:
                p = phase(name, trees[name], seed, tmp / f"{name}-{r}", creds, openids, wrk, args)
                results[name].append(p)
                print(f"round {r + 1} {line(name, p)}", flush=True)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    def median(name: str, figure: Any) -> float:
        return statistics.median(figure(p) for p in results[name])

    figures = {
        "requests/s": lambda p: p.rps,
        "p50 ms": lambda p: p.data["p50"] / 1000,
        "p99 ms": lambda p: p.data["p99"] / 1000,
        "server CPU ms/check-in": lambda p: p.cpu_ms_per_request,
    }
    print(
        f"\nmedians of {args.rounds} rounds, wrk {args.connections} connections × "
        f"{args.duration:g} s after {args.warmup:g} s, gunicorn -w {args.workers} "
        f"-k {args.worker_class}" + (f" --threads {args.threads}" if args.threads else "")
    )
    print(f"{'':24}{'A':>10}{'B':>10}{'B/A':>8}")
    for title, figure in figures.items():
        a, b = median("A", figure), median("B", figure)
        print(f"{title:24}{a:10.2f}{b:10.2f}{b / a if a else 0:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
