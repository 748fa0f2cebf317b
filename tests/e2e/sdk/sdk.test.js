// SPDX-License-Identifier: LGPL-2.1-or-later
// WaveSpeed's official JavaScript SDK (npm `wavespeed`, pinned in package.json)
// against kling-emulator on loopback. What the SDK expects and the emulator
// disagrees with is a bug in the emulator.
//
// Run through meson (`meson test -C build --suite sdk`), or by hand:
//   KLING_EMULATOR=build/emulator/kling-emulator node tests/e2e/sdk/sdk.test.js
// Exit 77 (skipped) when the SDK is not installed (`npm ci` in tests/e2e/sdk).
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

let wavespeed;
try {
  wavespeed = require('wavespeed');
} catch (error) {
  console.log(`# skip: the wavespeed SDK is not installed (run npm ci in ${__dirname}): ${error.message}`);
  process.exit(77);
}
if (!process.env.KLING_EMULATOR) {
  console.log('# skip: KLING_EMULATOR is not set');
  process.exit(77);
}
const { Client } = wavespeed;

const KEY = 'emulator-key';
const T2V = 'kwaivgi/kling-v2.0-t2v-master';
const I2V = 'kwaivgi/kling-v2.0-i2v-master';
const AUDIO = 'kwaivgi/kling-v2.6-t2v-audio';
const SDK_VERSION = require('wavespeed/package.json').version;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kling-sdk-'));
const running = new Set();
after(async () => {
  await Promise.all([...running].map((e) => e.stop()));
  fs.rmSync(scratch, { recursive: true, force: true });
});

// ------------------------------------------------------------------ emulator

let counter = 0;

// Starts kling-emulator with the given flags; resolves once it printed its three URLs.
async function startEmulator(flags = []) {
  const log = path.join(scratch, `requests-${++counter}.jsonl`);
  const child = spawn(process.env.KLING_EMULATOR,
      ['--latency-ms', '300', '--video-scale', '8', '--request-log', log, ...flags],
      { stdio: ['ignore', 'pipe', 'inherit'] });
  const urls = {};
  const lines = readline.createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the emulator did not start in 10 s')), 10000);
    child.once('exit', (code) => reject(new Error(`the emulator exited early: ${code}`)));
    lines.on('line', (line) => {
      const match = /^(API|CDN|Storage): (http:\/\/\S+)$/.exec(line);
      if (match)
        urls[match[1].toLowerCase()] = match[2];
      if (urls.api && urls.cdn && urls.storage) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const emulator = {
    ...urls,
    // The request log, one object per request.
    log: () => fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)),
    stop: async () => {
      running.delete(emulator);
      child.kill('SIGTERM');
      const { code } = await exited;
      assert.equal(code, 0, 'SIGTERM is a clean exit');
    },
  };
  running.add(emulator);
  return emulator;
}

function client(emulator, options = {}) {
  return new Client(options.key ?? KEY, { baseUrl: emulator.api, retryInterval: 0.05, ...options });
}

// ------------------------------------------------------------------ MP4

// Top-level boxes of an MP4 (or of a box's payload).
function boxes(buf, from = 0, to = buf.length) {
  const out = [];
  while (from + 8 <= to) {
    let size = buf.readUInt32BE(from);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(from + 8));
      header = 16;
    } else if (size === 0) {
      size = to - from;
    }
    assert.ok(size >= header && from + size <= to, 'a well-formed box');
    out.push({ type: buf.toString('latin1', from + 4, from + 8), start: from + header, end: from + size });
    from += size;
  }
  return out;
}

