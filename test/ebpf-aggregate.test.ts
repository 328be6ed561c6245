/**
 * eBPF aggregate mode: the bpftrace program that counts a window's tokens and pairs in the
 * kernel, its output reader, and, where eBPF works (root), on a busybox httpd in a pid namespace
 * of its own (a container to eBPF): the agreement of the aggregate's anomaly vectors with the
 * per-event encoding of the same run, and an attack through its CGI (a shell reading
 * /etc/passwd) raising the unseen components (through `chids monitor`: ebpf-aggregate-monitor.test.ts,
 * a file of its own so that it runs beside these).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { AggregateEbpfSource, AggregateReader, buildAggregateScript, type AggregateWindow } from '../src/capture/ebpf-aggregate.js';
import { EbpfConverter, buildScript, ensureTracefs, pathProbes } from '../src/capture/ebpf.js';
import { containerFrom, pidNamespaceOf } from '../src/capture/containers.js';
import { AggregateEncoder } from '../src/encode/aggregate.js';
import { WindowEncoder, type EncodedWindow } from '../src/encode/anomaly.js';
import { ArgReader, ArgFamily, argFamilyOf } from '../src/encode/args.js';
import { makeVocabulary, type Vocabulary } from '../src/encode/vocabulary.js';
import { NameTable } from '../src/trace/names.js';
import { TraceParser } from '../src/trace/parse.js';
import { silentLogger } from '../src/util/log.js';
import { get, nsHttpdMissing, startNsHttpd } from './helpers/ns-httpd.js';

const PROBES = [
  { name: 'openat', nr: 257, tp: 'openat', field: 'filename', dfd: true },
  { name: 'newfstatat', nr: 262, tp: 'newfstatat', field: 'filename', dfd: true },
  { name: 'execve', nr: 59, tp: 'execve', field: 'filename' },
];

test('the aggregate program: parity maps, pairs per container, paths interned, read once per window', () => {
  const s = buildAggregateScript({ scope: { kind: 'pidns', inum: 4026532252 }, btf: true, pathProbes: PROBES, t0: 123456789n, windowNs: 1e9, graceNs: 1e8 });
  const inside = 'curtask->thread_pid->level == curtask->nsproxy->pid_ns_for_children->level';
  assert.ok(
    s.includes(`tracepoint:raw_syscalls:sys_enter /curtask->nsproxy->pid_ns_for_children->ns.inum == 4026532252 && !@rt[pid] && ${inside} && args->id != 257 && args->id != 262 && args->id != 59/`),
    'the container\'s own tasks only, and not the path syscalls (their own probes)',
  );
  // The runtime's steps (forked in from outside, until their exec; tasks living outside) are not counted.
  assert.match(s, /sched_process_fork [^\n]*if \(curtask->thread_pid->level != curtask->nsproxy->pid_ns_for_children->level \|\| @rt\[pid\]\) \{ @rt\[\(uint64\)args->child_pid\] = 1; \}/);
  assert.ok(s.includes(`tracepoint:syscalls:sys_exit_execve /curtask->nsproxy->pid_ns_for_children->ns.inum == 4026532252 && ${inside}/ { if (@rt[pid]) { if (args->ret != 0) { return; } delete(@rt[pid]); } `));
  assert.ok(s.includes(`tracepoint:syscalls:sys_enter_execve /curtask->nsproxy->pid_ns_for_children->ns.inum == 4026532252 && !@rt[pid] && ${inside}/`));
  assert.ok(s.includes(`sched_process_exit /curtask->nsproxy->pid_ns_for_children->ns.inum == 4026532252/ { if (@rt[pid] || @rt[tid] || !(${inside})) { delete(@rt[tid]);`));
  assert.match(s, /@e1\[\$c, \$pt, \$t\] = count\(\); \} else \{ @e0\[\$c, \$pt, \$t\] = count\(\);/);
  assert.match(s, /interval:ms:50 \{ \$cur = \(\(nsecs - 123456789\) \/ 1000000000\);/);
  // No line per syscall: the only printfs are the start (BEGIN) and each window's header and trailer.
  assert.deepEqual(s.match(/printf\("[^"]*"/g), ['printf("@@B %llu\\n"', 'printf("@@W %llu %llu\\n"', 'printf("@@E %llu\\n"']);
  assert.match(s, /^BEGIN \{ @next = \(\(nsecs - 123456789\) \/ 1000000000\); printf\("@@B/m);
  // execve's path on its enter event, open/stat's on their exit event; fstat through newfstatat named after the fd.
  assert.match(s, /sys_enter_execve [^\n]*\$t = \(uint64\)\(59 \+ 1\) \| \(\(uint64\)\$id << 10\);/);
  assert.match(s, /sys_exit_openat [^\n]*@fdp\[pid, \(uint32\)args->ret\] = \$id;[^\n]*\$t = \(uint64\)\(257 \+ 1\) \| \(\(uint64\)\$id << 10\);/);
  assert.match(s, /sys_enter_newfstatat [^\n]*\$f = @fdp\[pid, \(uint32\)args->dfd\]/);
  assert.match(s, /^END \{ clear\(@e0\);/m);
  // A forked child's clone exit is named by its parent (kept for the child's own children); vfork's
  // exit without a syscall number is vfork's, not rt_sigreturn's.
  assert.match(s, /if \(\$a == 0 && args->ret == 0 && pid == tid\) \{ \$q = \(uint64\)curtask->real_parent->tgid; \$a = @exe\[\$q\]; [^\n]*@exe\[pid\] = \$a; \}/);
  assert.match(s, /sys_enter [^\n]*if \(\$n == 58\) \{ @vf\[tid\] = 1; \}/);
  assert.match(s, /sys_exit [^\n]*if \(\$n < 0\) \{ \$n = 15; if \(@vf\[tid\]\) \{ \$n = 58; \} \}/);
  assert.match(s, /sched_process_exit [^\n]*delete\(@vf\[tid\]\);/);
  const noBtf = buildAggregateScript({ scope: { kind: 'tree', tids: [7] }, btf: false, pathProbes: PROBES, t0: 0n, windowNs: 1e9, graceNs: 1e8 });
  assert.doesNotMatch(noBtf, /curtask|@rt/, 'no kernel type information: no curtask fields (a process tree: no runtime steps in it)');
  const two = buildAggregateScript({ scope: { kind: 'pidns-set', inums: [1, 2] }, btf: true, pathProbes: [], t0: 0n, windowNs: 5e8, graceNs: 5e7 });
  assert.match(two, /\/\(curtask->nsproxy->pid_ns_for_children->ns.inum == 1 \|\| curtask->nsproxy->pid_ns_for_children->ns.inum == 2\)\//);
});

test('AggregateReader: a window of pairs, paths and pids becomes each container\'s aggregate', () => {
  const c = (4026532252n << 32n) | 77n;
  const signed = BigInt.asIntN(64, c).toString(); // bpftrace prints u64 keys as signed
  const read = 0n + 1n;
  const openat = (257n + 1n) | (513n << 10n);
  const clone = (56n + 1n) | ((2n ** 39n + 4242n) << 10n);
  const out: AggregateWindow[] = [];
  const r = new AggregateReader({ startNs: 1_000_000_000_000n, windowNs: 1e9, ownPidns: 1, fallback: containerFrom(null, null, 1), procfs: false }, (w) => out.push(w));
  const lines = [
    '@@W 3 4',
    `@e1[${signed}, 0, ${read}]: 1`,
    `@e1[${signed}, ${read}, ${read}]: 3`,
    `@e1[${signed}, ${read}, ${openat}]: 2`,
    `@e1[${signed}, ${openat}, ${clone}]: 1`,
    '',
    '@sn1[513]: /etc/pass wd',
    '@cp1[' + signed + ']: 4242',
    '@@E 3',
  ];
  for (const l of lines) assert.equal(r.line(l), true, l);
  assert.equal(r.line('Attaching 9 probes...'), false);
  assert.equal(out.length, 1);
  const w = out[0];
  assert.equal(w.index, 3);
  assert.equal(w.startNs, 1_000_000_000_000n + 3_000_000_000n);
  assert.equal(w.container.pidns, 4026532252);
  assert.equal(w.aggregate.events, 7);
  assert.deepEqual(w.aggregate.tokens, [
    { name: 'read', arg: null },
    { name: 'openat', arg: '/etc/pass\\x20wd' }, // made one token, as the per-event converter does
    { name: 'clone', arg: null }, // no /proc here: no exe=, as the converter writes it
  ]);
  assert.deepEqual(Array.from(w.aggregate.from).map((f, i) => [f, w.aggregate.to[i]]), [[0, 0], [0, 1], [1, 2]]);
  assert.equal(r.stats.unknownArgs, 0);
  assert.equal(w.late, false);
});

test('AggregateReader: a window whose maps arrive after the next window of its parity began is marked late', () => {
  const W = 1_000_000_000n;
  let now = 0n;
  const out: AggregateWindow[] = [];
  const r = new AggregateReader({ startNs: 10n * W, windowNs: 1e9, ownPidns: 1, fallback: containerFrom(null, null, 1), procfs: false, now: () => now }, (w) => out.push(w));
  const window = (k: number, at: bigint, cur = k + 1) => {
    now = at;
    for (const l of [`@@W ${k} ${cur}`, `@e${k & 1}[5, 0, 1]: 4`, `@@E ${k}`]) r.line(l);
  };
  window(0, 10n * W + W + W / 5n); // read 0.2 s into window 1: on time
  window(1, 10n * W + 3n * W - 1n); // the last ns before window 3 (its parity's next) begins
  window(2, 10n * W + 4n * W); // window 4 has begun: its events may be among window 2's
  window(3, 10n * W + 4n * W + W / 5n, 5); // the kernel's tick itself came when window 5 had begun
  assert.deepEqual(out.map((w) => [w.index, w.late]), [[0, false], [1, false], [2, true], [3, true]]);
  assert.equal(r.stats.lateWindows, 2);
});

// ---- live: podman + bpftrace -----------------------------------------------------------------

const missing = nsHttpdMissing();
if (missing) console.warn(`!!! SKIPPED: the live eBPF aggregate tests ${missing} !!!`);
const port = 20000 + (process.pid % 20000);
const ENV = { ...process.env, BPFTRACE_STRLEN: '200', BPFTRACE_MAP_KEYS_MAX: '65536', BPFTRACE_PERF_RB_PAGES: '256' };

/**
 * Starts bpftrace on a program; resolves once all its probes are attached, with the mono time
 * then: bpftrace runs BEGIN after attaching every probe, and the aggregate program's BEGIN prints
 * `@@B` (one is added to a program that has no BEGIN of its own).
 */
