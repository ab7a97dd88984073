#!/usr/bin/env bash
# Siaga installer for Raspberry Pi OS / Debian 12, run as root from a checkout:
#
#   sudo ./install.sh [--wheels DIR]        install, or bring an installation up to date
#       [--nats-server]                     and the site's NATS server on this box
#       [--hub]                             and the province hub (a machine with no lines)
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
# --nats-server (docs/cluster.md): Debian's nats-server package (installed beforehand) as the
# site's server: /etc/nats-server.conf with JetStream on the LAN in place of the package's
# default (an edited one is kept), the accounts `siaga nats-accounts` wrote in
# /etc/siaga/nats/ beside it as /etc/nats-accounts.conf, and a drop-in for its unit
# (systemd/nats-server.service.d/: the JetStream store /var/lib/nats, restarts).
# --hub (docs/cluster.md): /etc/siaga/hub.toml from a template (its own database,
# /var/lib/siaga/province.db; never overwritten), siaga-hub.service, started once hub.toml
# has a [cluster] table, and siaga-web.service pointed at hub.toml; the line service is
# not enabled (the hub takes no calls). Either role, once installed, is kept by later runs.
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
HUB_CONFIG=$ETC/hub.toml
HUB_WEB_DROPIN=$UNIT_DIR/siaga-web.service.d/hub.conf
NATS_CONF=/etc/nats-server.conf
NATS_ACCOUNTS=/etc/nats-accounts.conf # beside it: the server includes it by that name
NATS_DROPIN=$UNIT_DIR/nats-server.service.d/siaga.conf

changes=0
units_changed=0
code_changed=0
tls_changed=0
nats_changed=0
wheels=""
hub=0  # the roles: --hub, --nats-server, or installed by an earlier run
nats=0

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
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
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

