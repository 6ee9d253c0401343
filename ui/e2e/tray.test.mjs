// End-to-end: the real tray app against two real hyphad nodes. Run by run.sh (under Xvfb).
//
// a and b run on loopback without TUN; the tray talks to a's API socket. Each step checks what
// the window shows against what the nodes' own CLI reports.
import { spawn, execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Builder, By, Capabilities, Key } from 'selenium-webdriver';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.HYPHA_BIN;
const out = process.env.HYPHA_E2E_OUT;
assert.ok(bin && out, 'HYPHA_BIN and HYPHA_E2E_OUT must be set (use run.sh)');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hypha-e2e-'));
const children = [];
let driver;
let failures = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A UDP port nobody uses right now (the kernel picks it). */
async function freeUdpPort() {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function spawnLogged(name, cmd, args, env) {
  const log = fs.openSync(path.join(tmp, `${name}.log`), 'a');
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  children.push(p);
  return p;
}

/** Starts (or restarts) a hyphad node in its own state directory. */
function startNode(node) {
  node.proc = spawnLogged(node.name, `${bin}/hyphad`, node.args, {
    // A config path that does not exist: the embedded default applies.
    HYPHA_CONFIG: path.join(node.dir, 'absent.toml'),
    HYPHA_LOG: 'info',
  });
  return node;
}

function makeNode(name, port, peers) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const sock = path.join(tmp, `${name}.sock`);
  const args = ['--no-tun', '--no-multicast', '--key-file', path.join(dir, 'key'),
    '--ipc-socket', sock, '--listen', `udp://127.0.0.1:${port}`, '--uplink', '100mbit',
    // Two nodes share this host's loopback: no SOCKS5 proxy or DNS responder on fixed ports.
    '--socks', 'off', '--dns', 'off'];
  if (peers) args.push('--peers', peers);
  return startNode({ name, dir, sock, args, port });
}

/** Runs the real CLI against a node. */
function cli(node, ...args) {
  return execFileSync(`${bin}/hypha`, [...args, '--socket', node.sock], { encoding: 'utf8' });
}

function status(node) {
  return JSON.parse(cli(node, 'status', '--json'));
}

async function waitFor(what, fn, ms = 20000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok    ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failures++;
    console.log(`FAIL  ${name}: ${e.stack || e}`);
    await shot(`failure-${name.replace(/\W+/g, '-')}`).catch(() => {});
    throw e;
  }
}

async function shot(name) {
  fs.writeFileSync(path.join(out, `${name}.png`), await driver.takeScreenshot(), 'base64');
}

const $ = (css) => driver.findElement(By.css(css));
const all = (css) => driver.findElements(By.css(css));
/** textContent, which (unlike getText) does not depend on layout or visibility. */
const textOf = async (css) => {
  const els = await all(css);
  return els.length ? driver.executeScript('return arguments[0].textContent', els[0]) : null;
};

async function view(name) {
  await $(`#nav-${name}`).click();
  await waitFor(`view ${name} shown`, async () => (await $(`#view-${name}`)).isDisplayed());
}

const xdotool = (...args) => execFileSync('xdotool', args, { encoding: 'utf8' }).trim();

/** Clicks the tray icon in the tray host and walks its menu with keys (`Down`, `Return`…). */
async function trayMenu(keys) {
  const icon = await waitFor('the tray icon in the tray host', () => {
    const ids = xdotool('search', '--onlyvisible', '--class', 'trayer').split('\n').filter(Boolean);
    return ids[0];
  });
  const geo = Object.fromEntries(xdotool('getwindowgeometry', '--shell', icon).split('\n')
    .map((l) => l.split('=')).map(([k, v]) => [k, Number(v)]));
  if (process.env.HYPHA_E2E_DEBUG) console.log('tray host window', icon, geo);
  xdotool('mousemove', String(geo.X + 16), String(geo.Y + 16), 'click', '1');
  await sleep(700);
  const root = (name) => process.env.HYPHA_E2E_DEBUG
    && execFileSync('import', ['-window', 'root', path.join(out, `root-${name}.png`)]);
  root('menu');
  for (const [i, k] of keys.entries()) {
    xdotool('key', k);
    await sleep(250);
    root(`key${i}`);
  }
  await sleep(300);
}