function startBpftrace(script: string, onLine: (l: string) => void): { child: ChildProcess; attached: Promise<bigint> } {
  const program = script.includes('BEGIN {') ? script : `BEGIN { printf("@@B 0\\n"); }\n${script}`;
  const child = spawn('bpftrace', ['-B', 'line', '-e', program], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let resolve!: (t: bigint) => void;
  const attached = new Promise<bigint>((r) => (resolve = r));
  // A carry per stream: a chunk of one must not complete a line of the other.
  const reader = () => {
    let carry = '';
    return (c: Buffer) => {
      const parts = (carry + c.toString('utf8')).split('\n');
      carry = parts.pop() ?? '';
      for (const l of parts) {
        if (l.startsWith('@@B ')) resolve(process.hrtime.bigint());
        else onLine(l);
      }
    };
  };
  child.stdout!.on('data', reader());
  child.stderr!.on('data', reader());
  return { child, attached };
}

const stop = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : (c.once('close', () => r()), c.kill('SIGINT'))));

/** The encoder's vector of one window's LID-DS lines. */
function encodeLines(lines: string[], vocab: Vocabulary): EncodedWindow {
  const names = new NameTable();
  const out: EncodedWindow[] = [];
  // One window holding every line given (their stream times may span more than a second).
  const enc = new WindowEncoder(vocab, names, { file: 'w', faithful: false, windowNs: 1e12, details: true }, (w) => out.push(w));
  const parser = new TraceParser({ file: 'w', format: 'lidds', faithful: false, names, onEvent: (e) => enc.push(e) });
  parser.push(Buffer.from(lines.join('\n') + '\n'));
  parser.end();
  enc.finish();
  return out[0];
}

