#!/bin/sh
# Runs Framadate's purge (purge.php) at start and then once a day, each run under a
# time limit; a failed run is retried sooner. Each success refreshes a stamp file
# that the container's health check reads (`bastide-purge-loop --check`), so a purge
# that keeps failing shows as an unhealthy container.
set -u

PURGE_SCRIPT="${BASTIDE_PURGE_SCRIPT:-${BASTIDE_LIB:-/usr/local/lib/bastide}/purge.php}"
STAMP="${BASTIDE_PURGE_STAMP:-/tmp/bastide-purge.ok}"
INTERVAL="${BASTIDE_PURGE_INTERVAL_SECONDS:-86400}"
RETRY="${BASTIDE_PURGE_RETRY_SECONDS:-900}"
RUN_TIMEOUT="${BASTIDE_PURGE_TIMEOUT_SECONDS:-900}"
# 0 runs forever (the container); tests give a bound.
RUNS="${BASTIDE_PURGE_RUNS:-0}"
# The purge runs with little memory; Framadate needs far less than php.ini's limit.
MEMORY_LIMIT="${BASTIDE_PURGE_MEMORY_LIMIT:-24M}"

if [ "${1:-}" = "--check" ]; then
  # Healthy while the last success is younger than one interval, one run and an hour.
  max_age_minutes=$(( (INTERVAL + RUN_TIMEOUT) / 60 + 60 ))
  [ -n "$(find "$STAMP" -mmin "-$max_age_minutes" 2>/dev/null)" ]
  exit
fi

# PID 1 gets no default signal handlers: stop at once on `docker stop`.
trap 'exit 0' TERM INT

done_runs=0
while :; do
  if timeout "$RUN_TIMEOUT" php -d "memory_limit=$MEMORY_LIMIT" "$PURGE_SCRIPT"; then
    touch "$STAMP"
    pause="$INTERVAL"
  else
    echo "bastide-purge-loop: purge failed, next try in ${RETRY}s" >&2
    pause="$RETRY"
  fi
  done_runs=$((done_runs + 1))
  if [ "$RUNS" -gt 0 ] && [ "$done_runs" -ge "$RUNS" ]; then
    exit 0
  fi
  sleep "$pause" &
  wait $!
done
