#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run by test_deb.py as root inside a throwaway root (an overlay of / in a mount namespace)
# or on the machine itself: installs the three packages in DIR/debs, checks what the
# maintainer scripts made, validates the packaged site, builds DIR/embed (examples/embed)
# against the packaged library through pkg-config, and provisions it from the packaged site
# served as autoprov.service starts the daemon (its user, CAP_NET_BIND_SERVICE only).
# Usage: deb_check.sh DIR
set -eu
dir=$1
step() { printf '== %s\n' "$*"; }

# no service may start from a maintainer script (a real systemd would start autoprov.service)
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi

step install
DEBIAN_FRONTEND=noninteractive dpkg -i "$dir"/debs/autoprov_*.deb "$dir"/debs/libautoprov0_*.deb \
	"$dir"/debs/libautoprov-dev_*.deb

step "user and state directory"
getent passwd autoprov
test "$(stat -c %U:%a /var/lib/autoprov)" = autoprov:750
for d in files templates partials; do
	test "$(readlink /var/lib/autoprov/$d)" = /etc/autoprov/$d
done
dpkg-query -W -f='${Conffiles}\n' autoprov | grep -q ' /etc/autoprov/autoprov.conf '

step "the packaged site"
autoprov --version
autoprov serve --check --site /var/lib/autoprov --config /etc/autoprov/autoprov.conf

step "units, man pages, completion"
man=yes
if [ ! -e /usr/share/man/man5/autoprov.conf.5.gz ]; then
	# a slim image's dpkg path-exclude drops every man page at unpacking
	echo "man pages excluded by dpkg's path-exclude here: verifying the units without them"
	man=no
fi
systemd-analyze verify --man=$man /lib/systemd/system/autoprov.service
cp /lib/systemd/system/autoprov@.service /tmp/autoprov@main.service
systemd-analyze verify --man=$man /tmp/autoprov@main.service
rm /tmp/autoprov@main.service
systemd-analyze security --offline=true --threshold=20 /lib/systemd/system/autoprov.service |
	tail -1
[ "$man" = no ] || man -w autoprov autoprov.conf libautoprov
test -f /usr/share/bash-completion/completions/autoprov

step "examples/embed against the packaged library"
pkg-config --modversion autoprov
pkg-config --cflags --libs autoprov
make -C "$dir/embed" CFLAGS='-O2 -Wall -Wextra -Werror'
ldd "$dir/embed/embed" | grep 'libautoprov.so.0 => /'

step "serve the packaged site as the unit does, provision the pretend endpoint"
ports=/tmp/autoprov-deb-ports
rm -f "$ports"
setpriv --reuid=autoprov --regid=autoprov --init-groups --inh-caps=+net_bind_service \
	--ambient-caps=+net_bind_service \
	autoprov serve --site /var/lib/autoprov --config /etc/autoprov/autoprov.conf \
	--http 127.0.0.1:0 --port-file "$ports" 2>"$dir/serve.log" &
pid=$!
i=0
until [ -s "$ports" ]; do
	kill -0 "$pid"
	i=$((i + 1))
	[ "$i" -lt 200 ]
	sleep 0.05
done
port=$(awk '$1 == "http" {print $2}' "$ports")
status=0
"$dir/embed/embed" "http://127.0.0.1:$port" 0022EE0A0B0C >"$dir/embed.log" 2>&1 || status=$?
kill "$pid"
wait "$pid" || true
cat "$dir/embed.log"
cat "$dir/serve.log"
grep -q 'started unprivileged' "$dir/serve.log"
[ "$status" -eq 0 ]
test -s /var/lib/autoprov/autoprov.db
step ok
