"""Run the deployment recipe on loopback, without root-owned paths.

    .venv/bin/python -m deploy.run_local                      # gunicorn + nginx, free ports
    .venv/bin/python -m deploy.run_local --upstream 127.0.0.1:8000   # nginx in front of yours

nginx runs deploy/nginx/zhibu.conf itself: this module copies it into a private prefix and
rewrites only the lines that name ports, host paths and the upstream address (REWRITES below;
each must be found exactly once, so the file and this runner cannot drift apart). A
self-signed certificate for 127.0.0.1 stands in for the real one. Everything nginx writes
(pid, logs, temp files) stays inside the prefix: `nginx -p PREFIX -c PREFIX/conf/nginx.conf
-e PREFIX/logs/error.log -g 'daemon off;'`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
SITE = DEPLOY / "nginx" / "zhibu.conf"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
ENSURE_NGINX = DEPLOY / "ensure-nginx.sh"


@dataclass(frozen=True)
class Rewrite:
    """One line of the site file: `directive args;` in production, `directive local;` here."""

    directive: str
    production: str
    local: str | None  # a str.format template over Local's fields; None drops the line


# The only lines of zhibu.conf the loopback run changes. IPv6 listeners are dropped: the
# loopback run listens on 127.0.0.1 only.
REWRITES = (
    Rewrite("listen", "80", "127.0.0.1:{http_port}"),
    Rewrite("listen", "[::]:80", None),
    Rewrite("listen", "443 ssl", "127.0.0.1:{https_port} ssl"),
    Rewrite("listen", "[::]:443 ssl", None),
    Rewrite("server", "127.0.0.1:8000", "{upstream}"),
    Rewrite("ssl_certificate", "/etc/letsencrypt/live/zhibu.example.org/fullchain.pem", "{cert}"),
    Rewrite("ssl_certificate_key", "/etc/letsencrypt/live/zhibu.example.org/privkey.pem", "{key}"),
    Rewrite("access_log", "/var/log/nginx/zhibu.access.log", "{logs}/zhibu.access.log"),
    Rewrite("error_log", "/var/log/nginx/zhibu.error.log warn", "{logs}/zhibu.error.log info"),
)

# Stands in for the part of Debian's /etc/nginx/nginx.conf the site needs: the main and
# events contexts and an http block that includes the site. Paths that Debian's build puts
# under /var/lib/nginx (temp files) and /run (pid) are moved into the prefix.
MAIN_CONF = """\
# Rendered by deploy/run_local.py; the site itself is deploy/nginx/zhibu.conf.
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;

events {{
    worker_connections 512;
}}

http {{
    default_type application/octet-stream;
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/temp/client_body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;

    include {prefix}/conf/zhibu.conf;
}}
"""


class RecipeDrift(RuntimeError):
    """zhibu.conf no longer has a line the loopback run rewrites."""


def render_site(text: str, values: dict[str, Any]) -> str:
    """Apply REWRITES to the site file's text; each production line must appear exactly once."""
    for rw in REWRITES:
        pattern = re.compile(
            rf"^(?P<indent>[ \t]*){re.escape(rw.directive)}[ \t]+{re.escape(rw.production)}"
            rf"[ \t]*;(?P<rest>.*)\n",
            re.MULTILINE,
        )
        found = len(pattern.findall(text))
        if found != 1:
            raise RecipeDrift(
                f"{SITE.name}: expected the line '{rw.directive} {rw.production};' once, "
                f"found it {found} times; update REWRITES in deploy/run_local.py with the file"
            )
        if rw.local is None:
            text = pattern.sub("", text)
        else:
            line = f"{rw.directive} {rw.local.format(**values)};"
            text = pattern.sub(lambda m, line=line: f"{m['indent']}{line}{m['rest']}\n", text)
    return text


