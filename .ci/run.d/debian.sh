#!/usr/bin/env bash
# The Debian package as a user gets it: build it with dpkg-buildpackage from a copy of the
# tree, lintian, apt-get install, check the units with systemd-analyze, run the installed
# service exactly as its unit does (CI has no systemd), validate a virtual passport
# against it with the virtual phone, reload trust anchors with SIGHUP, put nginx in front
# of two instances, check that an upgrade keeps an edited config and that purge leaves
# nothing behind.
# Every step is bounded with timeout; any failure exits non-zero.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export DEBIAN_FRONTEND=noninteractive
export PYTHONDONTWRITEBYTECODE=1
# Debian's interpreter, whatever else is first on PATH (pyenv, a venv).
PY=/usr/bin/python3

WORK=$(mktemp -d /tmp/docval-debian.XXXXXX)
chmod 755 "$WORK"     # the docval user reads the test configs from here
SERVER_PID=
UNIT=/lib/systemd/system/docval.service
PLUGINS=/usr/lib/python3/dist-packages/twisted/plugins

step() { printf '\n--- debian: %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
fail() { printf 'debian.sh: FAILED: %s\n' "$*" >&2; exit 1; }

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        timeout 20 tail --pid="$SERVER_PID" -f /dev/null || kill -9 "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
cleanup() {
    local rc=$?
    stop_server
    if [ "$rc" -ne 0 ] && [ -f "$WORK/server.log" ]; then
        echo "--- server log (last 40 lines)"; tail -n 40 "$WORK/server.log" || true
    fi
    rm -rf "$WORK"
    # Leave the machine as it was: other suites import docval from their own trees.
    if [ "$rc" -ne 0 ] && dpkg-query -W -f='${Status}' docval 2>/dev/null | grep -q ' installed'; then
        timeout 120 apt-get purge -y -qq docval </dev/null >/dev/null 2>&1 || true
    fi
    exit "$rc"
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

http_status() {  # URL -> HTTP status, 000 when nothing answers
    $PY - "$1" <<'END'
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)
except OSError:
    print("000")
END
}

step "build dependencies"
# shellcheck disable=SC2046
timeout 600 apt-get install -y -qq --no-install-recommends \
    $(grep -v '^#' "$ROOT/.ci/debian-build-packages.txt") >/dev/null

if dpkg-query -W -f='${Status}' docval 2>/dev/null | grep -q installed; then
    step "purge a docval left over from an earlier run"
    timeout 120 apt-get purge -y -qq docval >/dev/null
fi

step "build the .deb (dpkg-buildpackage -us -uc -b in a copy of the tree)"
mkdir "$WORK/src"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    # Tracked and new files, minus .gitignore'd ones (venvs, build output, dropin.cache).
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
        | tar --null -T - -cf -) | tar -C "$WORK/src" -xf -
else
    tar -C "$ROOT" --exclude=./.venv --exclude=./.git --exclude='*.egg-info' \
        --exclude=__pycache__ --exclude=dropin.cache -cf - . | tar -C "$WORK/src" -xf -
fi
if ! (cd "$WORK/src" && timeout 600 dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1); then
    tail -n 60 "$WORK/build.log"; fail "dpkg-buildpackage"
fi
DEB=$(ls "$WORK"/docval_*_all.deb)
echo "built $(basename "$DEB")"
dpkg-deb -c "$DEB" >"$WORK/contents"
grep -E 'twisted/(__init__\.py|plugins/__init__\.py|plugins/dropin\.cache)' "$WORK/contents" \
    && fail "the .deb ships a file of python3-twisted"
grep -q 'twisted/plugins/docval_plugin.py$' "$WORK/contents" || fail "the .deb lacks the twistd plugin"

step "lintian (errors fail, warnings are shown)"
timeout 600 lintian --fail-on error "$WORK"/docval_*.changes || fail "lintian reports errors"

