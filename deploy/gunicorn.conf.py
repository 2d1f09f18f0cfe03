"""gunicorn settings for zhibu behind nginx (deploy/nginx/zhibu.conf).

    gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'

Command-line flags win over this file (`-w 2 -b 127.0.0.1:9000`), which is how
deploy/run_local.py and tests/test_deploy.py run it on a free port.

gunicorn alone cannot survive slow clients: a gthread worker reads each request's body on one
of its threads, so a client trickling a body holds a thread for as long as it likes. nginx in
front reads every request whole first; gunicorn then only ever sees complete requests and
answers them in milliseconds.

Metrics (README: Seeing it run): each worker counts its own requests, so they keep their
counts in files in PROMETHEUS_MULTIPROC_DIR, which any worker answering /metrics adds up.
prometheus_client reads the variable when it is first imported, in each worker after the fork,
so on_starting sets it in the arbiter, before any worker starts: the directory given in the
environment (zhibu-web.service gives /var/lib/zhibu/metrics, which the scheduler shares), else
a new temporary one, removed at exit.
"""

import glob
import os
import pathlib
import shutil
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# In a directory made here: the arbiter removes it when it exits (a reload keeps it).
TEMPORARY_MARK = ".zhibu-temporary"

# Loopback only, the address nginx's `upstream zhibu_app` points at. The app trusts the
# X-Forwarded-For of whoever connects (app.trusted_proxies = 1), so nothing but nginx may.
bind = "127.0.0.1:8000"

# Threads in a few processes: a callback is mostly waiting on SQLite or PostgreSQL and on
# crypto in C. Four processes of eight threads answer P1's load on two cores; raise workers
# with the cores. Each worker is a writer on SQLite (WAL, short IMMEDIATE transactions).
worker_class = "gthread"
workers = 4
threads = 8

# A worker whose main loop stops for 30 s is killed and replaced; nginx's own timeouts
# (4 s for /wechat) are the ones a client meets.
timeout = 30
# On restart or SIGTERM, requests in flight get this long to finish.
graceful_timeout = 20
# Keep nginx's idle upstream connections open longer than nginx does (its keepalive_timeout
# is 15 s), so nginx is always the side that closes them.
keepalive = 20

# Behind nginx: requests arrive complete and small (client_max_body_size = app.max_body_bytes).
# These are gunicorn's defaults, written down because nginx's limits are set to match.
limit_request_line = 4094
limit_request_fields = 100

# nginx writes the access log (with the real client address); gunicorn logs errors to stderr,
# which systemd's journal keeps.
accesslog = None
errorlog = "-"
loglevel = "info"
# Load the app in each worker after the fork: each opens its own database connections.
preload_app = False


# ---- metrics across workers (prometheus_client's multiprocess mode) ----------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def on_starting(server):
    """Before any worker exists: set PROMETHEUS_MULTIPROC_DIR (given, or a new temporary
    directory) for the workers to inherit, and drop the metric files of processes gone before
    this start (workers of an earlier run); a scheduler still running keeps its own."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        folder = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="zhibu-metrics-")
        pathlib.Path(folder, TEMPORARY_MARK).touch()
    os.makedirs(folder, exist_ok=True)
    for path in glob.glob(os.path.join(folder, "*.db")):
        pid = os.path.basename(path)[: -len(".db")].rpartition("_")[2]
        if not pid.isdigit() or not _alive(int(pid)):
            os.remove(path)


def child_exit(server, worker):
    """A worker exited: its live gauges stop counting (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the temporary metrics directory on_starting made (never one given to it)."""
    folder = os.environ.get(MULTIPROC_ENV, "")
    if folder and os.path.exists(os.path.join(folder, TEMPORARY_MARK)):
        shutil.rmtree(folder, ignore_errors=True)