async function main() {
  const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
  const b = makeNode('b', pb);
  const a = makeNode('a', pa, `udp://127.0.0.1:${pb}`);
  for (const n of [a, b]) {
    n.id = (await waitFor(`${n.name}'s API`, () => status(n))).nodeId;
  }
  const aStatus = status(a);

  // A notification daemon on the session bus (it records what it is asked to show), and a
  // system tray host for the icon (XEmbed: appindicator falls back to it with no SNI watcher),
  // in the bottom-right corner, clear of the window.
  const notes = path.join(tmp, 'notifications.jsonl');
  spawnLogged('notifyd', '/usr/bin/python3', [path.join(here, 'notifyd.py'), notes]);
  await waitFor('notification daemon ready', () =>
    fs.readFileSync(path.join(tmp, 'notifyd.log'), 'utf8').includes('ready'));
  spawnLogged('trayer', 'trayer', ['--edge', 'bottom', '--align', 'right', '--widthtype', 'request',
    '--height', '32', '--SetDockType', 'false', '--SetPartialStrut', 'false', '--expand', 'false']);
  const notifications = () => (fs.existsSync(notes) ? fs.readFileSync(notes, 'utf8') : '')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l));

  const driverProc = spawnLogged('tauri-driver', 'tauri-driver', ['--port', '4444'], {
    HYPHA_SOCKET: a.sock,
    HYPHA_LOG: 'info',
    // The tray's remembered texts go to the test's own directory.
    XDG_DATA_HOME: path.join(tmp, 'data'),
  });
  const caps = new Capabilities();
  caps.set('tauri:options', { application: `${bin}/hypha-tray` });
  caps.setBrowserName('wry');
  driver = await waitFor('tauri-driver session', async () => {
    if (driverProc.exitCode !== null) throw new Error('tauri-driver exited');
    return new Builder().withCapabilities(caps).usingServer('http://127.0.0.1:4444/').build();
  }, 30000);
  await driver.manage().window().setRect({ width: 1100, height: 760 }).catch(() => {});

  await step('the window shows the node address', async () => {
    await waitFor('service up', async () =>
      (await (await $('#service-state')).getAttribute('data-state')) === 'up');
    await waitFor(`#own-address = ${aStatus.address}`,
      async () => (await textOf('#own-address'))?.trim() === aStatus.address);
    assert.equal((await textOf('#own-subnet'))?.trim(), aStatus.subnet);
    await sleep(2500); // let a few rate samples arrive for the sparkline
    await shot('status');
  });

  await step('the peer appears', async () => {
    await view('peers');
    await waitFor(`peer row for b (${b.id.slice(0, 12)})`, async () => {
      const rows = await all(`tr.peer-row[data-node-id="${b.id}"]`);
      return rows.length && /up/.test(await driver.executeScript('return arguments[0].textContent', rows[0]));
    });
    await shot('peers');
    await view('routes');
    await waitFor('route to b', async () => (await all(`tr.route-row[data-node-id="${b.id}"]`)).length > 0);
    await waitFor('mesh map drawn', async () => (await all('#mesh-map *')).length > 2);
    await shot('routes');
  });

  await step('moving the sharing slider changes `hypha status`', async () => {
    await view('sharing');
    const before = status(a).sharePercent;
    const slider = await $('#share-slider');
    const rect = await slider.getRect();
    // A real pointer click at 3/4 of the track moves the thumb there.
    await driver.actions().move({ origin: slider, x: Math.round(rect.width / 4), y: 0 }).click().perform();
    const v = Number(await slider.getAttribute('value'));
    assert.notEqual(v, before, `slider still at ${before} after the click`);
    await waitFor(`status sharePercent = ${v}`, () => status(a).sharePercent === v);
    // And the keyboard: one step right.
    await driver.actions().sendKeys(Key.ARROW_RIGHT).perform();
    await waitFor(`status sharePercent = ${v + 1}`, () => status(a).sharePercent === v + 1);
    await waitFor('#share-value shows it', async () => (await textOf('#share-value'))?.includes(String(v + 1)));
    await shot('sharing');
  });

  await step('a message sent from the window arrives at b', async () => {
    await view('messages');
    const text = `hello from the tray ${Date.now()}`;
    const to = await $('#compose-to');
    await to.clear();
    await to.sendKeys(b.id);
    await $('#compose-text').sendKeys(text);
    await $('#compose-send').click();
    const got = JSON.parse(cli(b, 'recv', '--wait', '20', '--json'));
    assert.ok(got, 'b received nothing');
    assert.equal(Buffer.from(got.payload, 'base64').toString(), text);
    assert.equal(got.from, a.id);
    await waitFor('delivered in the window', async () =>
      (await all('.message[data-direction="out"][data-status="delivered"]')).length > 0);
  });

  await step('a message sent to this node appears in the window', async () => {
    const text = `hi tray, this is b ${Date.now()}`;
    cli(b, 'send', a.id, text, '--topic', 'chat');
    await waitFor('conversation with b', async () => (await all(`.conversation[data-node-id="${b.id}"]`)).length);
    await (await $(`.conversation[data-node-id="${b.id}"]`)).click();
    await waitFor(`"${text}" shown`, async () => {
      for (const m of await all('.message[data-direction="in"] .message-text')) {
        if ((await driver.executeScript('return arguments[0].textContent', m)).includes(text)) return true;
      }
      return false;
    });
    await shot('messages');
    await waitFor('a desktop notification with the text', () =>
      notifications().some((n) => n.body === text && n.summary.startsWith('Message from ')));
    const n = notifications().find((x) => x.body === text);
    assert.ok(n.summary === `Message from ${b.id.slice(0, 12)}…` || /\.hypha$/.test(n.summary),
      `notification title: ${n.summary}`);
  });

  await step('a priority set in the Peers view shows in `hypha peers --json`', async () => {
    await view('peers');
    const prio = () => JSON.parse(cli(a, 'peers', '--json')).links.find((l) => l.nodeId === b.id)?.priority;
    assert.equal(prio(), 1, 'the default');
    const input = await $(`tr.peer-row[data-node-id="${b.id}"] .priority-input`);
    // As a person does it: select what is there, type over it, leave the field.
    const typeOver = async (text) => {
      await input.click();
      await driver.actions().keyDown(Key.CONTROL).sendKeys('a').keyUp(Key.CONTROL).perform();
      await driver.actions().sendKeys(text).perform();
      await driver.actions().sendKeys(Key.TAB).perform();
    };
    await typeOver('7');
    await waitFor('hypha peers says priority 7', () => prio() === 7);
    // A weight out of range is refused in the window and changes nothing.
    await typeOver('5000');
    await waitFor('the error is shown', async () => /1 to 1000/.test((await textOf('#priority-error')) ?? ''));
    assert.equal(prio(), 7);
  });

  await step('the tray menu opens the Messages view and applies a sharing preset', async () => {
    await view('status');
    await trayMenu(['Down', 'Down', 'Down', 'Down', 'Return']); // status line is insensitive
    await waitFor('Messages view shown by the menu', async () => (await $('#view-messages')).isDisplayed());
    // Share bandwidth for others → its third preset, 25 %.
    assert.notEqual(status(a).sharePercent, 25);
    await trayMenu(['Down', 'Down', 'Right', 'Down', 'Down', 'Return']);
    await waitFor('the 25 % preset applied', () => status(a).sharePercent === 25);
    await view('sharing');
    await waitFor('the window shows 25 %', async () => (await $('#share-slider').getAttribute('value')) === '25');
  });

  await step('the firewall control changes `hypha firewall`', async () => {
    await view('peers');
    const firewall = () => JSON.parse(cli(a, 'firewall', '--json'));
    assert.equal(firewall().incoming, 'contacts', 'the default');
    await waitFor('the control shows contacts', async () =>
      (await $('#incoming-select').getAttribute('value')) === 'contacts');
    for (const mode of ['everyone', 'nobody', 'contacts']) {
      await (await $(`#incoming-select option[value="${mode}"]`)).click();
      await waitFor(`hypha firewall says ${mode}`, () => firewall().incoming === mode);
    }
    // The contact box on b's row: b becomes a contact, and stops being one.
    const box = `tr.peer-row[data-node-id="${b.id}"] .contact-input`;
    await (await $(box)).click();
    await waitFor('b is a contact', () => firewall().contacts.some((c) => c.nodeId === b.id));
    await (await $(box)).click();
    await waitFor('b is no contact', () => !firewall().contacts.some((c) => c.nodeId === b.id));
    await driver.executeScript('document.getElementById("incoming-select").scrollIntoView()');
    await shot('peers-firewall');
  });

  await step('an invite link pasted into Join links a new node, shown by its name', async () => {
    const c = makeNode('c', await freeUdpPort());
    c.id = (await waitFor("c's API", () => status(c))).nodeId;
    cli(c, 'name', 'set', 'carol');
    const link = cli(c, 'invite').trim();
    assert.match(link, /^hypha:\/\/join\//);
    await view('peers');
    await $('#join-link').sendKeys(link);
    await $('#join-btn').click();
    await waitFor('a linked to c', () =>
      JSON.parse(cli(a, 'peers', '--json')).links.some((l) => l.nodeId === c.id && l.state === 'up'));
    await waitFor('c is a contact', () =>
      JSON.parse(cli(a, 'firewall', '--json')).contacts.some((x) => x.nodeId === c.id));
    await waitFor('the peers table names carol', async () => {
      const rows = await all(`tr.peer-row[data-node-id="${c.id}"] .c-node`);
      return rows.length && (await driver.executeScript('return arguments[0].textContent', rows[0])) === 'carol.hypha';
    }, 40000);
    // This node's own invite: the link and its QR code.
    await $('#invite-btn').click();
    await waitFor('invite link shown', async () => (await textOf('#invite-link'))?.includes(a.id));
    assert.ok((await all('#invite-qr svg')).length === 1, 'no QR code');
    await shot('peers-invite-firewall');
  });

  await step('stopping hyphad shows "service down", and the app recovers', async () => {
    a.proc.kill('SIGTERM');
    await waitFor('hyphad a exits', () => a.proc.exitCode !== null || a.proc.signalCode !== null);
    await waitFor('service down state', async () =>
      (await (await $('#service-state')).getAttribute('data-state')) === 'down');
    const banner = await textOf('#service-state');
    assert.match(banner, /not running|stopped|start it/i, `banner says: ${banner}`);
    await view('status');
    await shot('service-down');
    startNode(a);
    await waitFor('service up again', async () =>
      (await (await $('#service-state')).getAttribute('data-state')) === 'up');
    assert.equal((await textOf('#own-address'))?.trim(), aStatus.address);
  });
}

async function cleanup() {
  if (driver) await driver.quit().catch(() => {});
  for (const p of children) if (p.exitCode === null) p.kill('SIGTERM');
  await sleep(300);
  for (const p of children) if (p.exitCode === null) p.kill('SIGKILL');
}

try {
  await main();
  console.log(`tray e2e: all steps passed; screenshots in ${out}`);
} catch (e) {
  if (!failures) console.log(`FAIL  setup: ${e.stack || e}`);
  for (const f of fs.readdirSync(tmp).filter((f) => f.endsWith('.log'))) {
    const lines = fs.readFileSync(path.join(tmp, f), 'utf8').trim().split('\n');
    console.log(`--- ${f} (last 15 lines)\n${lines.slice(-15).join('\n')}`);
  }
  process.exitCode = 1;
} finally {
  await cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
}