test('live: aggregate AVs agree with the per-event encoding of the same run (busybox httpd in its own pid namespace, under ab)', { skip: missing ?? false, timeout: 240_000 }, async (t) => {
  const web = await startNsHttpd(port);
  t.after(() => web.stop());
  const root = ensureTracefs();
  assert.ok(root, 'tracefs');
  const probes = pathProbes(root);
  const ns = pidNamespaceOf(web.pid)!;
  const own = pidNamespaceOf('self');
  const fallback = containerFrom(ns, null, own);
  const W = 1_000_000_000;

  // Both programs at once on the same container: the per-event one with monotonic timestamps.
  const evLines: { mono: bigint; line: string }[] = [];
  // Timestamps: monotonic + a fixed epoch-like offset (a LID-DS timestamp has 19 digits).
  // Each event is placed by its own kernel timestamp: the converter makes the stream's times
  // non-decreasing, which, when bpftrace's per-CPU buffers deliver late, moves events into later
  // windows (the per-event monitor does that; the comparison is with the events' true windows).
  let mono = 0n;
  const conv = new EbpfConverter({ sec: 1_700_000_000, nsec: 0 }, own, fallback, (_c, line) => evLines.push({ mono, line }));
  let lost = 0;
  const ev = startBpftrace(buildScript({ scope: { kind: 'pidns', inum: ns }, btf: true, pathProbes: probes }), (l) => {
    const sp = l.indexOf(' ');
    if (sp > 0 && /^\d+$/.test(l.slice(0, sp))) mono = BigInt(l.slice(0, sp));
    if (!conv.line(l)) {
      const m = /Lost (\d+) events/.exec(l);
      if (m) lost += Number(m[1]);
    }
  });
  const t0 = process.hrtime.bigint();
  const aggs = new Map<number, AggregateWindow>();
  const reader = new AggregateReader({ startNs: t0, windowNs: W, ownPidns: own, fallback, now: () => process.hrtime.bigint() }, (w) => aggs.set(w.index, w));
  const ag = startBpftrace(buildAggregateScript({ scope: { kind: 'pidns', inum: ns }, btf: true, pathProbes: probes, t0, windowNs: W, graceNs: 2e8 }), (l) => reader.line(l));
  t.after(() => {
    ev.child.kill('SIGKILL');
    ag.child.kill('SIGKILL');
  });
  const say = (m: string) => console.log(`${new Date().toISOString()} ${m}`);
  say('started both programs');
  // The first window both programs saw whole: the one after the later of them had attached every
  // probe (on a busy machine the per-event program, started first, can finish attaching last).
  const [evAttached, agAttached] = await Promise.all([ev.attached, ag.attached]);
  const attached = evAttached > agAttached ? evAttached : agAttached;
  const first = Number((attached - t0) / BigInt(W)) + 1;
  say(`attached; comparing from window ${first}`);
  // Bounded load: static pages with ab, and a CGI request (a shell) now and then.
  const ab = spawn('ab', ['-q', '-n', '600', '-c', '4', '-s', '10', `http://127.0.0.1:${port}/index.html`], { stdio: 'ignore' });
  t.after(() => ab.kill('SIGKILL'));
  // At least three CGI requests, and traffic until window first + 5 has begun: on a loaded machine
  // attaching can take long enough that ab alone would end before two whole windows were compared.
  // Bounded by time, not by a request count (CI: 40 requests of a loaded machine ended before
  // window first + 5, and one window was compared).
  const until = t0 + BigInt(first + 5) * BigInt(W);
  const deadline = Date.now() + 90_000;
  for (let i = 0; i < 3 || (process.hrtime.bigint() < until && Date.now() < deadline); i++) {
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(await get(port, '/cgi-bin/run'), 200);
    say('cgi');
  }
  await new Promise<void>((r) => (ab.exitCode !== null ? r() : ab.once('close', () => r())));
  // Then CGI requests alone for two whole windows: one request at a time, where the two programs'
  // pairs can only differ by a cross-CPU race of the handler and its shell.
  const abWindow = Number((process.hrtime.bigint() - t0) / BigInt(W));
  say(`ab done in window ${abWindow}; ${evLines.length} events so far, ${aggs.size} aggregate windows`);
  const quietUntil = t0 + BigInt(abWindow + 3) * BigInt(W);
  while (process.hrtime.bigint() < quietUntil && Date.now() < deadline + 10_000) {
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await get(port, '/cgi-bin/run'), 200);
  }
  const lastEnd = process.hrtime.bigint();
  const last = Number((lastEnd - t0) / BigInt(W)) - 1; // the last window that is over
  while (process.hrtime.bigint() < t0 + BigInt(last + 2) * BigInt(W) + 500_000_000n) await new Promise((r) => setTimeout(r, 50));
  await Promise.all([stop(ev.child), stop(ag.child)]);
  say('stopped');

  // The per-event windows on the same grid.
  const byWindow = new Map<number, string[]>();
  // The same windows with their events in kernel time order (what the aggregate's pairs follow).
  const sorted = new Map<number, string[]>();
  const held = new Map<number, { mono: bigint; line: string }[]>();
  for (const e of evLines) {
    const k = Number((e.mono - t0) / BigInt(W));
    let l = byWindow.get(k);
    if (!l) byWindow.set(k, (l = []));
    l.push(e.line);
    let h = held.get(k);
    if (!h) held.set(k, (h = []));
    h.push(e);
  }
  for (const [k, h] of held) sorted.set(k, [...h].sort((a, b) => (a.mono < b.mono ? -1 : a.mono > b.mono ? 1 : 0)).map((e) => e.line));
  // Vocabularies: everything seen (fi only), and one that leaves `close` and every path unseen (USN and UAN everywhere).
  const names = new Set<string>();
  const args = new Set<string>();
  const argReader = new ArgReader(false, false);
  const nt = new NameTable();
  const p = new TraceParser({
    file: 'all',
    format: 'lidds',
    faithful: false,
    names: nt,
    onEvent: (e) => {
      const n = nt.name(e.nameId);
      names.add(n);
      const fam = argFamilyOf(n, false);
      const a = fam === ArgFamily.None ? null : argReader.read(e, fam);
      if (a !== null) args.add(a);
    },
  });
  p.push(Buffer.from(evLines.map((e) => e.line).join('\n') + '\n'));
  p.end();
  const maxFreq = Math.max(...[...byWindow.values()].map((l) => l.length));
  // Read as the aggregate program reads: an exec by its file, not its command line (it reads no argv).
  const asAggregate = (v: Vocabulary): Vocabulary => ({ ...v, execCommands: false });
  const vocabs = { all: asAggregate(makeVocabulary(names, args, maxFreq)), stress: asAggregate(makeVocabulary([...names].filter((n) => n !== 'close'), [], maxFreq)) };

  const rows: string[] = [];
  let compared = 0;
  let sameCount = 0;
  /** Windows whose maps bpftrace may have read late (mixed with the window two later): their counts are not compared. */
  const late: number[] = [];
  const worst = { fi: 0, usi: 0, uai: 0 };
  const worstSorted = { usi: 0, uai: 0 };
  /** The same, in the windows after ab had ended (CGI requests only). */
  const worstQuiet = { usi: 0, uai: 0 };
  let quiet = 0;
  // The first window after both programs have attached all their probes (BEGIN may run before
  // the last probe is attached): the aggregate's first window is partial.
  const from = Math.max(first, Math.min(...aggs.keys()) + 1);
  for (let k = from; k <= last; k++) {
    const lines = byWindow.get(k) ?? [];
    const agg = aggs.get(k);
    if (lines.length === 0 && agg === undefined) continue;
    assert.ok(agg, `window ${k}: ${lines.length} events per event, none in the aggregate (aggregate windows: ${[...aggs].map(([i, a]) => `${i}:${a.aggregate.events}`).join(" ")}; per event: ${[...byWindow].map(([i, l]) => `${i}:${l.length}`).join(" ")})`);
    assert.ok(lines.length > 0, `window ${k}: ${agg.aggregate.events} events in the aggregate, none per event`);
    if (agg.late) {
      late.push(k);
      continue;
    }
    compared++;
    if (k > abWindow) quiet++;
    if (agg.aggregate.events === lines.length) sameCount++;
    for (const [which, vocab] of Object.entries(vocabs)) {
      const want = encodeLines(lines, vocab);
      const inOrder = encodeLines(sorted.get(k) ?? [], vocab);
      const got = new AggregateEncoder(vocab).encode(agg.aggregate);
      const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)));
      worstSorted.usi = Math.max(worstSorted.usi, rel(got.av![1], inOrder.av![1]));
      worstSorted.uai = Math.max(worstSorted.uai, rel(got.av![2], inOrder.av![2]));
      if (k > abWindow) {
        worstQuiet.usi = Math.max(worstQuiet.usi, rel(got.av![1], inOrder.av![1]));
        worstQuiet.uai = Math.max(worstQuiet.uai, rel(got.av![2], inOrder.av![2]));
      }
      worst.fi = Math.max(worst.fi, rel(got.av![0], want.av![0]));
      worst.usi = Math.max(worst.usi, rel(got.av![1], want.av![1]));
      worst.uai = Math.max(worst.uai, rel(got.av![2], want.av![2]));
      rows.push(
        `w${k} ${which}: events ${lines.length}/${agg.aggregate.events} AV per-event ${want.av!.map((x) => x.toFixed(4)).join(',')} in kernel time order ${inOrder.av!.map((x) => x.toFixed(4)).join(',')} aggregate ${got.av!.map((x) => x.toFixed(4)).join(',')}`,
      );
      if (which === 'stress') {
        // What is unseen is the same set (not an artefact of ordering); a boundary event may add one.
        assert.deepEqual(got.unseenSyscalls, ['close'], `window ${k}`);
        const a = new Set(got.unseenArgs);
        const b = new Set(want.unseenArgs);
        const common = [...a].filter((x) => b.has(x)).length;
        assert.ok(common >= Math.max(a.size, b.size) - 2, `window ${k}: unseen args ${[...a].join(' ')} vs ${[...b].join(' ')}`);
      }
    }
  }
  console.log(rows.join('\n'));
  console.log(`compared ${compared} windows (${from}..${last}; left out, read late: ${late.length > 0 ? late.join(', ') : 'none'}); same event count in ${sameCount}; lost by the per-event program: ${lost}; worst relative difference fi ${worst.fi.toFixed(4)} usi ${worst.usi.toFixed(4)} uai ${worst.uai.toFixed(4)}; with the events in kernel time order usi ${worstSorted.usi.toFixed(4)} uai ${worstSorted.uai.toFixed(4)}, in the ${quiet} windows of CGI requests alone usi ${worstQuiet.usi.toFixed(4)} uai ${worstQuiet.uai.toFixed(4)}`);
  assert.ok(compared >= 2, `compared ${compared} windows (${late.length} more read late)`);
  // Stated tolerance (README): the count (fi) within 2 % per window; the centralities (usi, uai)
  // against the same events in kernel time order (the order chids' per-event stream has): within
  // 10 % in the windows of one request at a time (a structural difference, such as an argument
  // one side names and the other doesn't, shows there), within 50 % under ab's four clients, where
  // events of threads on two CPUs a few µs apart pair either way (the two programs stamp and pair
  // an event separately) and more so on a loaded machine. Against bpftrace's delivery order
  // (per-CPU buffers) they differ more: printed, not asserted.
  if (lost === 0) assert.ok(worst.fi <= 0.02, `fi differs by ${worst.fi}`);
  assert.ok(quiet >= 1, 'a window of CGI requests alone was compared');
  assert.ok(worstQuiet.usi <= 0.1 && worstQuiet.uai <= 0.1, `CGI requests alone, in kernel time order: usi ${worstQuiet.usi} uai ${worstQuiet.uai}`);
  assert.ok(worstSorted.usi <= 0.5 && worstSorted.uai <= 0.5, `in kernel time order: usi ${worstSorted.usi} uai ${worstSorted.uai}`);
});

