#!/usr/bin/env bash
# examhall-backup.sh — dump the examhall database, check the dump, keep the last N.
#
# Usage: examhall-backup.sh [BACKUP_DIR]
#
#   BACKUP_DIR            first argument, else $EXAMHALL_BACKUP_DIR, else /var/backups/examhall
#   EXAMHALL_BACKUP_KEEP  how many dumps to keep (default 14; older ones are deleted)
#   EXAMHALL_DATABASE_URL the database to dump, e.g.
#                         postgresql://examhall:PASSWORD@127.0.0.1:5432/examhall
#   EXAMHALL_DATA         when EXAMHALL_DATABASE_URL is empty: the data folder of the embedded
#                         PostgreSQL (default /var/lib/examhall). The embedded server listens
#                         only on a unix socket, in the folder named on line 5 of
#                         $EXAMHALL_DATA/pg/postmaster.pid (normally $EXAMHALL_DATA/pg itself),
#                         and trusts local connections, so the URL used is
#                           postgresql://postgres@/examhall?host=SOCKETDIR
#                         It runs only while examhall runs: back up while the service is up.
#   EXAMHALL_PG_BIN       folder with pg_dump/pg_restore to use (optional). pg_dump must be at
#                         least the server's major version. Default: for the embedded server the
#                         PostgreSQL 16 binaries shipped in the venv's pgserver package, else
#                         the pg_dump on PATH (Debian: apt install postgresql-client).
#   EXAMHALL_VENV         the venv holding pgserver (default /opt/examhall/.venv)
#
# Run it as the examhall user with the server's settings, e.g.
#   runuser -u examhall -- bash -c 'set -a; . /etc/examhall/examhall.env; exec /opt/examhall/ops/backup/examhall-backup.sh'
# or simply: systemctl start examhall-backup.service
#
# Dumps are pg_dump custom format (-Fc) named examhall-YYYYmmdd-HHMMSS.dump, mode 600 (they
# hold candidates' personal data). A dump is written under a temporary name and renamed only
# after `pg_restore --list` has read it back, so a failed run never replaces a good dump.
# Restore (see ops/DEPLOY.md):
#   pg_restore --clean --if-exists --no-owner -d "$EXAMHALL_DATABASE_URL" FILE.dump
#
# Not in the dump: the files in the data folder (secret.key, sealing.key, uploads). Keep a copy
# of sealing.key somewhere safe and separate from these dumps.
#
# Note: the URL (with its password) is passed to pg_dump on the command line, where other
# local users could see it in `ps`. On a dedicated exam server that is acceptable; otherwise
# leave the password out of the URL and put it in ~examhall/.pgpass instead.

set -euo pipefail

log() { printf 'examhall-backup: %s\n' "$*"; }
die() { printf 'examhall-backup: ERROR: %s\n' "$*" >&2; exit 1; }

backup_dir=${1:-${EXAMHALL_BACKUP_DIR:-/var/backups/examhall}}
keep=${EXAMHALL_BACKUP_KEEP:-14}
[[ $keep =~ ^[1-9][0-9]*$ ]] || die "EXAMHALL_BACKUP_KEEP must be a whole number >= 1, got '$keep'"

# --- which database ----------------------------------------------------------------------
url=${EXAMHALL_DATABASE_URL:-}
pg_bin=${EXAMHALL_PG_BIN:-}
if [[ -n $url ]]; then
    # examhall also accepts SQLAlchemy's spelling; pg_dump needs the plain libpq one.
    url=${url/#postgresql+asyncpg:\/\//postgresql://}
    where="external PostgreSQL (EXAMHALL_DATABASE_URL)"
else
    data_dir=${EXAMHALL_DATA:-/var/lib/examhall}
    pidfile=$data_dir/pg/postmaster.pid
    [[ -r $pidfile ]] || die "EXAMHALL_DATABASE_URL is empty and $pidfile is missing or unreadable: the embedded PostgreSQL is not running (start examhall) or EXAMHALL_DATA is wrong"
    socket_dir=$(sed -n 5p "$pidfile")
    [[ -n $socket_dir && -S $socket_dir/.s.PGSQL.5432 ]] || die "no PostgreSQL socket found in '$socket_dir' (line 5 of $pidfile)"
    url="postgresql://postgres@/examhall?host=$socket_dir"
    where="embedded PostgreSQL (socket in $socket_dir)"
    if [[ -z $pg_bin ]]; then
        venv=${EXAMHALL_VENV:-/opt/examhall/.venv}
        for candidate in "$venv"/lib/python3*/site-packages/pgserver/pginstall/bin; do
            [[ -x $candidate/pg_dump ]] && pg_bin=$candidate
        done
    fi
fi

if [[ -n $pg_bin ]]; then
    pg_dump=$pg_bin/pg_dump
    pg_restore=$pg_bin/pg_restore
else
    pg_dump=$(command -v pg_dump) || die "pg_dump not found (apt install postgresql-client, or set EXAMHALL_PG_BIN)"
    pg_restore=$(command -v pg_restore) || die "pg_restore not found (apt install postgresql-client, or set EXAMHALL_PG_BIN)"
fi
[[ -x $pg_dump && -x $pg_restore ]] || die "pg_dump/pg_restore not executable in ${pg_bin:-PATH}"

# --- where to -----------------------------------------------------------------------------
umask 077
mkdir -p -- "$backup_dir"
[[ -w $backup_dir ]] || die "cannot write to $backup_dir"

# One run at a time (the daily timer and a manual run after a sitting may meet).
exec 9>"$backup_dir/.examhall-backup.lock"
flock -n 9 || die "another backup is running (lock $backup_dir/.examhall-backup.lock)"

stamp=$(date +%Y%m%d-%H%M%S)
final=$backup_dir/examhall-$stamp.dump
partial=$final.partial
# A leftover .partial of this run is removed on any failure.
trap 'rm -f -- "$partial"' EXIT

# --- dump and verify ------------------------------------------------------------------------
log "dumping the $where with $pg_dump"
started=$SECONDS
"$pg_dump" --format=custom --compress=6 --no-password --file="$partial" --dbname="$url" \
    || die "pg_dump failed; no new backup was made"

toc_entries=$("$pg_restore" --list "$partial" | grep -c -v '^;') \
    || die "pg_restore --list cannot read the dump (or it lists nothing); it was discarded"
[[ $toc_entries -gt 0 ]] || die "the dump lists no objects; it was discarded"

mv -- "$partial" "$final"
trap - EXIT
size=$(du -h -- "$final" | cut -f1)
log "wrote $final ($size, $toc_entries objects listed by pg_restore --list, $((SECONDS - started)) s)"

# --- keep the newest $keep ------------------------------------------------------------------
# The names sort by date, so the glob lists the oldest first.
shopt -s nullglob
dumps=("$backup_dir"/examhall-*.dump)
shopt -u nullglob
excess=$(( ${#dumps[@]} - keep ))
if (( excess > 0 )); then
    for old in "${dumps[@]:0:excess}"; do
        rm -f -- "$old"
        log "removed old dump $old"
    done
fi
log "$(( ${#dumps[@]} - (excess > 0 ? excess : 0) )) dump(s) kept in $backup_dir (keep=$keep)"
