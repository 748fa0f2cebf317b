#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Minimal Debian systems for CI (sourced by .ci/run and scripts/packages.sh).
#
#   source scripts/chroot.sh
#   (
#     chroot_enter trixie          # a throwaway copy of the pristine system, mounted
#     chroot_run sh -c 'echo hi'   # a command in it, as root
#   )                              # the subshell's EXIT trap unmounts, then removes it
#
# The pristine system (`debootstrap --variant=minbase RELEASE`) is made once and kept
# as $KLING_CHROOT_CACHE/RELEASE-minbase.tar.zst (default /var/cache/gst-kling-ci);
# downloaded .deb files are kept beside it (RELEASE-apt/) and shared by every copy.
# The copies live in $KLING_CHROOT_WORK (default /var/tmp/gst-kling-ci). The mirror is
# the one this machine's apt uses (KLING_DEBIAN_MIRROR overrides). Needs root.
#
# A copy is removed only when nothing is mounted under it any more: with the host's
# /dev bound inside, `rm -rf` would delete the host's device nodes.

KLING_CHROOT_CACHE=${KLING_CHROOT_CACHE:-/var/cache/gst-kling-ci}
KLING_CHROOT_WORK=${KLING_CHROOT_WORK:-/var/tmp/gst-kling-ci}
CHROOT_DIR=""
CHROOT_RELEASE=""

# The Debian archive this machine's apt is configured with (the first URI ending in
# /debian), so the chroots reach what the host reaches.
chroot_mirror() {
  if [ -n "${KLING_DEBIAN_MIRROR:-}" ]; then
    echo "$KLING_DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -e 's/#.*//' -e 's/\[[^]]*\]//g' |
    awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i } $1 == "deb" { print $2 }' |
    grep -E '/debian/?$' | head -n1)
  if [ -z "$uri" ]; then
    echo "chroot.sh: no Debian archive in /etc/apt/sources.list*; set KLING_DEBIAN_MIRROR" >&2
    return 1
  fi
  echo "${uri%/}"
}

# Mount points under $1 (itself included), deepest first.
chroot_mounts_under() {
  local dir
  dir=$(realpath -m "$1")
  findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | sort -r
}

# Unmounts everything under $1 and removes it; refuses (returns 1, removes
# nothing) while anything is still mounted there.
chroot_remove() {
  local dir=$1 m
  [ -n "$dir" ] && [ -e "$dir" ] || return 0
  while read -r m; do
    [ -n "$m" ] && umount "$m" 2>/dev/null
  done < <(chroot_mounts_under "$dir")
  if [ -n "$(chroot_mounts_under "$dir")" ]; then
    echo "chroot.sh: refusing to remove $dir: still mounted:" >&2
    chroot_mounts_under "$dir" >&2
    return 1
  fi
  rm -rf --one-file-system "$dir"
}

# Prints the path of RELEASE's pristine minimal system (a tarball), making it
# first when it is not there yet.
chroot_pristine() {
  local release=$1
  local tarball="$KLING_CHROOT_CACHE/$release-minbase.tar.zst"
  mkdir -p "$KLING_CHROOT_CACHE" "$KLING_CHROOT_WORK"
  (
    # One maker at a time; a second CI run waits for the first's tarball.
    flock 9
    [ -s "$tarball" ] && exit 0
    local mirror dir status=0
    mirror=$(chroot_mirror) || exit 1
    dir=$(mktemp -d "$KLING_CHROOT_WORK/debootstrap-$release.XXXXXX")
    echo "==> debootstrap --variant=minbase $release (once; kept as $tarball)" >&2
    if debootstrap --variant=minbase "$release" "$dir" "$mirror" >"$dir.log" 2>&1; then
      rm -rf --one-file-system "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"*_* 2>/dev/null
      tar -C "$dir" --numeric-owner -I 'zstd -q -T0 -3' -cpf "$tarball.part" . &&
        mv "$tarball.part" "$tarball" || status=1
    else
      status=1
      tail -n 20 "$dir.log" "$dir/debootstrap/debootstrap.log" >&2 2>/dev/null
    fi
    chroot_remove "$dir" && rm -f "$dir.log"
    exit $status
  ) 9>"$KLING_CHROOT_CACHE/$release.lock" || return 1
  echo "$tarball"
}