/** The aggregate source on a process's pid namespace, once attached: the windows it reads, and how to stop it. */
async function watchAggregate(t: TestContext, pid: number): Promise<{ windows: AggregateWindow[]; stop: () => Promise<unknown> }> {
  const windows: AggregateWindow[] = [];
  const source = new AggregateEbpfSource({ kind: 'ebpf', pids: [pid], log: silentLogger, restart: false }, { windowNs: 1e9, onWindow: (w) => windows.push(w) });
  const ac = new AbortController();
  t.after(() => ac.abort());
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const sink = { data: () => true, whenSpace: async () => undefined, lost: () => undefined, restarted: () => undefined, ready: () => ready() };
  const run = source.run(sink, ac.signal);
  await isReady;
  return {
    windows,
    stop: () => {
      ac.abort();
      return run;
    },
  };
}

test('live: what nsenter does before its child execs is the runtime\'s, not counted; the exec\'d command is the container\'s (aggregate and per-event programs)', { skip: missing ?? false, timeout: 120_000 }, async (t) => {
  const web = await startNsHttpd(port + 2);
  t.after(() => web.stop());
  // The per-event program beside it, through the converter.
  const root = ensureTracefs();
  assert.ok(root, 'tracefs');
  const own = pidNamespaceOf('self');
  const perEvent: string[] = [];
  const conv = new EbpfConverter({ sec: 1_700_000_000, nsec: 0 }, own, containerFrom(pidNamespaceOf(web.pid), null, own), (_c, line) => perEvent.push(line.split(' ')[5]));
  const ev = startBpftrace(buildScript({ scope: { kind: 'pidns', inum: pidNamespaceOf(web.pid)! }, btf: true, pathProbes: pathProbes(root) }), (l) => conv.line(l));
  t.after(() => ev.child.kill('SIGKILL'));
  await ev.attached;
  const { windows, stop: stopAggregate } = await watchAggregate(t, web.pid);
  // As `podman exec` does through runc: join the namespace (setns, from outside it), fork into it,
  // exec there. nsenter's setns returns inside the namespace's filter, and its fork's child runs
  // in it until the exec: before, both counted as the container's (setns, wait4, …).
  for (let i = 0; i < 3; i++) {
    const r = spawnSync('nsenter', ['-t', String(web.pid), '-p', '-m', '/bin/busybox', 'ls', '-l', '/'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
  }
  await new Promise((r) => setTimeout(r, 2500));
  await Promise.all([stopAggregate(), stop(ev.child)]);
  conv.drain();
  for (const [which, names] of [
    ['aggregate', new Set(windows.flatMap((w) => w.aggregate.tokens.map((k) => k.name)))],
    ['per-event', new Set(perEvent)],
  ] as const) {
    assert.ok(names.has('getdents64'), `${which}: the exec'd ls is the container's: ${[...names].sort().join(' ')}`);
    assert.ok(!names.has('setns') && !names.has('wait4'), `${which}: nsenter's own calls are not: ${[...names].sort().join(' ')}`);
  }
});

test('live: an attack through the server\'s CGI (a shell reading /etc/passwd) raises the aggregate AV\'s unseen components', { skip: missing ?? false, timeout: 180_000 }, async (t) => {
  const web = await startNsHttpd(port + 1);
  t.after(() => web.stop());
  const { windows, stop: stopAggregate } = await watchAggregate(t, web.pid);
  // Normal: static pages for 4 s.
  const until = Date.now() + 4000;
  while (Date.now() < until) await get(web.port, '/index.html');
  await new Promise((r) => setTimeout(r, 1500));
  const normal = windows.length;
  assert.ok(normal >= 2, `${normal} normal windows`);
  // What normal looks like: every token of the normal windows.
  const reader = new ArgReader(false);
  const names = new Set<string>();
  const args = new Set<string>();
  let maxFreq = 1;
  for (const w of windows) {
    maxFreq = Math.max(maxFreq, w.aggregate.events);
    for (const tok of w.aggregate.tokens) {
      names.add(tok.name);
      if (tok.arg !== null && argFamilyOf(tok.name, false) !== ArgFamily.None) args.add(reader.process(tok.arg));
    }
  }
  const encoder = new AggregateEncoder(makeVocabulary(names, args, maxFreq));
  assert.equal(await get(web.port, '/cgi-bin/run?passwd'), 200);
  const deadline = Date.now() + 8000;
  let hit: { av: number[]; unseenArgs: string[]; unseenSyscalls: string[] } | null = null;
  while (hit === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    for (const w of windows.slice(normal)) {
      const v = encoder.encode(w.aggregate);
      if (v.unseenArgs.includes('/etc/passwd')) hit = { av: v.av!, unseenArgs: v.unseenArgs, unseenSyscalls: v.unseenSyscalls };
    }
  }
  await stopAggregate();
  assert.ok(hit, 'a window after the attack names /etc/passwd among its unseen arguments');
  console.log(`attack window: AV ${hit.av.map((x) => x.toFixed(4)).join(', ')}; unseen syscalls ${hit.unseenSyscalls.join(' ')}; unseen args ${hit.unseenArgs.join(' ')}`);
  assert.ok(hit.av[2] > 0, 'uai > 0');
  assert.ok(hit.av[1] > 0, 'usi > 0: the shell makes syscalls the server never does');
});