# ensure_file SOURCE DEST MODE [GROUP]: copy a root-owned file (group root unless given)
# when its content, group or mode differs.
# Returns 0 when it changed something, 1 when DEST was already right.
ensure_file() {
    local source=$1 dest=$2 mode=$3 group=${4:-root}
    if [ -f "$dest" ] && cmp -s "$source" "$dest" \
        && [ "$(stat -c '%U:%G %a' "$dest")" = "root:$group ${mode#0}" ]; then
        return 1
    fi
    install -D -o root -g "$group" -m "$mode" "$source" "$dest"
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

# ------------------------------------------------------------------ the province hub (--hub)

# hub_config_template: /etc/siaga/hub.toml as --hub first writes it.
hub_config_template() {
    cat <<'EOF'
# Siaga province hub (/etc/siaga/hub.toml), made by install.sh --hub. `siaga hub`
# (siaga-hub.service) gathers every site's calls, verdicts, events and call-back lists
# into the database below and publishes its rules as the province's; the web UI
# (siaga-web.service) serves that database. docs/cluster.md, "The province hub";
# docs/config-example.toml in the Siaga checkout lists every key. After editing:
#   sudo -u siaga /opt/siaga/venv/bin/siaga config check /etc/siaga/hub.toml
#   sudo ./install.sh                  (starts siaga-hub once [cluster] is filled in)
#   sudo systemctl restart siaga-hub siaga-web

[site]
name = "Provinsi 112"
timezone = "Asia/Jakarta"   # WIB; WITA is Asia/Makassar, WIT Asia/Jayapura
language = "id"

[database]
path = "/var/lib/siaga/province.db"   # the province's: every site's calls, its rules

[web]
# "0.0.0.0" to reach the web UI from the network: HTTPS with the certificate in
# /etc/siaga/tls/, as on a box.
host = "127.0.0.1"
port = 8112

# The hub's NATS servers and its account (the administrator's, from siaga nats-accounts).
# [cluster]
# site = "banten"                       # as given to siaga nats-accounts --site
# appliance = "hub"
# servers = ["nats://127.0.0.1:4222"]
# user = "siaga-admin"
# password_file = "/etc/siaga/nats/siaga-admin.password"
# tls_ca = "/etc/siaga/nats/ca.crt"     # servers with a tls {} block
# site_domains = ["serang", "cilegon"]  # sites whose servers are leaf nodes of the hub's
EOF
}

# hub_web_dropin: siaga-web.service's own ExecStart (continued lines joined), its
# configuration hub.toml instead of config.toml: the web UI on the hub's database.
hub_web_dropin() {
    local exec
    exec=$(sed -n -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' -e '/^ExecStart=/{p;q}' \
        "$CHECKOUT/systemd/siaga-web.service")
    [[ $exec == *" --config $ETC/config.toml"* ]] \
        || die "systemd/siaga-web.service runs no --config $ETC/config.toml to point at $HUB_CONFIG"
    printf '%s\n' \
        "# Made by install.sh --hub from siaga-web.service's ExecStart: the web UI serves the" \
        "# province hub's database ($HUB_CONFIG), not this machine's call log." \
        "[Service]" \
        "ExecStart=" \
        "${exec/" --config $ETC/config.toml"/" --config $HUB_CONFIG"}"
}

ensure_hub() {
    if has_lines || { systemd_running && systemctl is-active --quiet siaga.service; }; then
        die "this box screens calls (siaga.service, [[lines]]): the hub goes on a machine" \
            "of its own (docs/cluster.md)"
    fi
    if [ -e "$HUB_CONFIG" ]; then
        ensure_owner_mode "$HUB_CONFIG" root "$USER_NAME" 0640
    else
        hub_config_template >"$HUB_CONFIG.new"
        install -o root -g "$USER_NAME" -m 0640 "$HUB_CONFIG.new" "$HUB_CONFIG"
        rm -f "$HUB_CONFIG.new"
        did "created $HUB_CONFIG: fill in its [cluster] table (the hub's servers)"
    fi
    local dropin
    dropin=$(mktemp)
    hub_web_dropin >"$dropin"
    if ensure_file "$dropin" "$HUB_WEB_DROPIN" 0644; then
        units_changed=1
    fi
    rm -f "$dropin"
    # `siaga nats-accounts` made the administrator's password here: the hub's to read.
    if [ -f "$ETC/nats/siaga-admin.password" ]; then
        ensure_owner_mode "$ETC/nats" root "$USER_NAME" 0750
        ensure_owner_mode "$ETC/nats/siaga-admin.password" "$USER_NAME" "$USER_NAME" 0600
    fi
}

# ------------------------------------------------------------------ the site's NATS server

# nats_server_template: /etc/nats-server.conf as --nats-server writes it.
nats_server_template() {
    cat <<'EOF'
# The NATS server of a Siaga site (docs/cluster.md), made by install.sh --nats-server in
# place of Debian's default (127.0.0.1 only, no JetStream). install.sh never rewrites it:
# edit it for TLS, three servers or the province's leaf nodes (docs/cluster.md), then
# sudo systemctl restart nats-server.
listen: "0.0.0.0:4222"
jetstream { store_dir: "/var/lib/nats" }
# The boxes' accounts: install.sh copies /etc/siaga/nats/nats-accounts.conf here once
# siaga nats-accounts has written it; until then the file is empty and any client may
# connect.
include nats-accounts.conf
EOF
}

# The accounts file until `siaga nats-accounts` writes the real one.
nats_accounts_placeholder() {
    cat <<'EOF'
# No accounts yet: any client may connect. Write them with
#   sudo /opt/siaga/venv/bin/siaga nats-accounts --site SITE --out /etc/siaga/nats box1 box2
# then run sudo ./install.sh again, which copies them here (docs/cluster.md).
EOF
}

# True for Debian's nats-server.conf as shipped: a server on 127.0.0.1:4222, no JetStream.
nats_conf_is_debians() {
    [ "$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$NATS_CONF" | grep -v '^$' | sort \
        | paste -sd' ' -)" = "host:127.0.0.1 port:4222" ]
}

ensure_nats_server() {
    if [ ! -x /usr/sbin/nats-server ] || ! getent group nats >/dev/null; then
        die "nats-server is missing: apt-get install nats-server"
    fi
    local made
    made=$(mktemp)
    if [ ! -e "$NATS_CONF" ] || nats_conf_is_debians; then
        nats_server_template >"$made"
        if ensure_file "$made" "$NATS_CONF" 0644; then
            nats_changed=1
        fi
    elif ! grep -Eq '^[[:space:]]*jetstream' "$NATS_CONF"; then
        say "warning: $NATS_CONF (kept, edited) has no jetstream block: sharing needs one"
    fi
    if [ -f "$ETC/nats/nats-accounts.conf" ]; then
        ensure_owner_mode "$ETC/nats" root "$USER_NAME" 0750 # each box reaches its own file
        if ensure_file "$ETC/nats/nats-accounts.conf" "$NATS_ACCOUNTS" 0640 nats; then
            nats_changed=1
        fi
        grep -q 'nats-accounts\.conf' "$NATS_CONF" \
            || say "warning: $NATS_CONF does not include nats-accounts.conf: no accounts apply"
    elif [ -e "$NATS_ACCOUNTS" ]; then
        ensure_owner_mode "$NATS_ACCOUNTS" root nats 0640
    else
        nats_accounts_placeholder >"$made"
        if ensure_file "$made" "$NATS_ACCOUNTS" 0640 nats; then
            nats_changed=1
        fi
    fi
    rm -f "$made"
    if ensure_file "$CHECKOUT/systemd/nats-server.service.d/siaga.conf" "$NATS_DROPIN" 0644; then
        units_changed=1
        nats_changed=1
    fi
}

has_lines() { grep -Eq '^[[:space:]]*\[\[[[:space:]]*lines[[:space:]]*\]\]' "$ETC/config.toml"; }

# Sharing with the site's other appliances (docs/cluster.md) runs only with a [cluster] table,
# and so does the hub (in hub.toml).
has_cluster() {
    grep -Eq '^[[:space:]]*\[[[:space:]]*cluster[[:space:]]*\]' "${1:-$ETC/config.toml}"
}

wanted() {
    case "$1" in
        siaga.service) [ "$hub" = 0 ] ;; # the hub takes no calls
        siaga-sync.service) has_cluster ;;
        siaga-hub.service) has_cluster "$HUB_CONFIG" ;;
        *) true ;;
    esac
}

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
    if [ "$hub" = 1 ] && systemctl is-enabled --quiet siaga.service 2>/dev/null; then
        systemctl disable --quiet siaga.service
        did "disabled siaga.service: the hub takes no calls"
    fi
    if [ "$nats" = 1 ] && ! systemctl is-enabled --quiet nats-server.service 2>/dev/null; then
        systemctl enable --quiet nats-server.service
        did "enabled nats-server.service"
    fi
    if ! systemd_running; then
        say "systemd is not running here (a chroot?): units enabled, nothing started or reloaded"
        return
    fi
    if [ "$nats" = 1 ] && [ "$nats_changed" = 1 ]; then
        systemctl restart nats-server.service # its configuration, accounts or drop-in changed
        did "restarted nats-server.service"
    elif [ "$nats" = 1 ]; then
        start_unit nats-server.service
    fi
    if [ "$code_changed" = 1 ] || [ "$units_changed" = 1 ]; then
        systemctl try-restart "${UNITS[@]}"
    elif [ "$tls_changed" = 1 ]; then
        systemctl try-restart siaga-web.service # it reads its certificate when it starts
    fi
    start_unit siaga-web.service
    if [ "$hub" = 1 ]; then
        if has_cluster "$HUB_CONFIG"; then
            start_unit siaga-hub.service
        else
            say "$HUB_CONFIG has no [cluster] yet: siaga-hub.service starts once it has one" \
                "(sudo ./install.sh again)"
        fi
    elif has_lines; then
        start_unit siaga.service
    else
        # Started without a line too, not waited for: `siaga run` refuses and systemd tries
        # again every 5 s, so a first line saved on the web UI's Lines page is screened
        # within seconds, with no command to remember.
        systemctl is-active --quiet siaga.service || systemctl start --no-block siaga.service
        say "$ETC/config.toml has no [[lines]] yet: siaga.service screens once a line is" \
            "added there or on the web UI's Lines page (it tries again every 5 s until then)"
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
    if [ -f "$UNIT_DIR/siaga-hub.service" ]; then
        hub=1 # installed by an earlier --hub
    fi
    if [ -f "$NATS_DROPIN" ]; then
        nats=1 # installed by an earlier --nats-server
    fi
    if [ "$hub" = 1 ]; then
        UNITS+=(siaga-hub.service)
    fi
    ensure_user
    ensure_directories
    ensure_config
    if [ "$hub" = 1 ]; then
        ensure_hub
    fi
    if [ "$nats" = 1 ]; then
        ensure_nats_server
    fi
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
        for unit in "${UNITS[@]}" siaga-hub.service; do
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
        "$UNIT_DIR/siaga-hub.service" "$UNIT_DIR/siaga-web.service.d" \
        "$RULES" "$JOURNALD_CONF" "$PREFIX"
    if [ -f "$NATS_DROPIN" ]; then
        remove "$NATS_DROPIN"
        rmdir --ignore-fail-on-non-empty "$(dirname "$NATS_DROPIN")"
        say "kept nats-server, $NATS_CONF, $NATS_ACCOUNTS and its store /var/lib/nats" \
            "(apt-get purge nats-server removes the package's)"
    fi
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
            --hub) hub=1 && shift ;;
            --nats-server) nats=1 && shift ;;
            --uninstall) mode=uninstall && shift ;;
            --purge) purge=1 && shift ;;
            -h | --help) usage ;;
            *) usage ;;
        esac
    done
    [ "$(id -u)" = 0 ] || die "run as root (sudo ./install.sh)"
    if [ "$mode" = uninstall ]; then
        [ "$hub$nats" = 00 ] || die "--hub and --nats-server go with an installation"
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