# Makes a throwaway copy of RELEASE's pristine system, mounts /proc, /dev,
# /dev/pts, /dev/shm, /sys and the shared .deb folder in it, and sets an EXIT
# trap that unmounts and removes it: call it in a subshell. Sets CHROOT_DIR.
chroot_enter() {
  local release=$1 tarball mirror
  tarball=$(chroot_pristine "$release") || return 1
  mirror=$(chroot_mirror) || return 1
  CHROOT_RELEASE=$release
  CHROOT_DIR=$(mktemp -d "$KLING_CHROOT_WORK/$release.XXXXXX")
  trap 'chroot_leave' EXIT
  trap 'exit 130' INT TERM
  tar -C "$CHROOT_DIR" --numeric-owner -I zstd -xpf "$tarball" || return 1
  chmod 755 "$CHROOT_DIR" # mktemp's 0700 would keep apt's _apt user out
  mkdir -p "$KLING_CHROOT_CACHE/$release-apt/partial"
  mount -t proc proc "$CHROOT_DIR/proc" &&
    mount --bind /dev "$CHROOT_DIR/dev" &&
    mount --bind /dev/pts "$CHROOT_DIR/dev/pts" &&
    mount -t tmpfs -o mode=1777 tmpfs "$CHROOT_DIR/dev/shm" &&
    mount --bind /sys "$CHROOT_DIR/sys" &&
    mount --bind "$KLING_CHROOT_CACHE/$release-apt" "$CHROOT_DIR/var/cache/apt/archives" || return 1
  cp /etc/resolv.conf "$CHROOT_DIR/etc/resolv.conf"
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$CHROOT_DIR/etc/hosts"
  printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$release" "$mirror" "$release" \
    >"$CHROOT_DIR/etc/apt/sources.list"
  # No service starts inside (a package's postinst may try).
  printf '#!/bin/sh\nexit 101\n' >"$CHROOT_DIR/usr/sbin/policy-rc.d"
  chmod 755 "$CHROOT_DIR/usr/sbin/policy-rc.d"
  # A throwaway system: dpkg need not sync every file it unpacks.
  echo force-unsafe-io >"$CHROOT_DIR/etc/dpkg/dpkg.cfg.d/gst-kling-ci"
  # Keep the .deb files apt downloads (they are shared between runs).
  echo 'Binary::apt::APT::Keep-Downloaded-Packages "true"; APT::Keep-Downloaded-Packages "true";' \
    >"$CHROOT_DIR/etc/apt/apt.conf.d/90gst-kling-ci"
  # Where TLS is inspected by a proxy, Node needs the extra CA this machine's Node uses
  # (a separate file: ca-certificates rewrites /etc/ssl/certs when it is installed).
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r "$NODE_EXTRA_CA_CERTS" ]; then
    mkdir -p "$CHROOT_DIR/usr/local/share/gst-kling-ci"
    cp "$NODE_EXTRA_CA_CERTS" "$CHROOT_DIR/usr/local/share/gst-kling-ci/extra-ca.pem"
  fi
}

chroot_leave() {
  local status=$?
  if [ -n "$CHROOT_DIR" ]; then
    chroot_remove "$CHROOT_DIR" || status=1
    CHROOT_DIR=""
  fi
  return $status
}

# Copies the work tree of the git clone at $1 (tracked and untracked files, not
# the ignored ones such as build folders) to $2 inside the copy.
chroot_copy_tree() {
  local src=$1 dest="$CHROOT_DIR$2"
  mkdir -p "$dest"
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar --null -T - -cf -) | tar -C "$dest" -xf -
}

# Runs a command as root in the copy, with a clean environment.
chroot_run() {
  local env=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
             LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive TERM="${TERM:-dumb}")
  [ -f "$CHROOT_DIR/usr/local/share/gst-kling-ci/extra-ca.pem" ] &&
    env+=(NODE_EXTRA_CA_CERTS=/usr/local/share/gst-kling-ci/extra-ca.pem)
  chroot "$CHROOT_DIR" /usr/bin/env -i "${env[@]}" "$@"
}
