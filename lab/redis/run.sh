#!/bin/sh
# Entry point of the redis victim: the root of the traced process tree.
exec redis-server /srv/redis/redis.conf
