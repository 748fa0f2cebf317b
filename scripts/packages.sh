#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages of one release, built and checked (CI stages; need root):
#
#   scripts/packages.sh build RELEASE   build them from this clone's files (what a fresh
#                                       clone has: tracked and untracked files, not ignored
#                                       ones): natively on this machine's own release, else
#                                       in a throwaway copy of RELEASE's minimal system
#   scripts/packages.sh check RELEASE   install them with apt into a clean copy of RELEASE's
#                                       minimal system and use them there
#
# build: `apt-get build-dep ./`, `dpkg-buildpackage -us -uc -b`, lintian (no error).
# check: as a plain user, with no environment variable, gst-inspect-1.0 finds klingsrc and
# klinglivesrc, kling-tasks --help exits 0, a klingsrc pipeline makes a video against
# kling-emulator on loopback; then purging both packages (and autoremove) leaves no file
# behind. The .deb files and logs are in build-packages/RELEASE/; each check is one
# `ok - ...`/`not ok - ...` line, printed and appended to build-packages/RELEASE/checks.tap
# (for .ci/run's closing count). Exits 1 when one failed.
# KLING_CHROOT_DIR=DIR scripts/packages.sh build RELEASE: build in that copy of RELEASE's
# system, already made and mounted by chroot_enter (.ci/run's trixie copy).
set -uo pipefail

check() { # DESCRIPTION COMMAND...: one TAP line, the command's output as comments on failure
  local what=$1
  shift
  if "$@" >/tmp/kling-check.log 2>&1; then
    echo "ok - $what"
  else
    echo "not ok - $what"
    sed 's/^/#   /' /tmp/kling-check.log | tail -n 25
  fi
}

# Every file of the system but the kernel's, the users', the temporary ones and apt's own
# lists, downloads and logs.
snapshot() {
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
    -o -path /var/tmp -o -path /home -o -path /root -o -path /var/cache/apt -o -path /var/lib/apt \
    -o -path /var/log -o -name '*-old' \) -prune -o -print | sort
}

inside_build() { # RELEASE DIR: the .deb files land beside DIR
  local release=$1 dir=$2
  export DEBIAN_FRONTEND=noninteractive
  cd "$dir" || return 1
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends build-essential lintian >/dev/null
  check "$release: apt-get build-dep ./ installs the Build-Depends" apt-get build-dep -y -qq ./
  if dpkg-buildpackage -us -uc -b >../build.log 2>&1; then
    echo "ok - $release: dpkg-buildpackage -us -uc -b on a fresh clone"
  else
    echo "not ok - $release: dpkg-buildpackage -us -uc -b on a fresh clone"
    tail -n 40 ../build.log | sed 's/^/#   /'
    return 1
  fi
  # No error (warnings and notes are printed as comments, not counted).
  local status=0
  lintian --allow-root --fail-on error ../gst-kling_*.changes >../lintian.log 2>&1 || status=1
  sed 's/^/#   /' ../lintian.log
  if [ $status = 0 ]; then echo "ok - $release: lintian reports no error"; else echo "not ok - $release: lintian reports no error"; fi
}

