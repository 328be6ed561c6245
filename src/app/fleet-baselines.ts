/**
 * The fleet's baseline registry: the object store bucket `chids-baselines`, one object per image
 * (the object's name is the image reference), holding the baseline directory as a zip. Each push
 * replaces the object and counts its version up (metadata `version`, with the manifest's model
 * type and the pushing host); the broker's own revision number orders pushes too.
 *
 * A monitor with `--nats` and no local baseline fetches its image's into a cache directory
 * (`$CHIDS_CACHE`, else ~/.cache/chids), one subdirectory per image and version, and watches the
 * bucket: a newer version of its image is fetched and swapped in (src/app/monitor.ts hot swap).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StorageType, jetstreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { unzipSync, zipSync } from 'fflate';
import { pathsInDir, readBaselineData, type ArtifactPaths } from '../engine/baseline-dir.js';
import { connectOrFail } from '../outputs/nats/link.js';
import { clusterSize } from '../outputs/nats/streams.js';
import { BASELINES_BUCKET } from '../outputs/nats/subjects.js';
import { ChidsError, describeError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface BaselineEntry {
  image: string;
  version: number;
  revision: number;
  size: number;
  model: string | null;
  pushed_by: string | null;
  mtime: string;
  digest: string;
}

async function bucket(nc: NatsConnection): Promise<ObjectStore> {
  await jetstreamManager(nc);
  return new Objm(nc).create(BASELINES_BUCKET, { storage: StorageType.File, replicas: Math.min(5, clusterSize(nc)), description: 'chids: baselines by image' });
}

function entryOf(i: ObjectInfo): BaselineEntry {
  const m = i.metadata ?? {};
  return {
    image: i.name,
    version: Number(m.version ?? 0),
    revision: i.revision,
    size: i.size,
    model: m.model ?? null,
    pushed_by: m.pushed_by ?? null,
    mtime: i.mtime,
    digest: i.digest,
  };
}

/** The files of a baseline directory as a zip (paths relative to it). */
function zipDir(dir: string): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = statSync(path.join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) files[r] = readFileSync(path.join(dir, r));
    }
  };
  walk('');
  return zipSync(files, { level: 6 });
}

/** `chids fleet push`: validates the baseline, stores it under its image, returns the new entry. */
export async function pushBaseline(o: { url: string; dir: string; image?: string }): Promise<BaselineEntry> {
  const data = await readBaselineData(pathsInDir(o.dir));
  const image = o.image ?? path.basename(path.resolve(o.dir));
  if (image === '' || /\s/.test(image)) throw new ChidsError(`--image ${JSON.stringify(image)}: not an image reference`);
  const blob = zipDir(o.dir);
  const nc = await connectOrFail(o.url, 'chids fleet push');
  try {
    const os_ = await bucket(nc);
    const prev = await os_.info(image);
    const version = prev && !prev.deleted ? Number(prev.metadata?.version ?? 0) + 1 : 1;
    const info = await os_.putBlob(
      {
        name: image,
        description: `chids baseline for ${image}`,
        metadata: { version: String(version), model: data.manifest?.model.type ?? 'unknown', pushed_by: os.hostname() },
      },
      blob,
    );
    return entryOf(info);
  } catch (err) {
    if (err instanceof ChidsError) throw err;
    throw new ChidsError(`--nats ${o.url}: cannot store the baseline (${describeError(err)})`);
  } finally {
    await nc.close();
  }
}

/** `chids fleet baselines`: every image's current baseline. */
export async function listBaselines(o: { url: string }): Promise<BaselineEntry[]> {
  const nc = await connectOrFail(o.url, 'chids fleet baselines');
  try {
    const os_ = await bucket(nc);
    return (await os_.list()).filter((i) => !i.deleted).map(entryOf).sort((a, b) => a.image.localeCompare(b.image));
  } catch (err) {
    throw new ChidsError(`--nats ${o.url}: cannot list the baselines (${describeError(err)})`);
  } finally {
    await nc.close();
  }
}

export function cacheRoot(): string {
  return process.env.CHIDS_CACHE ?? path.join(os.homedir(), '.cache', 'chids');
}

/** Writes a fetched baseline into the cache (temp dir + rename) and returns its directory. */
async function unpack(image: string, entry: BaselineEntry, blob: Uint8Array): Promise<string> {
  const root = path.join(cacheRoot(), 'baselines');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = path.join(root, `${image.replace(/[^A-Za-z0-9._-]/g, '_')}@v${entry.version}-r${entry.revision}`);
  try {
    statSync(path.join(dir, 'manifest.json'));
    return dir; // fetched before
  } catch {
    // not cached yet
  }
  const tmp = await mkdtemp(path.join(root, '.fetch-'));
  try {
    const files = unzipSync(blob);
    for (const [rel, bytes] of Object.entries(files)) {
      if (rel.split('/').some((c) => c === '..' || c === '') || path.isAbsolute(rel)) throw new ChidsError(`baseline of ${image}: unsafe path ${rel} in the stored zip`);
      mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
      writeFileSync(path.join(tmp, rel), bytes);
    }
    await readBaselineData(pathsInDir(tmp));
    try {
      renameSync(tmp, dir);
    } catch {
      // Another process fetched the same version at the same moment: theirs is as good.
      rmSync(tmp, { recursive: true, force: true });
    }
    return dir;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Fetches the current baseline of an image from an open connection (null when there is none). */
export async function fetchFrom(nc: NatsConnection, image: string): Promise<{ dir: string; entry: BaselineEntry } | null> {
  const os_ = await bucket(nc);
  const info = await os_.info(image);
  if (info === null || info.deleted) return null;
  const blob = await os_.getBlob(image);
  if (blob === null) return null;
  const entry = entryOf(info);
  return { dir: await unpack(image, entry, blob), entry };
}

/** `monitor --nats … --image REF` without `--od`: the image's baseline from the registry. */
export async function fetchBaseline(o: { url: string; image: string; log: Logger }): Promise<{ paths: ArtifactPaths; entry: BaselineEntry }> {
  const nc = await connectOrFail(o.url, 'chids monitor (baseline fetch)');
  try {
    const got = await fetchFrom(nc, o.image).catch((err) => {
      throw new ChidsError(`--nats ${o.url}: cannot fetch the baseline of ${o.image} (${describeError(err)})`);
    });
    if (got === null) throw new ChidsError(`--nats ${o.url}: no baseline for image ${o.image} in ${BASELINES_BUCKET} (push one with chids fleet push --od DIR --image ${o.image})`);
    o.log.info('baseline fetched from the fleet', { image: o.image, version: got.entry.version, dir: got.dir });
    return { paths: pathsInDir(got.dir), entry: got.entry };
  } finally {
    await nc.close();
  }
}

/** Watches the bucket for new versions of one image; `onVersion` gets each newer one, fetched. */
export async function watchBaseline(
  nc: NatsConnection,
  image: string,
  after: number,
  onVersion: (dir: string, entry: BaselineEntry) => void,
  log: Logger,
): Promise<() => void> {
  const os_ = await bucket(nc);
  const it = await os_.watch({ ignoreDeletes: true });
  let last = after;
  void (async () => {
    for await (const i of it) {
      if (i === null || i.name !== image || i.deleted || i.revision <= last) continue;
      last = i.revision;
      try {
        const got = await fetchFrom(nc, image);
        if (got) onVersion(got.dir, got.entry);
      } catch (err) {
        log.warn('new baseline version could not be fetched', { image, error: describeError(err) });
      }
    }
  })();
  return () => it.stop();
}

