#!/bin/sh
# Entrypoint of Bastide's Framadate image, for both of its roles:
#   apache2-foreground  the web app: bring the schema up to date, then serve;
#   anything else       e.g. bastide-purge-loop: run it as www-data.
# Only the web app migrates, so two containers never migrate the same schema at once.
set -eu

FRAMADATE_ROOT="${FRAMADATE_ROOT:-/var/www/html}"
BASTIDE_LIB="${BASTIDE_LIB:-/usr/local/lib/bastide}"
CONFIG="$FRAMADATE_ROOT/app/inc/config.php"
RUN_AS="${BASTIDE_RUN_AS:-www-data}"

is_root() { [ "$(id -u)" = 0 ]; }

# Root only drops to the app user: no-new-privileges does not forbid that.
as_app_user() {
  if is_root; then
    setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --init-groups -- "$@"
  else
    "$@"
  fi
}

exec_as_app_user() {
  if is_root; then
    exec setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --init-groups -- "$@"
  fi
  exec "$@"
}

if [ ! -f "$CONFIG" ]; then
  echo "bastide: $CONFIG is missing; Bastide uploads it when it creates the container" >&2
  exit 1
fi

# The config holds the database password: the app user may read it, nobody else.
if is_root; then
  chown "root:$RUN_AS" "$CONFIG"
  chmod 0640 "$CONFIG"
fi

if [ "${1:-}" = "apache2-foreground" ]; then
  as_app_user php "$BASTIDE_LIB/migrate.php"
  # Apache's parent stays root to bind port 80; its workers run as www-data.
  exec docker-php-entrypoint "$@"
fi

exec_as_app_user docker-php-entrypoint "$@"
