#!/bin/sh
# Entry point of the web victim: the root of the traced process tree (like a container's
# entrypoint). Redis as root (misconfigured), the Node.js app as www-data, nginx (master root,
# workers www-data). NODE is the node binary to use.
redis-server /srv/redis/redis.conf &
setpriv --reuid=www-data --regid=www-data --init-groups env HOME=/srv/app APP_ROOT=/srv/app "$NODE" /srv/app/app.mjs &
nginx -e /srv/nginx/logs/error.log -p /srv/nginx -c /srv/nginx/nginx.conf -g 'daemon off;' &
wait
