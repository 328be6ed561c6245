/**
 * podman as a container runtime: `podman ps --all --format json`, one call for every container
 * (name, image, labels, init pid). Run asynchronously, never on the event path; the binary can be
 * replaced with CHIDS_PODMAN (e.g. a wrapper that adds `--root`).
 */
import { execFile } from 'node:child_process';
import { z } from 'zod';
import type { ContainerRuntime, RuntimeContainer } from './types.js';

export const PODMAN_ENV = 'CHIDS_PODMAN';

const PsEntry = z.object({
  Id: z.string(),
  Names: z.array(z.string()).nullish(),
  Image: z.string().nullish(),
  ImageID: z.string().nullish(),
  Labels: z.record(z.string(), z.string()).nullish(),
  Pid: z.number().nullish(),
  State: z.string().nullish(),
});

/** Parses `podman ps --format json` (exported for tests). */
export function parsePodmanPs(text: string): RuntimeContainer[] {
  const parsed = z.array(PsEntry).safeParse(JSON.parse(text.trim() === '' ? '[]' : text));
  if (!parsed.success) throw new Error(`unexpected podman ps output: ${parsed.error.issues[0]?.message ?? 'bad shape'}`);
  return parsed.data.map((e) => ({
    id: e.Id,
    name: e.Names?.[0] ?? e.Id.slice(0, 12),
    image: e.Image ?? '',
    imageId: e.ImageID ?? null,
    labels: e.Labels ?? {},
    pid: e.Pid ?? 0,
    running: e.State === 'running',
  }));
}

export class PodmanRuntime implements ContainerRuntime {
  readonly name = 'podman';
  constructor(private readonly bin = process.env[PODMAN_ENV] || 'podman') {}

  list(): Promise<RuntimeContainer[]> {
    return new Promise((resolve, reject) => {
      execFile(this.bin, ['ps', '--all', '--format', 'json'], { timeout: 15_000, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${this.bin} ps failed: ${(stderr || err.message).trim().slice(0, 300)}`));
          return;
        }
        try {
          resolve(parsePodmanPs(stdout));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  }
}