inside_check() { # RELEASE, in the folder of the .deb files
  local release=$1
  export DEBIAN_FRONTEND=noninteractive
  useradd -m checker || return 1
  apt-get update -qq || return 1
  # An init, as any installed Debian system has (apt never removes it again once a
  # dependency, here D-Bus's user session, has pulled it in).
  apt-get install -y -qq systemd-sysv >/dev/null || return 1
  dpkg-query -W -f '${Package}\n' | sort >packages-before.txt
  snapshot >files-before.txt
  # Depends only: they alone must be enough. The tools serve the checks and go with the rest.
  check "$release: apt installs both packages into a clean minimal system" \
    apt-get install -y -qq --no-install-recommends ./gstreamer1.0-kling_*.deb ./kling-emulator_*.deb \
    gstreamer1.0-tools gstreamer1.0-plugins-base-apps
  apt-mark auto gstreamer1.0-tools gstreamer1.0-plugins-base-apps >/dev/null
  as_user() { runuser -l checker -c "$1"; }
  check "$release: gst-inspect-1.0 klingsrc (no environment variable)" as_user 'gst-inspect-1.0 klingsrc | grep -q "Long-name"'
  check "$release: gst-inspect-1.0 klinglivesrc (no environment variable)" as_user 'gst-inspect-1.0 klinglivesrc | grep -q "Long-name"'
  check "$release: the plugin's license is LGPL" as_user 'gst-inspect-1.0 kling | grep -E "^ +License +LGPL$"'
  check "$release: kling-tasks --help exits 0" as_user 'kling-tasks --help | grep -q usage'
  check "$release: manual pages of kling-tasks and kling-emulator" \
    test -f /usr/share/man/man1/kling-tasks.1.gz -a -f /usr/share/man/man1/kling-emulator.1.gz
  # klingsrc against kling-emulator on loopback: 5 s of H.264 in an MP4.
  check "$release: klingsrc ! filesink makes a video against kling-emulator" as_user '
    set -e
    kling-emulator --latency-ms 500 --video-scale 4 >emulator.out 2>emulator.err &
    pid=$!
    trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null" EXIT
    for i in $(seq 100); do grep -q "^API:" emulator.out && break; sleep 0.1; done
    api=$(sed -n "s/^API: //p" emulator.out)
    timeout 120 gst-launch-1.0 -q -e klingsrc api-url="$api" api-key=emulator-key \
      prompt="a red fox in snow" journal=none ! filesink location=fox.mp4
    gst-discoverer-1.0 fox.mp4 >discoverer.txt
    cat discoverer.txt
    grep -q "H.264" discoverer.txt
    grep -Eq "Duration: 0:00:0(4\.9|5\.0)" discoverer.txt'
  userdel -r checker 2>/dev/null
  apt-get purge -y -qq gstreamer1.0-kling kling-emulator >purge.log 2>&1
  apt-get autoremove --purge -y -qq >>purge.log 2>&1
  check "$release: apt-get purge removes both packages, configuration included" \
    sh -c '! dpkg-query -W gstreamer1.0-kling kling-emulator'
  # What apt's policy keeps (a library the base system recommends or suggests, now
  # installed) is named, then purged: the files compared are what dpkg leaves.
  local kept
  kept=$(dpkg-query -W -f '${Package}\n' | sort | comm -13 packages-before.txt -)
  if [ -n "$kept" ]; then
    echo "# kept by autoremove (the base system recommends or suggests them):" $kept
    # shellcheck disable=SC2086
    apt-get purge -y -qq $kept >>purge.log 2>&1
  fi
  snapshot >files-after.txt
  diff files-before.txt files-after.txt >left-behind.txt
  check "$release: apt-get purge leaves no file behind" test ! -s left-behind.txt -a -s files-after.txt
  sed 's/^/#   /' left-behind.txt | head -n 60
}

if [ "${1:-}" = "--inside" ]; then
  case ${2:-} in
    build) inside_build "$3" "$4" ;;
    check) inside_check "$3" ;;
    *) exit 2 ;;
  esac
  exit 0
fi

# ---- On the host. ----
mode=${1:-}
release=${2:-}
case $mode in build | check) [ -n "$release" ] ;; *) false ;; esac ||
  { echo "usage: scripts/packages.sh build|check RELEASE" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build-packages/$release"
source "$root/scripts/chroot.sh"
if [ "$mode" = build ]; then
  rm -rf "$out"
fi
mkdir -p "$out"
tap="$out/checks.tap"
start=0
[ ! -f "$tap" ] || start=$(wc -l <"$tap")

{
  if [ "$mode" = build ] && [ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = "$release" ]; then
    tmp=$(mktemp -d)
    (
      trap 'rm -rf "$tmp"' EXIT
      chroot_copy_tree "$root" "$tmp/gst-kling" && inside_build "$release" "$tmp/gst-kling"
      cp "$tmp"/*.deb "$tmp"/build.log "$tmp"/lintian.log "$out/" 2>/dev/null
    )
  elif [ "$mode" = build ]; then
    (
      # KLING_CHROOT_DIR: a copy of RELEASE's system already made and mounted (.ci/run's
      # trixie copy, where test.sh installed most Build-Depends already).
      if [ -n "${KLING_CHROOT_DIR:-}" ]; then
        CHROOT_DIR=$KLING_CHROOT_DIR
        rm -rf "$CHROOT_DIR/root/pkg"
      else
        chroot_enter "$release" || exit 1
      fi
      chroot_copy_tree "$root" /root/pkg/gst-kling
      chroot_run bash /root/pkg/gst-kling/scripts/packages.sh --inside build "$release" /root/pkg/gst-kling
      cp "$CHROOT_DIR"/root/pkg/*.deb "$CHROOT_DIR"/root/pkg/build.log "$CHROOT_DIR"/root/pkg/lintian.log "$out/" 2>/dev/null
    )
  elif ls "$out"/gstreamer1.0-kling_*.deb "$out"/kling-emulator_*.deb >/dev/null 2>&1; then
    (
      chroot_enter "$release" || exit 1
      mkdir -p "$CHROOT_DIR/root/pkg"
      cp "$out"/*.deb "$root/scripts/packages.sh" "$CHROOT_DIR/root/pkg/"
      chroot_run bash -c 'cd /root/pkg && bash packages.sh --inside check "$0"' "$release"
      cp "$CHROOT_DIR"/root/pkg/*.txt "$CHROOT_DIR"/root/pkg/purge.log "$out/" 2>/dev/null
    )
  else
    echo "not ok - $release: the packages install and work (no package was built)"
  fi
} 2>&1 | tee -a "$tap"
! tail -n +"$((start + 1))" "$tap" | grep -q '^not ok'
