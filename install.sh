#!/usr/bin/env bash
# Siaga installer for Raspberry Pi OS / Debian 12, run as root from a checkout:
#
#   sudo ./install.sh [--wheels DIR]        install, or bring an installation up to date
#   sudo ./install.sh --uninstall [--purge] remove it (--purge: the data and config too)
#
# It creates the `siaga` system user (groups dialout, and gpio where it exists), the
# virtual environment /opt/siaga/venv with this checkout installed in it, at the versions
# requirements.lock pins (from PyPI, or offline from the wheels in DIR:
# `pip wheel --no-deps . -w DIR && pip download -c requirements.lock -d DIR .` on a
# machine with the same Python version and architecture), /etc/siaga/config.toml
# from a commented template (an existing one is never overwritten), /etc/siaga/prompts/,
# /var/lib/siaga, the web UI's certificate authority and server certificate in
# /etc/siaga/tls/ (made with openssl: the CA is kept, the certificate renewed when the
# box's names or addresses change or it nears its end), the udev rules (udev/), the
# systemd units and a journald drop-in (systemd/), then reloads systemd and enables both
# units. Outside a running systemd (a chroot, an image build) the units are enabled but
# nothing is started or reloaded.
# Running it again changes nothing unless something differs; it says what it did.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too

CHECKOUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/opt/siaga
VENV=$PREFIX/venv
STAMP=$VENV/.siaga-installed
ETC=/etc/siaga
DATA=/var/lib/siaga
USER_NAME=siaga
UNIT_DIR=/etc/systemd/system
RULES=/etc/udev/rules.d/99-siaga-modems.rules
JOURNALD_CONF=/etc/systemd/journald.conf.d/siaga.conf
UNITS=(siaga.service siaga-web.service siaga-sync.service)
TLS_DIR=$ETC/tls
CA_DAYS=7300     # the box's own certificate authority: 20 years (the desks import it once)
SERVER_DAYS=825  # the web UI's certificate: the longest validity every browser accepts
RENEW_DAYS=60    # a certificate with fewer days left is renewed by the next run

changes=0
units_changed=0
code_changed=0
tls_changed=0
wheels=""

