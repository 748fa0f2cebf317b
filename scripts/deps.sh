#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages gst-kling needs to build, test and run the demo, the same
# names on Debian 12 bookworm and Debian 13 trixie.
# Sourced by the scripts: `install_deps` installs what is missing, `setup_and_build` builds.
KLING_DEB_PACKAGES=(
  meson ninja-build pkg-config g++ python3
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libsoup-3.0-dev libjson-glib-dev libsqlite3-dev glib-networking ca-certificates
  libgnutls28-dev nettle-dev libpango1.0-dev libcairo2-dev
  libpq-dev postgresql
  nginx libnginx-mod-rtmp
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-base-apps gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-ges-1.0 gir1.2-gst-rtsp-server-1.0
  fonts-dejavu-core curl clang-format universal-ctags
  nodejs npm
)

install_deps() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local missing=()
  for p in "${KLING_DEB_PACKAGES[@]}"; do
    # A Node.js installed otherwise (e.g. NodeSource's, which bundles npm and
    # conflicts with Debian's npm) serves the SDK tests as well.
    case $p in
      nodejs) command -v node >/dev/null && continue ;;
      npm) command -v npm >/dev/null && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${1:-}" = "--always-update" ] || [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get update"
    $sudo apt-get update -qq
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing: ${missing[*]}"
    # nginx is only the tests' RTMP server (each test runs its own, on loopback): its
    # package must not start the system service on port 80. Without systemd (a container)
    # its postinst runs the init script unless a policy-rc.d refuses; on a systemd host
    # the service is also enabled for the next boot.
    local nginx_new="" no_start="" status=0
    [[ " ${missing[*]} " != *" nginx "* ]] || nginx_new=1
    if [ -n "$nginx_new" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
      no_start=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' | $sudo tee "$no_start" >/dev/null
      $sudo chmod 755 "$no_start"
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      || status=$?
    [ -z "$no_start" ] || $sudo rm -f "$no_start"
    if [ -n "$nginx_new" ] && [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
    return $status
  fi
}

# Configures build folder $1 with the meson options after it (reconfigures it
# when it exists), then builds it.
setup_and_build() {
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    # `meson configure`: meson 1.0's `setup --reconfigure` drops a new cpp_args.
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@"
  fi
  meson compile -C "$dir"
}