// Duration (mvhd), video size (tkhd of the video track) and the track kinds (hdlr).
function inspectMp4(buf) {
  const top = boxes(buf);
  assert.equal(top[0].type, 'ftyp', 'an MP4 starts with ftyp');
  const moov = top.find((b) => b.type === 'moov');
  assert.ok(moov, 'an MP4 has a moov');
  assert.ok(top.find((b) => b.type === 'mdat'), 'an MP4 has an mdat');
  const inside = boxes(buf, moov.start, moov.end);
  const mvhd = inside.find((b) => b.type === 'mvhd');
  const v1 = buf[mvhd.start] === 1;
  const timescale = buf.readUInt32BE(mvhd.start + (v1 ? 20 : 12));
  const duration = v1 ? Number(buf.readBigUInt64BE(mvhd.start + 24)) : buf.readUInt32BE(mvhd.start + 16);
  const facts = { duration: duration / timescale, handlers: [] };
  for (const trak of inside.filter((b) => b.type === 'trak')) {
    const parts = boxes(buf, trak.start, trak.end);
    const mdia = parts.find((b) => b.type === 'mdia');
    const hdlr = boxes(buf, mdia.start, mdia.end).find((b) => b.type === 'hdlr');
    const handler = buf.toString('latin1', hdlr.start + 8, hdlr.start + 12);
    facts.handlers.push(handler);
    if (handler === 'vide') {
      const tkhd = parts.find((b) => b.type === 'tkhd');
      facts.width = buf.readUInt32BE(tkhd.end - 8) >>> 16;
      facts.height = buf.readUInt32BE(tkhd.end - 4) >>> 16;
    }
  }
  return facts;
}

async function download(url) {
  const response = await fetch(url);
  assert.equal(response.status, 200, `GET ${url}`);
  assert.equal(response.headers.get('content-type'), 'video/mp4');
  return Buffer.from(await response.arrayBuffer());
}

function submitsOf(emulator, model) {
  return emulator.log().filter((e) => e.method === 'POST' && e.path === `/api/v3/${model}`);
}

// ------------------------------------------------------------------ cases

test('run: text-to-video, polled to completion, a real MP4 of the asked duration', async () => {
  const emu = await startEmulator();
  const output = await client(emu).run(T2V, { prompt: 'a red fox in the snow', duration: 10, aspect_ratio: '9:16' },
      { pollInterval: 0.1 });
  assert.equal(output.outputs.length, 1);
  assert.ok(output.outputs[0].startsWith(`${emu.cdn}/outputs/`), 'the output is on the CDN');
  const mp4 = inspectMp4(await download(output.outputs[0]));
  assert.ok(Math.abs(mp4.duration - 10) < 0.05, `10 s, got ${mp4.duration}`);
  assert.deepEqual([mp4.width, mp4.height], [90, 160], '9:16 at --video-scale 8');
  assert.deepEqual(mp4.handlers, ['vide']);

  const log = emu.log();
  const submits = submitsOf(emu, T2V);
  assert.equal(submits.length, 1, 'one submit');
  assert.deepEqual(JSON.parse(submits[0].body), { prompt: 'a red fox in the snow', duration: 10, aspect_ratio: '9:16' });
  const polls = log.filter((e) => e.method === 'GET' && e.server === 'api');
  assert.ok(polls.length >= 1);
  const id = output.outputs[0].match(/outputs\/([0-9a-f]+)\.mp4$/)[1];
  for (const poll of polls)
    assert.equal(poll.path, `/api/v3/predictions/${id}/result`);
  // Every API request carried the key and the SDK's attribution headers; the CDN got no key.
  for (const entry of log.filter((e) => e.server === 'api')) {
    assert.equal(entry.authorization, `Bearer ${KEY}`);
    assert.equal(entry.x_client_name, 'wavespeed-js');
    assert.equal(entry.x_client_version, SDK_VERSION);
    assert.equal(entry.x_client_os, process.platform);
  }
  for (const entry of log.filter((e) => e.server === 'cdn'))
    assert.equal(entry.authorization, null);
  await emu.stop();
});

test('upload a local image, then run image-to-video with its URL', async () => {
  const emu = await startEmulator();
  // A 1x1 PNG.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      'base64');
  const file = path.join(scratch, 'first frame.png');
  fs.writeFileSync(file, png);
  const sdk = client(emu);
  const url = await sdk.upload(file);
  assert.ok(url.startsWith(`${emu.storage}/`), `the upload lands on the storage origin: ${url}`);
  const stored = await fetch(url);
  assert.equal(stored.status, 200);
  assert.equal(stored.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await stored.arrayBuffer()), png);

  const output = await sdk.run(I2V, { prompt: 'the frame comes alive', image: url, duration: 5 }, { pollInterval: 0.1 });
  const mp4 = inspectMp4(await download(output.outputs[0]));
  assert.ok(Math.abs(mp4.duration - 5) < 0.05, `5 s, got ${mp4.duration}`);

  const log = emu.log();
  const ticket = log.find((e) => e.path === '/api/v3/media/uploads');
  assert.deepEqual(JSON.parse(ticket.body), { filename: 'first frame.png', size: png.length, content_type: 'image/png' });
  assert.equal(ticket.authorization, `Bearer ${KEY}`);
  const puts = log.filter((e) => e.server === 'storage' && e.method === 'PUT');
  assert.equal(puts.length, 1, 'one PUT');
  assert.equal(puts[0].status, 200);
  assert.equal(puts[0].authorization, null, 'no bearer key to the storage host');
  assert.equal(JSON.parse(submitsOf(emu, I2V)[0].body).image, url);
  await emu.stop();
});

