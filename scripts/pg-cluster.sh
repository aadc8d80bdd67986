#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests and benchmarks: never a system-wide
# server.  Debian's postgresql is installed when initdb is missing, with
# postgresql-common's create_main_cluster set to false first, so the package
# neither creates nor starts a cluster of the system's.  initdb in a directory of its own, run as an unprivileged user
# (postgres when called as root, the caller otherwise), on a free port, with a
# database and a password-protected role reached over TCP with scram-sha-256.
#
#   scripts/pg-cluster.sh start DIR [--listen ADDRS]   create and start; prints the URL
#   scripts/pg-cluster.sh stop DIR                     stop it and remove DIR
#   scripts/pg-cluster.sh url DIR                      print the URL of a started cluster
#   scripts/pg-cluster.sh server-stop DIR              stop the server, keep the data
#   scripts/pg-cluster.sh server-start DIR             start it again on the same port
#   scripts/pg-cluster.sh psql DIR [ARGS...]           psql as the cluster's superuser
#   scripts/pg-cluster.sh install                      install the server (below) when missing
#   scripts/pg-cluster.sh run [--listen ADDRS] -- CMD  run CMD with TIMREF_TEST_PG_URL set:
#       when it is already set, CMD simply runs against that cluster; otherwise a
#       cluster is started in a temporary directory and stopped and removed when
#       CMD ends, fails or is interrupted.
#
# The URL is postgresql://timref:PASSWORD@127.0.0.1:PORT/timref.  The tests
# read it from TIMREF_TEST_PG_URL (and the cluster's directory from
# TIMREF_TEST_PG_DIR, for server-stop/server-start).
#
# ADDRS (comma-separated) are the addresses the server listens on besides
# 127.0.0.1 (the network-namespace tests add their host-side bridge address,
# which must exist before the start).  pg_hba admits TCP from 127.0.0.1 and
# from 10.213.0.0/16, the namespace tests' network, with a password only.
#
# fsync and synchronous_commit stay on: an acknowledged write is durable.  TCP
# keepalives (1 s idle, 1 s interval, 3 probes) and a TCP user timeout (3 s for
# data sent and not acknowledged) let the server notice a client host that
# vanished without closing its connections: an idle connection is dropped
# within about 4 s, one with data in flight within about 3 s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NS_NET="10.213.0.0/16"

die() { echo "pg-cluster: $*" >&2; exit 1; }

# Install Debian's postgresql when initdb is missing, without the system-wide cluster the
# package would otherwise create and start (postgresql-common's create_main_cluster, set to
# false first): the tests only ever run clusters of their own.
install() {
    local conf=/etc/postgresql-common/createcluster.conf sudo=""
    if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then return 0; fi
    "$here/ensure-deps.sh" postgresql-common >&2
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ -f "$conf" ] && ! grep -q '^create_main_cluster *= *false' "$conf"; then
        $sudo sed -i -E 's/^#? *create_main_cluster *=.*/create_main_cluster = false/' "$conf"
        grep -q '^create_main_cluster *= *false' "$conf" || echo "create_main_cluster = false" | $sudo tee -a "$conf" >/dev/null
    fi
    "$here/ensure-deps.sh" postgresql >&2
}

bindir() {
    local d
    if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
        install
        d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    fi
    [ -n "$d" ] && [ -x "$d/initdb" ] || die "no PostgreSQL server binaries (initdb) found"
    echo "$d"
}

# Run a command as the cluster's owner: postgres when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_start() {
    local dir="$1" bin
    bin="$(bindir)"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -s start >/dev/null \
        || { tail -n 20 "$dir/server.log" >&2 || true; die "the server in $dir did not start"; }
}

server_stop() {
    local dir="$1" bin
    bin="$(bindir)"
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 -s stop >/dev/null || true
    fi
}

# Clusters whose owner died without stopping them (a test run killed with SIGKILL): a
# cluster started with PG_CLUSTER_OWNER=PID (as `run` and the tests' Python helper do) records
# it in DIR/owner, and the next start stops those whose owner is gone.  A cluster started by
# hand (no owner) is never touched.
sweep() {
    local d pid
    for d in "${TMPDIR:-/tmp}"/timref-pg.*; do
        [ -f "$d/owner" ] || continue
        pid="$(cat "$d/owner" 2>/dev/null || true)"
        case "$pid" in ''|*[!0-9]*) continue ;; esac
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "pg-cluster: removing $d (its owner, process $pid, is gone)" >&2
            stop "$d"
        fi
    done
}

