/**
 * The deployment files in deploy/ hold to what chids needs: the image (deploy/Containerfile)
 * runs chids from the built bundle with bpftrace and strace installed; the DaemonSet
 * (deploy/kubernetes/daemonset.yaml) gives the monitor the host's pid namespace, the
 * capabilities and mounts its sources use, and arguments that the real `chids monitor` parser
 * accepts (parsed by the CLI's own commander program, with the action replaced so that nothing
 * runs).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/program.js';
import { artifactPaths } from '../src/cli/common.js';
import { parseListen } from '../src/outputs/prometheus.js';
import { repoRoot } from './helpers/paths.js';

const CONTAINERFILE = path.join(repoRoot, 'deploy', 'Containerfile');
const DAEMONSET = path.join(repoRoot, 'deploy', 'kubernetes', 'daemonset.yaml');

interface Instruction {
  op: string;
  args: string;
}

/** The instructions of a Containerfile: continuation lines joined, comments dropped, grouped by stage. */
function stages(text: string): Instruction[][] {
  const out: Instruction[][] = [];
  let carry = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (carry === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      carry += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (carry + line).trim();
    carry = '';
    const sp = full.indexOf(' ');
    const ins = { op: full.slice(0, sp).toUpperCase(), args: full.slice(sp + 1).trim() };
    if (ins.op === 'FROM') out.push([]);
    assert.ok(out.length > 0, `instruction before FROM: ${full}`);
    out[out.length - 1].push(ins);
  }
  return out;
}

/** Parses `chids monitor ARGS` with the CLI's own parser; returns the flags, or throws its error. */
async function parseMonitorArgs(args: string[]): Promise<Record<string, unknown>> {
  const program = buildProgram();
  const monitor = program.commands.find((c) => c.name() === 'monitor') as Command;
  let flags: Record<string, unknown> | null = null;
  const quiet = { writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined };
  program.configureOutput(quiet);
  monitor.configureOutput(quiet);
  monitor.action((f: Record<string, unknown>) => {
    flags = f;
  });
  await program.parseAsync(['node', 'chids', ...args]);
  assert.ok(flags !== null, 'the monitor action was reached');
  return flags;
}

describe('deploy/Containerfile', () => {
  const text = readFileSync(CONTAINERFILE, 'utf8');
  const st = stages(text);
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };

  test('every stage is Node 20 slim', () => {
    assert.equal(st.length, 2, 'a build stage and a runtime stage');
    for (const s of st) assert.match(s[0].args, /(^|\/)node:20(-[a-z]+)?-slim(\s+AS\s+\w+)?$/i, s[0].args);
  });

  test('the build stage builds dist/ from files that exist', () => {
    const build = st[0];
    for (const c of build.filter((i) => i.op === 'COPY')) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) assert.ok(existsSync(path.join(repoRoot, src)), `COPY ${src}: exists in the repository`);
    }
    const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
    assert.match(runs, /npm ci\b/);
    assert.match(runs, /npm run build\b/);
    assert.ok(pkg.scripts.build, 'package.json has the build script');
    assert.match(runs, /npm prune --omit=dev/, 'dev dependencies are not shipped');
  });

  test('the runtime stage has the capture tools, the bundle, and chids as its entrypoint', () => {
    const rt = st[1];
    const runs = rt.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
    const install = /apt-get install ([^&]*)/.exec(runs)?.[1].split(/\s+/) ?? [];
    for (const p of ['bpftrace', 'strace', 'util-linux']) assert.ok(install.includes(p), `apt-get install ${p}`);
    const workdir = rt.find((i) => i.op === 'WORKDIR')!.args;
    const copies = rt.filter((i) => i.op === 'COPY').map((i) => i.args);
    for (const what of ['package.json', 'node_modules', 'dist']) assert.ok(copies.some((c) => c.startsWith('--from=build') && c.includes(`/${what} `)), `COPY --from=build …/${what}`);
    // The entrypoint `chids` is package.json's bin, linked onto PATH.
    const entry = JSON.parse(rt.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    assert.deepEqual(entry, ['chids']);
    const link = /ln -s (\S+) \/usr\/local\/bin\/chids/.exec(runs);
    assert.ok(link, 'chids is linked into /usr/local/bin');
    assert.equal(path.posix.relative(workdir, link[1]), path.posix.normalize(pkg.bin.chids), 'the link points at package.json\'s bin');
    const expose = rt.find((i) => i.op === 'EXPOSE')!.args;
    assert.equal(expose, '9464');
  });
});