test('run with sync mode: one request, the outputs in its reply', async () => {
  const emu = await startEmulator();
  const output = await client(emu).run(T2V, { prompt: 'a quick fox' }, { enableSyncMode: true });
  assert.equal(output.outputs.length, 1);
  const mp4 = inspectMp4(await download(output.outputs[0]));
  assert.ok(Math.abs(mp4.duration - 5) < 0.05);
  const api = emu.log().filter((e) => e.server === 'api');
  assert.equal(api.length, 1, 'no polls');
  assert.equal(JSON.parse(api[0].body).enable_sync_mode, true);
  await emu.stop();
});

test('sync mode past --sync-timeout-ms: the SDK reports a sync timeout with the URL to poll', async () => {
  // Tasks that take a minute: both replies come at the 200 ms sync timeout, however busy the machine.
  const emu = await startEmulator(['--latency-ms', '60000', '--sync-timeout-ms', '200']);
  const sdk = client(emu);
  await assert.rejects(sdk.run(T2V, { prompt: 'slow' }, { enableSyncMode: true }), (error) => {
    assert.equal(error.name, 'WavespeedSyncTimeoutException');
    assert.match(error.resultUrl, new RegExp(`^${emu.api}/api/v3/predictions/[0-9a-f]{32}/result$`));
    assert.match(error.message, /Sync mode timed out/);
    return true;
  });
  const result = await sdk.runNoThrow(T2V, { prompt: 'slow' }, { enableSyncMode: true });
  assert.equal(result.outputs, null);
  assert.equal(result.detail.status, 'processing');
  assert.match(result.detail.taskId, /^[0-9a-f]{32}$/);
  await emu.stop();
});

test('a wrong key: 401, the SDK refuses without retrying the submit', async () => {
  const emu = await startEmulator();
  await assert.rejects(client(emu, { key: 'not-the-key' }).run(T2V, { prompt: 'x' }, { pollInterval: 0.1 }), (error) => {
    assert.equal(error.name, 'WavespeedSubmissionException');
    assert.match(error.message, /HTTP 401: \{"code":401,"message":"Invalid API key"\}/);
    return true;
  });
  assert.equal(submitsOf(emu, T2V).length, 1);
  await emu.stop();
});

test('a failed task: the SDK shows its error', async () => {
  const emu = await startEmulator(['--fail-task', '1200:Content moderation: the prompt was flagged']);
  const sdk = client(emu);
  await assert.rejects(sdk.run(T2V, { prompt: 'x' }, { pollInterval: 0.1 }),
      /Prediction failed \(task_id: [0-9a-f]{32}\): Content moderation: the prompt was flagged/);
  const result = await sdk.runNoThrow(T2V, { prompt: 'x' }, { pollInterval: 0.1 });
  assert.equal(result.detail.error.name, 'WavespeedPredictionException');
  assert.equal(result.detail.status, 'failed');
  // An image the emulator cannot fetch fails the task too (1402).
  await assert.rejects(sdk.run(I2V, { prompt: 'x', image: `${emu.storage}/media/none/missing.png` }, { pollInterval: 0.1 }),
      /Prediction failed .*Content moderation/);
  await emu.stop();

  const fetchFails = await startEmulator();
  await assert.rejects(client(fetchFails).run(I2V, { prompt: 'x', image: `${fetchFails.storage}/media/none/missing.png` },
      { pollInterval: 0.1 }), /Prediction failed \(task_id: [0-9a-f]{32}\): Failed to fetch the image .*HTTP 404/);
  await fetchFails.stop();
});

