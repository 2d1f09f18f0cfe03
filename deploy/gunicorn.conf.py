"""gunicorn settings for zhibu behind nginx (deploy/nginx/zhibu.conf).

    gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'

Command-line flags win over this file (`-w 2 -b 127.0.0.1:9000`), which is how
deploy/run_local.py and tests/test_deploy.py run it on a free port.

gunicorn alone cannot survive slow clients: a gthread worker reads each request's body on one
of its threads, so a client trickling a body holds a thread for as long as it likes. nginx in
front reads every request whole first; gunicorn then only ever sees complete requests and
answers them in milliseconds.
"""

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