describe('deploy/kubernetes/daemonset.yaml', () => {
  const text = readFileSync(DAEMONSET, 'utf8');
  const docs = parseAllDocuments(text);
  for (const d of docs) assert.deepEqual(d.errors, [], 'valid YAML');
  const objs = docs.map((d) => d.toJS() as Record<string, any>);
  const ds = objs.find((o) => o.kind === 'DaemonSet')!;
  const pod = ds?.spec?.template?.spec;
  const ctr = pod?.containers?.[0];

  test('a DaemonSet whose pod template matches its selector, in the host pid namespace', () => {
    assert.ok(ds, 'there is a DaemonSet');
    assert.equal(ds.apiVersion, 'apps/v1');
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) assert.equal(ds.spec.template.metadata.labels[k], v);
    assert.equal(pod.hostPID, true);
    assert.equal(pod.containers.length, 1);
    const ns = objs.find((o) => o.kind === 'Namespace');
    assert.equal(ns?.metadata.name, ds.metadata.namespace, 'its namespace is created with it');
  });

  test('its arguments are valid `chids monitor` flags (the CLI\'s own parser)', async () => {
    assert.equal(ctr.command, undefined, 'the image\'s entrypoint (chids) is kept');
    assert.equal(ctr.args[0], 'monitor');
    const flags = await parseMonitorArgs(ctr.args);
    assert.equal(flags.source, 'ebpf');
    assert.equal(flags.allContainers, true, 'node-wide');
    const listen = parseListen(flags.metrics as string);
    assert.equal(listen.host, '0.0.0.0', 'metrics reachable from outside the pod');
    const port = ctr.ports.find((p: any) => p.name === 'metrics');
    assert.equal(port.containerPort, listen.port);
    assert.equal(ds.spec.template.metadata.annotations['prometheus.io/port'], String(listen.port));
    for (const probe of [ctr.livenessProbe, ctr.readinessProbe]) {
      assert.equal(probe.httpGet.path, '/healthz');
      assert.equal(probe.httpGet.port, 'metrics');
    }
    const paths = artifactPaths(flags, true);
    const mounts: { name: string; mountPath: string; readOnly?: boolean }[] = ctr.volumeMounts;
    const under = (p: string) => mounts.find((m) => p === m.mountPath || p.startsWith(m.mountPath + '/'));
    const base = under(paths.dir!);
    assert.ok(base, `the baseline ${paths.dir} is on a volume`);
    assert.equal(base.readOnly, true, 'baselines are mounted read only');
    const alerts = under(flags.alerts as string);
    assert.ok(alerts && !alerts.readOnly, 'the alerts file is on a writable volume');
  });

  test('the validation can fail: the same parser refuses a wrong flag and a wrong value', async () => {
    await assert.rejects(parseMonitorArgs([...ctr.args, '--no-such-flag']), /unknown option/);
    await assert.rejects(parseMonitorArgs(['monitor', '--source', 'kprobe']), /invalid/);
  });

  test('the capabilities eBPF and strace need, each justified, and nothing else', () => {
    const sc = ctr.securityContext;
    assert.equal(sc.privileged, false);
    assert.equal(sc.runAsUser, 0, 'bpftrace runs as root only');
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    const caps: string[] = sc.capabilities.add;
    assert.deepEqual([...caps].sort(), ['BPF', 'PERFMON', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_RESOURCE']);
    for (const c of caps) assert.match(text, new RegExp(`#\\s*${c}: `), `a comment says why ${c}`);
    assert.equal(sc.seccompProfile.type, 'Unconfined', 'runtime seccomp defaults refuse bpf(2) and perf_event_open(2)');
  });

  test('the mounts the monitor needs: tracefs, debugfs, the runtime socket, baselines, a writable /tmp', () => {
    const vols = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v]));
    const mounts: { name: string; mountPath: string; readOnly?: boolean }[] = ctr.volumeMounts;
    const hostPathAt = (mountPath: string) => {
      const m = mounts.find((x) => x.mountPath === mountPath);
      assert.ok(m, `${mountPath} is mounted`);
      return vols.get(m.name);
    };
    assert.equal(hostPathAt('/sys/kernel/tracing').hostPath.path, '/sys/kernel/tracing');
    assert.equal(hostPathAt('/sys/kernel/debug').hostPath.path, '/sys/kernel/debug');
    const sock = mounts.find((m) => m.mountPath.endsWith('.sock'));
    assert.ok(sock, 'a container runtime socket');
    assert.equal(vols.get(sock.name).hostPath.type, 'Socket');
    assert.equal(vols.get(sock.name).hostPath.path, sock.mountPath);
    // strace's FIFO goes to os.tmpdir(): with a read-only root it needs a writable /tmp.
    assert.equal(ctr.securityContext.readOnlyRootFilesystem, true);
    const tmp = mounts.find((m) => m.mountPath === '/tmp');
    assert.ok(tmp && !tmp.readOnly && vols.get(tmp.name).emptyDir, 'a writable /tmp');
    // Every mount names a volume that exists.
    for (const m of mounts) assert.ok(vols.has(m.name), `volume ${m.name}`);
  });

  test('resource requests and limits are set', () => {
    const r = ctr.resources;
    for (const k of ['cpu', 'memory']) {
      assert.ok(r.requests[k], `requests.${k}`);
      assert.ok(r.limits[k], `limits.${k}`);
    }
    // The bounded queue must fit in the memory limit.
    const mb = Number(ctr.args[ctr.args.indexOf('--queue-mb') + 1]);
    const limit = /^(\d+)Gi$/.exec(r.limits.memory);
    assert.ok(limit && Number(limit[1]) * 1024 > mb * 4, `the ${mb} MiB queue fits well within ${r.limits.memory}`);
  });
});
