#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fails when a file of the core includes a GStreamer header, or a project header
outside the core: the elements stand on the core, never the other way round."""
import pathlib
import re
import sys

core = pathlib.Path(sys.argv[1])
include = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
files = sorted(p for p in core.rglob('*') if p.suffix in ('.h', '.cpp'))
bad = []
for path in files:
    for quote, name in include.findall(path.read_text()):
        if name.startswith('gst/') or (quote == '"' and not name.startswith('core/')):
            bad.append('%s: #include %s' % (path.relative_to(core.parent), name))
print('1..1')
for b in bad:
    print('# ' + b)
print('%s 1 - %d files of the core include nothing of GStreamer nor of the elements'
      % ('not ok' if bad else 'ok', len(files)))
sys.exit(1 if bad else 0)