step "apt-get install ./$(basename "$DEB")"
(cd "$WORK" && timeout 600 apt-get install -y -qq "./$(basename "$DEB")" </dev/null >/dev/null)
getent passwd docval | grep -q ':/usr/sbin/nologin$' || fail "no docval system user with nologin"
[ "$(stat -c '%U:%G %a' /etc/docval/docval.toml)" = "root:docval 640" ] \
    || fail "/etc/docval/docval.toml is $(stat -c '%U:%G %a' /etc/docval/docval.toml)"
grep -Eq '^csca *= *\[ *"/etc/docval/csca" *\]' /etc/docval/docval.toml \
    || fail "the shipped configuration does not trust /etc/docval/csca"
[ -d /etc/docval/csca ] || fail "no /etc/docval/csca"
dpkg-query -W -f='${Conffiles}\n' docval | grep -q '/etc/docval/docval.toml' \
    || fail "docval.toml is not a conffile"
[ "$(stat -c '%U:%G %a' /etc/docval/signing-key.pem)" = "root:docval 640" ] \
    || fail "/etc/docval/signing-key.pem is $(stat -c '%U:%G %a' /etc/docval/signing-key.pem 2>&1)"
(cd / && timeout 60 docval-keys jwks) >"$WORK/jwks.json" || fail "docval-keys jwks"
grep -q '"kid"' "$WORK/jwks.json" || fail "docval-keys jwks printed no key"
! grep -q '"d"' "$WORK/jwks.json" || fail "docval-keys jwks printed a private member"
KEY_SUM=$(sha256sum /etc/docval/signing-key.pem)
(cd / && $PY -c 'import docval; assert docval.__file__.startswith("/usr/lib/python3/dist-packages/"), docval.__file__')
(cd / && timeout 60 twistd3 --help) >"$WORK/twistd-help"
grep -q '^ *docval ' "$WORK/twistd-help" || fail "twistd3 does not list the docval plugin"
grep -q docval_plugin "$PLUGINS/dropin.cache" || fail "the plugin cache was not rebuilt"

step "systemd-analyze verify the units"
# It warns (exit 0) about unknown keys and bad values: any output is a failure.
out=$(timeout 60 systemd-analyze verify "$UNIT" /lib/systemd/system/docval@8081.service 2>&1) \
    || { echo "$out"; fail "systemd-analyze verify"; }
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify warns"; }
for want in 'User=docval' 'Restart=on-failure' 'ProtectSystem=strict' 'NoNewPrivileges=yes' \
            'PrivateTmp=yes' 'LimitNOFILE=65536' 'LimitCORE=0' 'ProtectProc=invisible' \
            'ProcSubset=pid' 'SystemCallFilter=@system-service'; do
    grep -qx "$want" "$UNIT" || fail "docval.service lacks $want"
done

step "trust the virtual passport's CSCA with docval-trust, as an operator would"
(cd / && $PY -c 'import sys; from docval.sim.pki import demo_csca_pem; sys.stdout.buffer.write(demo_csca_pem())') \
    >"$WORK/demo-csca.pem"
(cd / && timeout 60 docval-trust import "$WORK/demo-csca.pem") || fail "docval-trust import"
# list reads [trust] of the shipped /etc/docval/docval.toml, as the server will.
(cd / && timeout 60 docval-trust list) >"$WORK/trust-list" || fail "docval-trust list"
cat "$WORK/trust-list"
grep -q '^UT ' "$WORK/trust-list" || fail "the imported CSCA is not listed"

step "start the installed service as its unit does"
PORT=$(free_port); ADMIN=$(free_port)
cp /etc/docval/docval.toml "$WORK/shipped.toml"
# The administrator edits the conffile: the reinstall below must keep this edit.
cat >/etc/docval/docval.toml <<EOF
# edited by debian.sh
[server]
listen = "tcp:$PORT:interface=127.0.0.1"
[timeouts]
start_message = 10
apdu_response = 15
max_session = 90
[trust]
csca = ["/etc/docval/csca"]
[admin]
listen = "tcp:$ADMIN:interface=127.0.0.1"
[signing]
key_file = "/etc/docval/signing-key.pem"
[[client]]
client_id = "debian-ci"
sign_returned_result = true
EOF
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
read -r -a CMD <<<"$EXEC"
echo "as docval: $EXEC"
cd /
runuser -u docval -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "${CMD[@]}" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
cd "$ROOT"
for _ in $(seq 60); do
    [ "$(http_status "http://127.0.0.1:$ADMIN/healthz")" = 200 ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the service exited"
    sleep 0.5
done
[ "$(http_status "http://127.0.0.1:$ADMIN/healthz")" = 200 ] || fail "/healthz is not 200"
ps -o user= -p "$(pgrep -P "$SERVER_PID" | head -n1)" | grep -qx docval || fail "the service does not run as docval"
# The service (user docval) read the signing key and publishes what docval-keys prints.
$PY - "http://127.0.0.1:$ADMIN/jwks.json" "$WORK/jwks.json" <<'END' || fail "/jwks.json differs from docval-keys jwks"
import json, sys, urllib.request
served = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))
assert served == json.load(open(sys.argv[2])), served
END

