#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of bench/run.sh (Python 3 standard library only).

  util.py output-url API_URL KEY        submit a task, poll it, print its output URL (the CDN
                                        URL souphttpsrc and curl read)
  util.py pad-mp4 IN OUT BYTES          insert a `free` box of BYTES after the last box that the
                                        player needs first: after mdat for a faststart file
                                        (ftyp moov mdat [free]), before moov for a moov-at-end
                                        file (ftyp mdat [free] moov). Chunk offsets stay valid
                                        (nothing before mdat moves); the padding is sparse.
  util.py boxes FILE                    print the top-level MP4 boxes
  util.py report RAW.tsv OUT.md MACHINE.txt   the results table from the raw figures
"""
import json
import os
import statistics
import struct
import sys
import time
import urllib.request


def output_url(api, key):
    def call(method, url, body=None):
        req = urllib.request.Request(url, data=body, method=method, headers={
            "Authorization": "Bearer " + key, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["data"]
    task = call("POST", api + "/api/v3/kwaivgi/kling-v2.0-t2v-master",
                json.dumps({"prompt": "bench anchor url"}).encode())
    deadline = time.time() + 60
    while time.time() < deadline:
        t = call("GET", api + "/api/v3/predictions/" + task["id"] + "/result")
        if t["status"] == "completed":
            print(t["outputs"][0])
            return 0
        if t["status"] == "failed":
            break
        time.sleep(0.1)
    print("task did not complete", file=sys.stderr)
    return 1


def read_boxes(path):
    boxes = []
    size_total = os.path.getsize(path)
    with open(path, "rb") as f:
        off = 0
        while off < size_total:
            f.seek(off)
            hdr = f.read(16)
            size, kind = struct.unpack(">I4s", hdr[:8])
            if size == 1:
                size = struct.unpack(">Q", hdr[8:16])[0]
            elif size == 0:
                size = size_total - off
            boxes.append((kind.decode("latin-1"), off, size))
            off += size
    return boxes


def pad_mp4(src, dst, pad):
    boxes = read_boxes(src)
    kinds = [b[0] for b in boxes]
    if "moov" not in kinds or "mdat" not in kinds:
        raise SystemExit("not an MP4 with moov and mdat: %s" % kinds)
    moov_first = kinds.index("moov") < kinds.index("mdat")
    # faststart: pad at the very end; moov at end: pad just before moov
    cut = os.path.getsize(src) if moov_first else boxes[kinds.index("moov")][1]
    pad = max(pad, 16)
    with open(src, "rb") as f, open(dst, "wb") as o:
        o.write(f.read(cut))
        if pad < 1 << 32:
            o.write(struct.pack(">I4s", pad, b"free"))
            hdr = 8
        else:
            o.write(struct.pack(">I4sQ", 1, b"free", pad))
            hdr = 16
        o.seek(pad - hdr, os.SEEK_CUR)  # sparse: reads as zeros
        rest = f.read()
        if rest:
            o.write(rest)
        else:
            o.truncate(cut + pad)
    print(" ".join("%s@%d+%d" % b for b in read_boxes(dst)))


def report(raw_path, out_path, machine_path):
    rows = {}
    for line in open(raw_path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3:
            continue
        bench, variant, kv = parts[0], parts[1], parts[2:]
        d = {}
        for item in kv:
            if "=" in item:
                k, v = item.split("=", 1)
                try:
                    d[k] = float(v)
                except ValueError:
                    d[k] = v
        rows.setdefault((bench, variant), []).append(d)

    def med(bench, variant, key):
        vals = [r[key] for r in rows.get((bench, variant), []) if key in r and r[key] >= 0]
        return statistics.median(vals) if vals else None

    def mx(bench, variant, key):
        vals = [r[key] for r in rows.get((bench, variant), []) if key in r]
        return max(vals) if vals else None

    def fmt(v, unit="", nd=1):
        return "n/a" if v is None else ("%.*f%s" % (nd, v, unit))

    def mark(ok):
        return "n/a" if ok is None else ("**met**" if ok else "**NOT met**")

    out = []
    machine = open(machine_path).read().strip()
    out.append("Machine: " + machine)
    out.append("")
    n = len(rows.get(("throughput", "souphttpsrc"), []))
    out.append("### Throughput: 256 MiB to fakesink (median of %d runs, wall ms)" % n)
    out.append("")
    out.append("| reader | download ms | total ms | MiB/s | vs souphttpsrc | vs curl | vs filesrc | peak RSS MiB |")
    out.append("|---|---|---|---|---|---|---|---|")
    soup = med("throughput", "souphttpsrc", "t_eos")
    curl = med("throughput", "curl", "t_eos")
    fsrc = med("throughput", "filesrc", "t_eos")
    mib = 256.0
    order = ["klingsrc blocksize=65536", "klingsrc blocksize=262144", "klingsrc blocksize=1048576",
             "klingsrc cache-dir (every byte to disk)", "souphttpsrc", "curl", "filesrc"]
    for v in order:
        if (("throughput", v)) not in rows:
            continue
        dl = med("throughput", v, "download_ms")
        tot = med("throughput", v, "t_eos")
        t = dl if dl is not None else tot
        rss = med("throughput", v, "maxrss_kb")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            v, fmt(t), fmt(tot), fmt(mib / (t / 1000.0) if t else None, "", 0),
            fmt(t / soup if t and soup else None, "x", 2), fmt(t / curl if t and curl else None, "x", 2),
            fmt(t / fsrc if t and fsrc else None, "x", 2), fmt(rss / 1024.0 if rss else None)))
    out.append("")
    out.append("klingsrc \"download ms\" runs from the GstProgress COMPLETE `poll` message (the poll that saw "
               "`completed`) to EOS; \"total\" from PLAYING to EOS (submit + emulator latency 300 ms + polls "
               "at 100 ms + download). souphttpsrc and filesrc: PLAYING to EOS; curl: its own `time_total`.")
    out.append("")

    kd = med("throughput", "klingsrc blocksize=262144", "download_ms")
    lat = med("throughput", "klingsrc blocksize=262144", "latency_ms")
    latmax = mx("throughput", "klingsrc blocksize=262144", "latency_ms")
    krss = med("throughput", "klingsrc blocksize=262144", "maxrss_kb")
    srss = med("throughput", "souphttpsrc", "maxrss_kb")
    out.append("### Targets")
    out.append("")
    out.append("| goal | target | measured | |")
    out.append("|---|---|---|---|")
    out.append("| download+push 256 MiB vs souphttpsrc | <= 1.10x | %s | %s |" % (
        fmt(kd / soup if kd and soup else None, "x", 2), mark(kd / soup <= 1.10 if kd and soup else None)))
    out.append("| download+push 256 MiB vs curl | <= 1.5x | %s | %s |" % (
        fmt(kd / curl if kd and curl else None, "x", 2), mark(kd / curl <= 1.5 if kd and curl else None)))
    out.append("| peak RSS, 256 MiB | <= souphttpsrc + 32 MiB | %s vs %s MiB | %s |" % (
        fmt(krss / 1024 if krss else None), fmt(srss / 1024 if srss else None),
        mark(krss <= srss + 32 * 1024 if krss and srss else None)))
    for size in ("1GiB", "2GiB"):
        k = med("rss", "klingsrc " + size, "maxrss_kb")
        s = med("rss", "souphttpsrc " + size, "maxrss_kb")
        out.append("| peak RSS, %s | <= souphttpsrc + 32 MiB | %s vs %s MiB | %s |" % (
            size, fmt(k / 1024 if k else None), fmt(s / 1024 if s else None),
            mark(k <= s + 32 * 1024 if k and s else None)))
    out.append("| poll `completed` -> first buffer | < 50 ms | median %s ms, max %s ms | %s |" % (
        fmt(lat, "", 2), fmt(latmax, "", 2), mark(latmax < 50 if latmax is not None else None)))

    p = rows.get(("progressive", "klingsrc 2GiB"), [{}])[0]
    if p:
        fb, dd = p.get("t_first_buffer", -1), p.get("t_download_done", -1)
        ok = 0 <= fb < dd
        out.append("| progressive: first buffer before download done (2 GiB) | yes | first buffer %s ms, download done %s ms | %s |" % (
            fmt(fb), fmt(dd), mark(ok)))
    s = rows.get(("progressive", "seek"), [{}])[0]
    if s:
        ok = s.get("errors", 1) == 0 and s.get("t_seek_buffer", -1) > 0 and s.get("have_at_seek", 0) < s.get("seek_target", 0)
        out.append("| seek past the downloaded part waits (2 GiB, BYTES seek to size-64 MiB) | waits, no error | seek at %s ms with %s MiB of %s MiB present, target %s MiB; buffer at target %s ms, download done %s ms, errors %d | %s |" % (
            fmt(s.get("t_seek")), fmt(s.get("have_at_seek", 0) / 2**20, "", 0), fmt(s.get("download_total", 0) / 2**20, "", 0),
            fmt(s.get("seek_target", 0) / 2**20, "", 0), fmt(s.get("t_seek_buffer")), fmt(s.get("t_download_done")),
            int(s.get("errors", -1)), mark(ok)))
    for v, what in (("faststart", "faststart MP4 + 1 GiB trailing `free`: qtdemux (pull) outputs samples in the first half of the download"),
                    ("moov-at-end", "moov-at-end MP4 with 1 GiB `free` before moov: qtdemux (pull) reads moov at the end, waits, no error")):
        m = rows.get(("progressive", v), [{}])[0]
        if m:
            fb, dd, err = m.get("t_first_buffer", -1), m.get("t_download_done", -1), m.get("errors", 1)
            pc = m.get("t_poll_complete", 0)
            # faststart: samples within the first half of the download; moov at end: at its end
            ok = err == 0 and fb >= 0 and (fb < pc + (dd - pc) / 2 if v == "faststart" else fb >= dd - 5)
            out.append("| %s | %s | first demuxed buffer %s ms, download done %s ms, errors %d | %s |" % (
                what, "before" if v == "faststart" else "after, no error", fmt(fb), fmt(dd), int(err), mark(ok)))
    for v in ("poll-interval=5000", "poll-interval=1000"):
        m = rows.get(("idle", v), [{}])[0]
        if m:
            cpu = m.get("cpu_user_s", 0) + m.get("cpu_sys_s", 0)
            out.append("| waiting is free: 20 s generation, %s | CPU <= 0.3 s | %.3f s CPU (user %.3f, sys %.3f), threads max %d | %s |" % (
                v, cpu, m.get("cpu_user_s", 0), m.get("cpu_sys_s", 0), int(m.get("threads_max", 0)),
                mark(cpu <= 0.3 and m.get("errors", 1) == 0)))
    out.append("")
    out.append("### Scale: N klingsrc ! fakesink pipelines in one process (emulator latency 3000 ms, 1 MiB output, poll-interval 100, started 20 ms apart; last row: all at once)")
    out.append("")
    out.append("| N | finished | errors | wall ms | threads (max) | threads - base | peak RSS MiB | RSS - base MiB |")
    out.append("|---|---|---|---|---|---|---|---|")
    for nn in ("1", "8", "16", "32", "32s"):
        m = rows.get(("scale", nn), [None])[0]
        if m:
            out.append("| %s | %d | %d | %.0f | %d | %d | %.1f | %.1f |" % (
                nn.replace("32s", "32, all at once"), int(m.get("finished", 0)), int(m.get("errors", 0)), m.get("t_end", -1), int(m.get("threads_max", 0)),
                int(m.get("threads_max", 0) - m.get("threads_base", 0)), m.get("maxrss_kb", 0) / 1024,
                (m.get("maxrss_kb", 0) - m.get("rss_base_kb", 0)) / 1024))
    out.append("")
    text = "\n".join(out) + "\n"
    open(out_path, "w").write(text)
    sys.stdout.write(text)
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "output-url":
        return output_url(argv[2], argv[3])
    if len(argv) == 5 and argv[1] == "pad-mp4":
        pad_mp4(argv[2], argv[3], int(argv[4]))
        return 0
    if len(argv) == 3 and argv[1] == "boxes":
        print(" ".join("%s@%d+%d" % b for b in read_boxes(argv[2])))
        return 0
    if len(argv) == 5 and argv[1] == "report":
        return report(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
