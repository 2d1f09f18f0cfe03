#!/bin/sh
# Make sure nginx is installed; print its path on the last line of stdout.
#
# Nothing happens when nginx is already there. Otherwise it is installed from Debian's
# packages (nginx-light: nginx with the core modules, nothing the recipe lacks):
#   apt-get install -y --no-install-recommends nginx-light
# and, when that fails (a fresh machine has no package lists yet), `apt-get update` and the
# install again, then the plain `nginx` package if nginx-light is not in this release.
# Runs as root directly (CI, containers) or through sudo otherwise. apt's output goes to stderr.
#
# Used by tests/test_deploy.py and deploy/run_local.py, and by a person setting up a host.
# Note: outside a container, Debian's package starts the stock nginx service (default site on
# port 80) right after installing it; deploy/README.md says how to replace that site.
set -eu

find_nginx() {
    # Debian puts nginx in /usr/sbin, which is not on a non-root user's PATH.
    for candidate in "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx /usr/local/sbin/nginx; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if find_nginx; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-nginx: nginx is missing and this is not a Debian-like system (no apt-get);" \
        "install nginx with the system's package manager" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    echo "ensure-nginx: nginx is missing; installing it needs root, and sudo is not installed" >&2
    exit 1
fi

# No questions (nginx-common asks one through debconf), and wait for a running apt or
# unattended-upgrades to release its lock instead of failing at once.
apt_get() {
    $as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=300 "$@" >&2
}

install_pkg() {
    apt_get install -y --no-install-recommends "$1"
}

echo "ensure-nginx: nginx is missing; installing nginx-light from Debian" >&2
if ! install_pkg nginx-light; then
    echo "ensure-nginx: install failed; updating the package lists and trying again" >&2
    apt_get update
    install_pkg nginx-light || install_pkg nginx
fi

if ! find_nginx; then
    echo "ensure-nginx: the packages installed but no nginx binary was found" >&2
    exit 1
fi
