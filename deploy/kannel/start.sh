#!/bin/sh
# Writes kannel.conf from its template with the secrets of the environment, then runs the box named
# (bearerbox or smsbox) on it. The secrets are never in the image; the file is readable by Kannel only.
#
# Kannel writes whole URLs into its error lines ("Couldn't fetch <http://kannel:TOKEN@notify:8103/…>")
# when notify is slow or away, and the get-url carries notify's token as the URL's password: the box's
# output goes through a filter that masks a URL's password and a password= parameter, and a citizen's
# mobile number (138****8000, +86 too: Kannel logs every sender and receiver), as the services' own logs
# do. SIGTERM and SIGINT are handed to the box; the script exits with the box's status.
set -eu
template=${KANNEL_TEMPLATE:-/etc/kannel/kannel.conf.in}
run=${KANNEL_RUN_DIR:-/tmp}
for name in KANNEL_ADMIN_PASSWORD KANNEL_SENDSMS_PASSWORD KANNEL_NOTIFY_TOKEN; do
    eval "value=\${$name:-}"
    case "$value" in
        "") echo "start.sh: $name is not set" >&2; exit 2 ;;
        *[!A-Za-z0-9._~-]*) echo "start.sh: $name may hold only letters, digits and . _ ~ -" >&2; exit 2 ;;
    esac
done
umask 077
sed -e "s/@KANNEL_ADMIN_PASSWORD@/${KANNEL_ADMIN_PASSWORD}/g" \
    -e "s/@KANNEL_SENDSMS_PASSWORD@/${KANNEL_SENDSMS_PASSWORD}/g" \
    -e "s/@KANNEL_NOTIFY_TOKEN@/${KANNEL_NOTIFY_TOKEN}/g" \
    "$template" > "$run/kannel.conf"

fifo="$run/kannel.output"
rm -f "$fifo"
mkfifo "$fifo"
sed -u -E -e 's#(://[^:/@[:space:]]*:)[^@/[:space:]]+@#\1***@#g' \
          -e 's#([?&]password=)[^&[:space:]]*#\1***#g' \
          -e ':phone' \
          -e 's#(^|[^0-9*])((\+|00)?86[ -]?)?(1[3-9][0-9])[0-9]{4}([0-9]{4})($|[^0-9])#\1\2\4****\5\6#' \
          -e 't phone' < "$fifo" >&2 &
filter=$!
"$@" "$run/kannel.conf" > "$fifo" 2>&1 &
box=$!
trap 'kill -TERM "$box" 2>/dev/null || true' TERM INT
while :; do
    if wait "$box"; then status=0; else status=$?; fi
    kill -0 "$box" 2>/dev/null || break  # a signal ended the wait, not the box: wait again
done
wait "$filter" || true
rm -f "$fifo"
exit "$status"
