/**
 * The image a container runs, from its engine (podman, then docker), so that replicas (the
 * containers of one image) can be grouped. Asked once per container (cached), never per event;
 * a container no engine knows (or no engine installed) has no image: null.
 */
import { spawnSync } from 'node:child_process';

const cache = new Map<string, string | null>();
const ENGINES = ['podman', 'docker'];

export function containerImage(containerId: string): string | null {
  if (!/^[0-9a-f]{12,64}$/.test(containerId)) return null;
  const hit = cache.get(containerId);
  if (hit !== undefined) return hit;
  let image: string | null = null;
  for (const engine of ENGINES) {
    const r = spawnSync(engine, ['inspect', '--type', 'container', '--format', '{{.ImageName}}|{{.Config.Image}}', containerId], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0 || r.error) continue;
    const [a, b] = r.stdout.trim().split('|');
    image = [a, b].find((x) => x && x !== '<no value>') ?? null;
    if (image) break;
  }
  cache.set(containerId, image);
  return image;
}