say() { echo "install.sh: $*"; }
did() {
    say "$*"
    changes=$((changes + 1))
}
die() {
    echo "install.sh: error: $*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
# systemd is running as init (sd_booted(3)): false in a chroot or a container without it.
systemd_running() { [ -d /run/systemd/system ] && have systemctl; }

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

# ------------------------------------------------------------------ small idempotent steps

# ensure_dir PATH OWNER GROUP MODE: create it, or put its owner and mode right.
ensure_dir() {
    local path=$1 owner=$2 group=$3 mode=$4
    if [ ! -d "$path" ]; then
        install -d -o "$owner" -g "$group" -m "$mode" "$path"
        did "created $path ($owner:$group $mode)"
    else
        ensure_owner_mode "$path" "$owner" "$group" "$mode"
    fi
}

# ensure_owner_mode PATH OWNER GROUP MODE [-R]: fix an existing path's owner and mode.
ensure_owner_mode() {
    local path=$1 owner=$2 group=$3 mode=$4 recursive=${5:-}
    if [ "$(stat -c '%U:%G %a' "$path")" != "$owner:$group ${mode#0}" ]; then
        if [ "$recursive" = "-R" ]; then
            chown -R "$owner:$group" "$path"
        else
            chown "$owner:$group" "$path"
        fi
        chmod "$mode" "$path"
        did "set $path to $owner:$group $mode"
    fi
}

# ensure_file SOURCE DEST MODE: copy a root-owned file when its content or mode differs.
# Returns 0 when it changed something, 1 when DEST was already right.
ensure_file() {
    local source=$1 dest=$2 mode=$3
    if [ -f "$dest" ] && cmp -s "$source" "$dest" \
        && [ "$(stat -c '%U:%G %a' "$dest")" = "root:root ${mode#0}" ]; then
        return 1
    fi
    install -D -o root -g root -m "$mode" "$source" "$dest"
    did "installed $dest"
    return 0
}

# remove PATH...: delete files or directories that exist, saying so.
remove() {
    local path
    for path in "$@"; do
        if [ -e "$path" ] || [ -L "$path" ]; then
            rm -rf -- "$path"
            did "removed $path"
        fi
    done
}

# ------------------------------------------------------------------ install

ensure_user() {
    if ! getent passwd "$USER_NAME" >/dev/null; then
        useradd --system --user-group --home-dir "$DATA" --no-create-home \
            --shell /usr/sbin/nologin --comment "Siaga call screening" "$USER_NAME"
        did "created system user $USER_NAME"
    fi
    local group
    for group in dialout gpio; do
        if ! getent group "$group" >/dev/null; then
            [ "$group" = gpio ] && say "no gpio group (not a Raspberry Pi OS): board I/O needs one"
            continue
        fi
        if ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$group"; then
            usermod -a -G "$group" "$USER_NAME"
            did "added $USER_NAME to group $group"
        fi
    done
}

ensure_directories() {
    ensure_dir "$ETC" root "$USER_NAME" 0750
    ensure_dir "$ETC/prompts" root "$USER_NAME" 0750
    if [ -d "$DATA" ]; then
        # Kept from an earlier installation, maybe under another uid: take all of it over.
        ensure_owner_mode "$DATA" "$USER_NAME" "$USER_NAME" 0750 -R
    else
        ensure_dir "$DATA" "$USER_NAME" "$USER_NAME" 0750
    fi
    ensure_dir "$PREFIX" root root 0755
}

ensure_config() {
    local config=$ETC/config.toml
    if [ -e "$config" ]; then
        ensure_owner_mode "$config" root "$USER_NAME" 0640
        return
    fi
    install -o root -g "$USER_NAME" -m 0640 "$CHECKOUT/docs/config-template.toml" "$config"
    did "created $config from docs/config-template.toml: add your [[lines]] there"
}

# ------------------------------------------------------------------ the web UI's certificates
# The tls_* functions take a directory and change no owner: the tests source this script
# and make their certificates with them, exactly as the installer does.

# tls_openssl_config CN SANS: openssl's configuration for the CA and the server certificate.
tls_openssl_config() {
    cat <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
O = Siaga
CN = $1
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $2
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

# quietly COMMAND...: run it, showing its output only when it fails.
quietly() {
    local output
    if ! output=$("$@" 2>&1); then
        echo "$output" >&2
        return 1
    fi
}

# tls_new_key FILE: a new P-256 private key, readable by its owner only.
tls_new_key() {
    (umask 077 && quietly openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1")
}

# tls_make_ca DIR LABEL: a new certificate authority, DIR/siaga-ca.key and DIR/siaga-ca.crt.
tls_make_ca() {
    local dir=$1 label=$2
    tls_new_key "$dir/siaga-ca.key"
    quietly openssl req -x509 -new -config <(tls_openssl_config "$label" "DNS:localhost") \
        -extensions ca -key "$dir/siaga-ca.key" -sha256 -days "$CA_DAYS" -out "$dir/siaga-ca.crt"
}

# tls_make_server_cert DIR SANS CN: a new key and certificate for SANS ("DNS:a,IP:b"),
# signed by DIR's CA: DIR/server.key, DIR/server.crt, and DIR/server.names (the SANS).
tls_make_server_cert() {
    local dir=$1 sans=$2 cn=$3
    tls_new_key "$dir/server.key.new"
    openssl req -new -config <(tls_openssl_config "$cn" "$sans") -key "$dir/server.key.new" \
        | quietly openssl x509 -req -CA "$dir/siaga-ca.crt" -CAkey "$dir/siaga-ca.key" \
            -set_serial "0x$(openssl rand -hex 16)" -days "$SERVER_DAYS" -sha256 \
            -extfile <(tls_openssl_config "$cn" "$sans") -extensions server \
            -out "$dir/server.crt.new"
    mv "$dir/server.key.new" "$dir/server.key"
    mv "$dir/server.crt.new" "$dir/server.crt"
    echo "$sans" >"$dir/server.names"
}

# tls_server_cert_current DIR SANS: true when DIR/server.crt is for exactly SANS, signed by
# DIR's CA, made for DIR/server.key, and valid for more than RENEW_DAYS.
tls_server_cert_current() {
    local dir=$1 sans=$2
    [ -f "$dir/server.crt" ] && [ -f "$dir/server.key" ] && [ -f "$dir/server.names" ] \
        && [ "$(cat "$dir/server.names")" = "$sans" ] \
        && openssl x509 -noout -checkend $((RENEW_DAYS * 86400)) -in "$dir/server.crt" >/dev/null \
        && openssl verify -CAfile "$dir/siaga-ca.crt" "$dir/server.crt" >/dev/null 2>&1 \
        && [ "$(openssl x509 -noout -pubkey -in "$dir/server.crt")" \
            = "$(openssl pkey -pubout -in "$dir/server.key")" ]
}

# tls_wanted_sans: what the server certificate must name, sorted: the host name, NAME.local
# (mDNS), localhost, 127.0.0.1, ::1, every address of the box (hostname -I), and each line
# of $TLS_DIR/extra-names (more names or addresses; # starts a comment).
tls_wanted_sans() {
    local host entry entries=()
    host=$(hostname)
    host=${host,,}
    entries+=("DNS:$host" "DNS:$host.local" "DNS:localhost" "IP:127.0.0.1" "IP:::1")
    for entry in $(hostname -I 2>/dev/null || true); do
        entries+=("IP:$entry")
    done
    if [ -f "$TLS_DIR/extra-names" ]; then
        while read -r entry; do
            entry=${entry%%#*}
            entry=${entry//[[:space:]]/}
            [ -n "$entry" ] || continue
            if [[ $entry =~ ^[0-9.]+$ || $entry == *:* ]]; then
                entries+=("IP:$entry")
            else
                entries+=("DNS:${entry,,}")
            fi
        done <"$TLS_DIR/extra-names"
    fi
    printf '%s\n' "${entries[@]}" | sort -u | paste -sd, -
}

ensure_tls() {
    have openssl || die "openssl is missing: apt-get install openssl"
    ensure_dir "$TLS_DIR" root "$USER_NAME" 0750
    if [ ! -f "$TLS_DIR/siaga-ca.key" ] || [ ! -f "$TLS_DIR/siaga-ca.crt" ]; then
        tls_make_ca "$TLS_DIR" "Siaga CA $(hostname) $(date +%Y-%m-%d)"
        did "made the web UI's certificate authority $TLS_DIR/siaga-ca.crt: import it in" \
            "the desks' browsers (docs/operations.md); its" \
            "$(openssl x509 -noout -fingerprint -sha256 -in "$TLS_DIR/siaga-ca.crt")"
    fi
    local sans
    sans=$(tls_wanted_sans)
    if ! tls_server_cert_current "$TLS_DIR" "$sans"; then
        tls_make_server_cert "$TLS_DIR" "$sans" "$(hostname)"
        tls_changed=1
        did "made the web UI's certificate $TLS_DIR/server.crt for $sans"
    fi
    ensure_owner_mode "$TLS_DIR/siaga-ca.key" root root 0600
    ensure_owner_mode "$TLS_DIR/siaga-ca.crt" root root 0644
    ensure_owner_mode "$TLS_DIR/server.key" root "$USER_NAME" 0640
    ensure_owner_mode "$TLS_DIR/server.crt" root root 0644
    ensure_owner_mode "$TLS_DIR/server.names" root root 0644
}

# What the venv should hold: the wheel's hash with --wheels, else the checkout's sources.
wanted_stamp() {
    if [ -n "$wheels" ]; then
        local wheel
        wheel=$(siaga_wheel)
        echo "wheel $(cat "$wheel" "$CHECKOUT/requirements.lock" | sha256sum | cut -d' ' -f1)"
    else
        echo "source $(cd "$CHECKOUT" && find pyproject.toml requirements.lock README.md \
            firmware appliance web_ui \
            -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
            | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
    fi
}

siaga_wheel() {
    local found
    found=$(find "$wheels" -maxdepth 1 -name 'siaga-*.whl' | sort -V | tail -n 1)
    [ -n "$found" ] || die "no siaga-*.whl in $wheels (pip wheel --no-deps . -w $wheels)"
    echo "$found"
}

# A wheel of the checkout, built from a copy so the checkout gets no root-owned build files.
build_wheel() {
    local work=$1
    mkdir -p "$work/src" "$work/dist"
    cp -r "$CHECKOUT/pyproject.toml" "$CHECKOUT/README.md" "$CHECKOUT/firmware" \
        "$CHECKOUT/appliance" "$CHECKOUT/web_ui" "$work/src/"
    "$VENV/bin/pip" wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" "$work/src"
    find "$work/dist" -name 'siaga-*.whl' | head -n 1
}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV" || die "python3 -m venv failed: apt-get install python3-venv"
        did "created the virtual environment $VENV"
    fi
    local wanted
    wanted=$(wanted_stamp)
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
        return
    fi
    local pip=("$VENV/bin/pip" install --quiet --disable-pip-version-check
        --constraint "$CHECKOUT/requirements.lock") wheel work
    if [ -n "$wheels" ]; then
        pip+=(--no-index --find-links "$wheels")
        wheel=$(siaga_wheel)
    else
        work=$(mktemp -d)
        # shellcheck disable=SC2064 # expand now: $work is local
        trap "rm -rf '$work'" EXIT
        wheel=$(build_wheel "$work")
    fi
    [ -f "$wheel" ] || die "no siaga wheel to install"
    "${pip[@]}" "$wheel"                             # siaga and any dependency missing
    "${pip[@]}" --force-reinstall --no-deps "$wheel" # this build, even at the same version
    echo "$wanted" >"$STAMP"
    code_changed=1
    did "installed $(basename "$wheel") into $VENV"
}

ensure_system_files() {
    if ensure_file "$CHECKOUT/udev/99-siaga-modems.rules" "$RULES" 0644 \
        && [ -S /run/udev/control ] && have udevadm; then
        udevadm control --reload
        udevadm trigger --subsystem-match=tty --subsystem-match=usb
        say "udev rules reloaded: see ls -l /dev/siaga/"
    fi
    local unit
    for unit in "${UNITS[@]}"; do
        ensure_file "$CHECKOUT/systemd/$unit" "$UNIT_DIR/$unit" 0644 && units_changed=1
    done
    if getent group gpio >/dev/null; then
        ensure_file "$CHECKOUT/systemd/siaga.service.d/gpio.conf" \
            "$UNIT_DIR/siaga.service.d/gpio.conf" 0644 && units_changed=1
    fi
    if ensure_file "$CHECKOUT/systemd/journald-siaga.conf" "$JOURNALD_CONF" 0644 \
        && systemd_running; then
        systemctl restart systemd-journald
    fi
}

has_lines() { grep -Eq '^[[:space:]]*\[\[[[:space:]]*lines[[:space:]]*\]\]' "$ETC/config.toml"; }

# Sharing with the site's other appliances (docs/cluster.md) runs only with a [cluster] table.
has_cluster() { grep -Eq '^[[:space:]]*\[[[:space:]]*cluster[[:space:]]*\]' "$ETC/config.toml"; }

wanted() { [ "$1" != siaga-sync.service ] || has_cluster; }

enable_units() {
    if ! have systemctl; then
        say "no systemctl: units copied to $UNIT_DIR but not enabled"
        return
    fi
    if systemd_running && [ "$units_changed" = 1 ]; then
        systemctl daemon-reload
        did "reloaded systemd"
    fi
    local unit
    for unit in "${UNITS[@]}"; do
        if wanted "$unit" && ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
            systemctl enable --quiet "$unit"
            did "enabled $unit"
        fi
    done
    if ! systemd_running; then
        say "systemd is not running here (a chroot?): units enabled, nothing started or reloaded"
        return
    fi
    if [ "$code_changed" = 1 ] || [ "$units_changed" = 1 ]; then
        systemctl try-restart "${UNITS[@]}"
    elif [ "$tls_changed" = 1 ]; then
        systemctl try-restart siaga-web.service # it reads its certificate when it starts
    fi
    start_unit siaga-web.service
    if has_lines; then
        start_unit siaga.service
    else
        say "$ETC/config.toml has no [[lines]] yet: siaga.service starts once you add them" \
            "(systemctl start siaga)"
    fi
    if has_cluster; then
        start_unit siaga-sync.service
    fi
}

start_unit() {
    if ! systemctl is-active --quiet "$1"; then
        systemctl start "$1"
        did "started $1"
    fi
}

install_all() {
    have python3 || die "python3 is missing: apt-get install python3 python3-venv"
    ensure_user
    ensure_directories
    ensure_config
    ensure_tls
    ensure_venv
    ensure_system_files
    enable_units
    if [ "$changes" = 0 ]; then
        say "nothing to change: the installation is up to date"
    else
        say "done: $changes change(s)"
    fi
}

# ------------------------------------------------------------------ uninstall

uninstall_all() {
    local purge=$1 unit
    if have systemctl; then
        for unit in "${UNITS[@]}"; do
            if systemd_running && systemctl is-active --quiet "$unit"; then
                systemctl stop "$unit"
                did "stopped $unit"
            fi
            if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
                systemctl disable --quiet "$unit"
                did "disabled $unit"
            fi
        done
    fi
    remove "$UNIT_DIR/siaga.service" "$UNIT_DIR/siaga-web.service" \
        "$UNIT_DIR/siaga-sync.service" "$UNIT_DIR/siaga.service.d" \
        "$RULES" "$JOURNALD_CONF" "$PREFIX"
    if systemd_running; then
        systemctl daemon-reload
    fi
    if getent passwd "$USER_NAME" >/dev/null; then
        userdel "$USER_NAME"
        did "removed user $USER_NAME"
    fi
    if [ "$purge" = 1 ]; then
        remove "$ETC" "$DATA"
    else
        say "kept $ETC and $DATA (the configuration, the web UI's certificate authority and" \
            "the call log): --purge removes them"
    fi
    say "uninstalled: $changes change(s)"
}

# ------------------------------------------------------------------ main

main() {
    local mode=install purge=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --wheels)
                [ $# -ge 2 ] || usage
                wheels=$(cd "$2" && pwd) || die "no wheel directory $2"
                shift 2
                ;;
            --uninstall) mode=uninstall && shift ;;
            --purge) purge=1 && shift ;;
            -h | --help) usage ;;
            *) usage ;;
        esac
    done
    [ "$(id -u)" = 0 ] || die "run as root (sudo ./install.sh)"
    if [ "$mode" = uninstall ]; then
        uninstall_all "$purge"
    else
        [ "$purge" = 0 ] || die "--purge goes with --uninstall"
        install_all
    fi
}

# Sourced (the tests make their certificates with the tls_* functions): define, do not run.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