start() {
    local dir="$1"; shift
    sweep
    local listen="127.0.0.1"
    while [ $# -gt 0 ]; do
        case "$1" in
            --listen) [ $# -ge 2 ] || die "--listen needs addresses"; listen="127.0.0.1,$2"; shift 2 ;;
            *) die "start: unknown argument '$1'" ;;
        esac
    done
    local bin password port attempt
    bin="$(bindir)"
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "as root, the 'postgres' user must exist (it comes with the postgresql package)"
        # postgres owns the directory; root (the caller) keeps the URL file
        chown postgres: "$dir"
        chmod 0711 "$dir"
    else
        chmod 0700 "$dir"
    fi
    as_owner mkdir -m 0700 "$dir/sock"
    as_owner "$bin/initdb" -D "$dir/data" -U tr_admin -A trust -E UTF8 --locale=C --no-sync -N >/dev/null \
        || die "initdb failed in $dir"
    password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<EOF
# private test cluster: the superuser only through the private socket directory
local   all   tr_admin                  trust
local   all   all                       reject
host    all   tr_admin   0.0.0.0/0      reject
host    all   all        127.0.0.1/32   scram-sha-256
host    all   all        $NS_NET        scram-sha-256
EOF
    for attempt in 1 2 3; do
        port="$(free_port)"
        as_owner tee "$dir/data/postgresql.auto.conf" >/dev/null <<EOF
port = $port
listen_addresses = '$listen'
unix_socket_directories = '$dir/sock'
password_encryption = 'scram-sha-256'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 300
shared_buffers = '128MB'
tcp_keepalives_idle = 1
tcp_keepalives_interval = 1
tcp_keepalives_count = 3
tcp_user_timeout = 3000
client_connection_check_interval = '1s'
log_min_messages = warning
log_line_prefix = '%m [%p] '
EOF
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -s start >/dev/null; then
            break
        fi
        [ "$attempt" -lt 3 ] || { tail -n 20 "$dir/server.log" >&2 || true; die "the server did not start"; }
    done
    as_owner "$bin/psql" -q -X -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U tr_admin -d postgres >/dev/null <<EOF
CREATE ROLE timref LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE timref OWNER timref;
EOF
    local url="postgresql://timref:$password@127.0.0.1:$port/timref"
    # the URL holds the password: readable by the caller only
    ( umask 077; echo "$url" > "$dir/url"; echo "$port" > "$dir/port" )
    if [ -n "${PG_CLUSTER_OWNER:-}" ]; then echo "$PG_CLUSTER_OWNER" > "$dir/owner"; fi
    echo "$url"
}

stop() {
    local dir="$1"
    [ -d "$dir" ] || return 0
    server_stop "$dir"
    rm -rf "$dir"
}

psql_cmd() {
    local dir="$1"; shift
    local bin
    bin="$(bindir)"
    as_owner "$bin/psql" -X -h "$dir/sock" -p "$(cat "$dir/port")" -U tr_admin -d timref "$@"
}

run() {
    local listen_args=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --listen) listen_args=(--listen "$2"); shift 2 ;;
            --) shift; break ;;
            *) die "run: expected -- before the command, got '$1'" ;;
        esac
    done
    [ $# -gt 0 ] || die "run: no command"
    if [ -n "${TIMREF_TEST_PG_URL:-}" ]; then
        exec "$@"
    fi
    local dir rc=0 child=""
    dir="$(mktemp -d "${TMPDIR:-/tmp}/timref-pg.XXXXXX")"
    # shellcheck disable=SC2064
    trap "stop '$dir'" EXIT
    # interrupted: end the command too (bash would wait for a foreground one before the trap
    # ran), then the EXIT trap stops and removes the cluster
    trap '[ -z "$child" ] || kill -TERM "$child" 2>/dev/null; wait; exit 130' INT
    trap '[ -z "$child" ] || kill -TERM "$child" 2>/dev/null; wait; exit 143' TERM
    TIMREF_TEST_PG_URL="$(PG_CLUSTER_OWNER=$$ start "$dir" "${listen_args[@]}")"
    export TIMREF_TEST_PG_URL TIMREF_TEST_PG_DIR="$dir"
    "$@" <&0 &
    child=$!
    wait "$child" || rc=$?
    return $rc
}

cmd="${1:-}"
[ -n "$cmd" ] || die "usage: $0 start|stop|url|server-stop|server-start|psql DIR ... | run -- CMD | install"
shift
case "$cmd" in
    start)        [ $# -ge 1 ] || die "start: no directory"; start "$@" ;;
    stop)         [ $# -eq 1 ] || die "stop: one directory"; stop "$1" ;;
    url)          [ $# -eq 1 ] || die "url: one directory"; cat "$1/url" ;;
    server-stop)  [ $# -eq 1 ] || die "server-stop: one directory"; server_stop "$1" ;;
    server-start) [ $# -eq 1 ] || die "server-start: one directory"; server_start "$1" ;;
    psql)         [ $# -ge 1 ] || die "psql: no directory"; psql_cmd "$@" ;;
    run)          run "$@" ;;
    install)      install ;;
    *)            die "unknown command '$cmd'" ;;
esac