step "validate a virtual passport against the installed service (docval-sim)"
# Exits 0 only when the server closed with 1000 after DONE; the result comes back to
# the phone (the test client has no Result Server).
(cd / && timeout 120 docval-sim --url "ws://127.0.0.1:$PORT/ws1/validate" --return-result \
    --client-id debian-ci) | tee "$WORK/sim.log" || fail "the virtual passport was not validated"
grep -q '^status  *DONE' "$WORK/sim.log" || fail "no DONE status"
grep -Eqi 'passive.authentication.*true' "$WORK/sim.log" \
    || fail "Passive Authentication against /etc/docval/csca did not succeed"
(cd / && timeout 120 docval-sim --api v2 --url "ws://127.0.0.1:$PORT/ws2/validate" \
    --client-id debian-ci) | tee "$WORK/sim2.log" || fail "the virtual passport was not validated over API v2"
grep -q '^verdict  *verified' "$WORK/sim2.log" || fail "API v2: the result is not what the profile expects"
$PY - "http://127.0.0.1:$ADMIN/metrics" <<'END' || fail "metrics do not count the sessions"
import sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
for api in ("v1", "v2"):
    line = f'docval_sessions_finished_total{{close_reason="none",outcome="success",protocol="{api}"}} 1.0'
    assert line in text, text
END

step "SIGHUP reloads the trust store (systemctl reload) while the service keeps running"
metric() {  # NAME -> its value on /metrics (first sample)
    $PY - "http://127.0.0.1:$ADMIN/metrics" "$1" <<'END'
import sys, urllib.request
for line in urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().splitlines():
    if line.startswith(sys.argv[2] + " "):
        print(line.split()[1])
        break
END
}
[ "$(metric docval_trust_store_certificates)" = 1.0 ] || fail "trust store size metric is not 1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/C=XZ/CN=DocVal CI extra CSCA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign -keyout /dev/null -out "$WORK/extra.pem" 2>/dev/null
(cd / && timeout 60 docval-trust import "$WORK/extra.pem") >/dev/null || fail "docval-trust import"
TWISTD_PID=$(pgrep -P "$SERVER_PID" | head -n1)
SESSION=$(( $(grep -c 'session .* started' "$WORK/server.log") + 1 ))   # the next session's number
# A slow chip (100 ms per APDU) keeps a session open across the reload: it must complete.
(cd / && timeout 120 docval-sim --url "ws://127.0.0.1:$PORT/ws1/validate" --return-result \
    --client-id debian-ci --chip-ms 150) >"$WORK/sim-reload.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 300); do     # until the server has logged that session's start
    [ "$(grep -c 'session .* started' "$WORK/server.log")" -ge "$SESSION" ] && break
    sleep 0.1
done
kill -HUP "$TWISTD_PID"      # what ExecReload= does
wait "$SIM_PID" || { cat "$WORK/sim-reload.log"; fail "a session running across the reload failed"; }
for _ in $(seq 40); do
    [ "$(metric docval_trust_store_certificates)" = 2.0 ] && break
    sleep 0.25
