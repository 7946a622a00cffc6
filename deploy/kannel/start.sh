#!/bin/sh
# Writes kannel.conf from its template with the secrets of the environment, then runs the box named
# (bearerbox or smsbox) on it. The secrets are never in the image; the file is readable by Kannel only.
set -eu
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
    /etc/kannel/kannel.conf.in > /tmp/kannel.conf
exec "$@" /tmp/kannel.conf