def find_nginx() -> str | None:
    """nginx's path; Debian installs it in /usr/sbin, which a non-root PATH lacks."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def ensure_nginx() -> str:
    """Install nginx from Debian when it is missing (deploy/ensure-nginx.sh); return its path."""
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        ["/bin/sh", str(ENSURE_NGINX)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{ENSURE_NGINX.name} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """Write a certificate and key for 127.0.0.1 and localhost; return their paths.

    The validity is fixed (2000 to 2099) rather than counted from now: the processes that
    check it may run on a pinned or shifted clock.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zhibu loopback")])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2099, 12, 31, tzinfo=dt.UTC))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "loopback.crt", folder / "loopback.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class LocalNginx:
    """nginx running deploy/nginx/zhibu.conf on 127.0.0.1 in front of `upstream`."""

    def __init__(
        self,
        prefix: Path,
        upstream: str,
        *,
        nginx: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.prefix = Path(prefix).resolve()
        self.upstream = upstream  # host:port, or unix:/path
        self.nginx = nginx or find_nginx()
        self.env = env  # nginx's environment; None: this process's
        self.proc: subprocess.Popen[bytes] | None = None
        self.http_port = 0
        self.https_port = 0
        self.cert = self.prefix / "conf" / "loopback.crt"

    @property
    def url(self) -> str:
        """The site's https address (the certificate is `self.cert`)."""
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def render(self) -> Path:
        """Write the prefix (conf, logs, temp, certificate); return the main config's path."""
        if self.nginx is None:
            raise RuntimeError(f"nginx is not installed; run {ENSURE_NGINX}")
        conf, logs = self.prefix / "conf", self.prefix / "logs"
        for folder in (conf, logs, self.prefix / "temp"):
            folder.mkdir(parents=True, exist_ok=True)
        cert, key = self_signed_cert(conf)
        values = {
            "http_port": self.http_port,
            "https_port": self.https_port,
            "upstream": self.upstream,
            "cert": cert,
            "key": key,
            "logs": logs,
        }
        (conf / "zhibu.conf").write_text(render_site(SITE.read_text(), values))
        # As root, nginx's workers would switch to `nobody`, who cannot reach files in the
        # caller's private temp folders: they run as the caller instead.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        main = conf / "nginx.conf"
        main.write_text(MAIN_CONF.format(prefix=self.prefix, user=user))
        return main

    def start(self, timeout: float = 30.0) -> LocalNginx:
        """Start nginx on free ports; wait until both ports accept connections."""
        for _ in range(3):
            self.http_port, self.https_port = free_port(), free_port()
            main = self.render()
            cmd = [
                str(self.nginx), "-p", f"{self.prefix}/", "-c", str(main),
                "-e", str(self.prefix / "logs" / "error.log"), "-g", "daemon off;",
            ]  # fmt: skip
            with open(self.prefix / "logs" / "stderr.log", "ab") as out:
                self.proc = subprocess.Popen(  # noqa: S603 - fixed arguments
                    cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                    start_new_session=True,
                )  # fmt: skip
            if self._wait_listening(timeout):
                return self
            self.stop()
            if "Address already in use" not in self.log():
                break
        raise RuntimeError(f"nginx did not start; logs:\n{self.log()[-3000:]}")

    def _wait_listening(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                for port in (self.http_port, self.https_port):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def log(self) -> str:
        """nginx's error logs and output so far."""
        parts = []
        for name in ("stderr.log", "error.log", "zhibu.error.log"):
            path = self.prefix / "logs" / name
            if path.exists():
                parts.append(f"== {name}\n" + path.read_text(errors="replace"))
        return "\n".join(parts)

    def access_log(self) -> str:
        path = self.prefix / "logs" / "zhibu.access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop nginx (SIGTERM to the master); kill its whole group if it does not exit."""
        if self.proc is not None:
            stop_group(self.proc, timeout)  # the group: the master and its workers


def start_gunicorn(port: int, log: Path) -> subprocess.Popen[bytes]:
    """gunicorn with deploy/gunicorn.conf.py on 127.0.0.1:port, trusting one proxy."""
    env = dict(os.environ, ZHIBU_APP__TRUSTED_PROXIES="1")
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"), "-c", str(GUNICORN_CONF),
        "-b", f"127.0.0.1:{port}", "app:create_app()",
    ]  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen(  # noqa: S603 - fixed arguments
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float = 60.0) -> bool:
    """Wait until `url` answers 200 while `proc` runs."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - our loopback
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM a child we started; SIGKILL its process group if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", help="a running gunicorn (host:port); default: start one")
    parser.add_argument("--prefix", type=Path, help="nginx's folder; default: a new temp folder")
    args = parser.parse_args(argv)
    nginx = find_nginx() or ensure_nginx()
    prefix = (args.prefix or Path(tempfile.mkdtemp(prefix="zhibu-nginx-"))).resolve()
    prefix.mkdir(parents=True, exist_ok=True)
    gunicorn = None
    upstream = args.upstream
    proxy = LocalNginx(prefix, "", nginx=nginx)
    try:
        if upstream is None:
            port = free_port()
            log = prefix / "gunicorn.log"
            gunicorn = start_gunicorn(port, log)
            if not wait_healthy(gunicorn, f"http://127.0.0.1:{port}/healthz"):
                print(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}")
                return 1
            upstream = f"127.0.0.1:{port}"
        proxy.upstream = upstream
        proxy.start()
        print(f"zhibu behind nginx: {proxy.url}/wechat  (certificate: {proxy.cert})")
        print(f"  try: curl --cacert {proxy.cert} {proxy.url}/healthz")
        print(f"  nginx prefix (logs, config): {prefix}; Ctrl-C stops both")
        stop = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # after the children started
        signal.sigwait(stop)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
        if gunicorn is not None:
            stop_group(gunicorn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