done
[ "$(metric docval_trust_store_certificates)" = 2.0 ] || fail "SIGHUP did not reload the trust store"
kill -0 "$TWISTD_PID" || fail "the service died on SIGHUP"
# The reload really happened while that session was open.
started=$(grep -n 'session .* started' "$WORK/server.log" | sed -n "${SESSION}p" | cut -d: -f1)
reloaded=$(grep -n 'trust store .*: 2 CSCA' "$WORK/server.log" | head -n1 | cut -d: -f1)
ended=$(grep -n 'session .* ended' "$WORK/server.log" | sed -n "${SESSION}p" | cut -d: -f1)
[ -n "$started" ] && [ -n "$reloaded" ] && [ -n "$ended" ] \
    && [ "$started" -lt "$reloaded" ] && [ "$reloaded" -lt "$ended" ] \
    || fail "the reload did not happen during a session (lines $started/$reloaded/$ended)"

stop_server
# Privacy: the journal gets steps, timings and outcomes, never the document (the virtual
# passport's number, names, birth date and expiry date).
grep -Eq 'DV7Q31K52|TRAVELLER|HAPPY|850312|340630' "$WORK/server.log" \
    && fail "the service log contains document data"
grep -q 'session .* ended: outcome=success' "$WORK/server.log" || fail "no session end line in the log"
grep -Eiq 'traceback' "$WORK/server.log" && { cat "$WORK/server.log"; fail "tracebacks in the server log"; }

step "nginx in front of two installed instances (tests/deploy/test_nginx.py)"
(cd "$ROOT" && DOCVAL_TEST_INSTALLED=1 timeout 300 /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    tests/deploy/test_nginx.py) || fail "nginx test"

step "upgrade to a newer version keeps the edited configuration"
VERSION=$(dpkg-parsechangelog -l "$WORK/src/debian/changelog" -S Version)
{ printf 'docval (%s+ci1) bookworm; urgency=medium\n\n  * CI upgrade test.\n\n -- %s  %s\n\n' \
      "$VERSION" "DocVal CI <ci@example.org>" "$(date -R)"
  cat "$WORK/src/debian/changelog"; } >"$WORK/changelog" && mv "$WORK/changelog" "$WORK/src/debian/changelog"
if ! (cd "$WORK/src" && timeout 600 dpkg-buildpackage -us -uc -b >"$WORK/build2.log" 2>&1); then
    tail -n 40 "$WORK/build2.log"; fail "dpkg-buildpackage of the upgrade"
fi
(cd "$WORK" && timeout 300 apt-get install -y -qq "./docval_${VERSION}+ci1_all.deb" </dev/null >/dev/null)
[ "$(dpkg-query -W -f='${Version}' docval)" = "${VERSION}+ci1" ] || fail "the upgrade was not installed"
head -n1 /etc/docval/docval.toml | grep -qx '# edited by debian.sh' || fail "the upgrade replaced the edited config"
[ "$(stat -c '%U:%G %a' /etc/docval/docval.toml)" = "root:docval 640" ] || fail "the upgrade changed config permissions"
ls /etc/docval/csca/ut-*.pem >/dev/null || fail "the upgrade lost imported trust anchors"
[ "$(sha256sum /etc/docval/signing-key.pem)" = "$KEY_SUM" ] || fail "the upgrade replaced the signing key"
(cd / && timeout 60 twistd3 --help) >"$WORK/twistd-help"
grep -q '^ *docval ' "$WORK/twistd-help" || fail "twistd3 lost the docval plugin on upgrade"

step "purge removes configuration, user and plugin"
timeout 300 apt-get purge -y -qq docval </dev/null >/dev/null
[ ! -e /etc/docval ] || fail "/etc/docval is still there"
! getent passwd docval >/dev/null || fail "user docval is still there"
! getent group docval >/dev/null || fail "group docval is still there"
[ ! -e "$PLUGINS/docval_plugin.py" ] || fail "the plugin is still there"
[ ! -e /usr/lib/python3/dist-packages/docval ] || fail "the docval package is still there"
! grep -q docval_plugin "$PLUGINS/dropin.cache" 2>/dev/null || fail "the plugin cache still lists docval"
! dpkg-statoverride --list /etc/docval/docval.toml >/dev/null || fail "statoverride left behind"
echo "debian: all checks passed"