test('429 with Retry-After: the SDK never retries a submit; the next run works', async () => {
  const emu = await startEmulator(['--fail-submits-429', '2', '--retry-after', '7']);
  const sdk = client(emu);
  await assert.rejects(sdk.run(T2V, { prompt: 'x' }, { pollInterval: 0.1 }), (error) => {
    assert.equal(error.name, 'WavespeedSubmissionException');
    assert.match(error.message, /HTTP 429: .*retry after 7 s/);
    return true;
  });
  assert.equal(submitsOf(emu, T2V).length, 1, 'no automatic retry of the POST');
  // The header the SDK does not read is there for clients that do.
  const raw = await fetch(`${emu.api}/api/v3/${T2V}`, {
    method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'x' }),
  });
  assert.equal(raw.status, 429);
  assert.equal(raw.headers.get('retry-after'), '7');
  const output = await sdk.run(T2V, { prompt: 'x' }, { pollInterval: 0.1 });
  assert.equal(output.outputs.length, 1);
  await emu.stop();
});

test('polls answered 500 are retried by the SDK; a deleted task ends its run', async () => {
  const emu = await startEmulator(['--fail-polls-500', '2']);
  const sdk = client(emu);
  const output = await sdk.run(T2V, { prompt: 'x' }, { pollInterval: 0.1 });
  assert.equal(output.outputs.length, 1);
  const statuses = emu.log().filter((e) => e.method === 'GET' && e.server === 'api').map((e) => e.status);
  assert.deepEqual(statuses.slice(0, 3), [500, 500, 200]);
  await emu.stop();

  // A task that takes a minute is deleted while it runs, however late the first poll comes.
  const slow = await startEmulator(['--latency-ms', '60000']);
  const running = client(slow).run(T2V, { prompt: 'x' }, { pollInterval: 0.1 });
  const rejected = assert.rejects(running, /Prediction failed \(task_id: [0-9a-f]{32}\): Task deleted/);
  // Wait for the task to exist, then delete it (the bound, 20 s, only reports a hang).
  let id;
  for (let i = 0; i < 1000 && !id; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const submit = submitsOf(slow, T2V)[0];
    const poll = slow.log().find((e) => e.method === 'GET');
    if (submit && poll)
      id = poll.path.split('/')[4];
  }
  assert.ok(id, 'the SDK polls');
  const deleted = await fetch(`${slow.api}/api/v3/predictions/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${KEY}` } });
  assert.equal((await deleted.json()).data.status, 'deleted');
  await rejected;
  await slow.stop();
});

test('an unknown model or a field the schema refuses: a clear 4xx, no task', async () => {
  const emu = await startEmulator();
  const sdk = client(emu);
  await assert.rejects(sdk.run('kwaivgi/kling-v7-imaginary', { prompt: 'x' }), /HTTP 404: .*Model not found: kwaivgi\/kling-v7-imaginary/);
  await assert.rejects(sdk.run('kwaivgi/kling-v9-t2v-test', { prompt: 'x', cfg_scale: 2 }),
      /HTTP 400: .*cfg_scale must be a number between 0 and 1/);
  const output = await sdk.run('kwaivgi/kling-v9-t2v-test', { prompt: 'x', cfg_scale: 0.7, camera: 'zoom_in' }, { pollInterval: 0.1 });
  assert.equal(output.outputs.length, 1);
  const balance = await (await fetch(`${emu.api}/api/v3/balance`, { headers: { Authorization: `Bearer ${KEY}` } })).json();
  assert.equal(balance.data.balance, 100 - 0.5, 'only the accepted task was charged');
  await emu.stop();
});

test('a model with sound: its video has an audio track', async () => {
  const emu = await startEmulator();
  const output = await client(emu).run(AUDIO, { prompt: 'a bell rings', duration: 5 }, { enableSyncMode: true });
  const mp4 = inspectMp4(await download(output.outputs[0]));
  assert.deepEqual(mp4.handlers.sort(), ['soun', 'vide']);
  assert.ok(Math.abs(mp4.duration - 5) < 0.05, `5 s, got ${mp4.duration}`);
  await emu.stop();
});
