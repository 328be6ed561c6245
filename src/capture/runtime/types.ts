/**
 * Container identity from a container runtime: what a container is called and which image it
 * runs, as Falco names it (`container.name`, `container.image.repository`, …). A runtime is
 * anything that can list its containers (podman's CLI today; CRI-O and containerd through
 * `crictl` or their socket can implement the same interface).
 */

/** One container as its runtime describes it. */
export interface RuntimeContainer {
  /** Full 64-hex id. */
  id: string;
  name: string;
  /** Image reference as given at run time (`localhost/web:1`, `docker.io/library/nginx:1.25`). */
  image: string;
  /** Image id (64 hex), when the runtime gives it. */
  imageId: string | null;
  labels: Record<string, string>;
  /** Host pid of the container's init process, 0 when it is not running. */
  pid: number;
  running: boolean;
}

export interface ContainerRuntime {
  /** `podman`, `crio`, `containerd`. */
  readonly name: string;
  /** Every container the runtime knows (running or not). Rejects when the runtime cannot be asked. */
  list(): Promise<RuntimeContainer[]>;
}

/** What chids knows of a container beyond its id; filled in asynchronously, read when an alert is built. */
export interface ContainerIdentity {
  /** Set once the runtime has answered for this container (resolved or not found). */
  state: 'pending' | 'resolved' | 'unknown';
  name: string | null;
  /** Full image reference, Falco's `container.image`. */
  image: string | null;
  repository: string | null;
  tag: string | null;
  imageId: string | null;
  /** CRI labels (Kubernetes): `io.kubernetes.pod.name` / `io.kubernetes.pod.namespace`. */
  podName: string | null;
  podNamespace: string | null;
  runtime: string | null;
}

export function pendingIdentity(): ContainerIdentity {
  return { state: 'pending', name: null, image: null, repository: null, tag: null, imageId: null, podName: null, podNamespace: null, runtime: null };
}

/**
 * Splits an image reference into repository and tag: the tag is what follows the last ':' after
 * the last '/' (a registry port, `host:5000/web`, is not a tag); a digest (`@sha256:…`) is kept as
 * the tag when there is no tag; no tag at all reads as `latest`, as the runtimes do.
 */
export function splitImage(ref: string): { repository: string; tag: string } {
  const at = ref.indexOf('@');
  const base = at < 0 ? ref : ref.slice(0, at);
  const digest = at < 0 ? null : ref.slice(at + 1);
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  if (colon > slash) return { repository: base.slice(0, colon), tag: base.slice(colon + 1) };
  return { repository: base, tag: digest ?? 'latest' };
}

/** The identity of a runtime container (Falco's fields). */
export function identityOf(c: RuntimeContainer, runtime: string): ContainerIdentity {
  const { repository, tag } = splitImage(c.image);
  return {
    state: 'resolved',
    name: c.name,
    image: c.image,
    repository,
    tag,
    imageId: c.imageId,
    podName: c.labels['io.kubernetes.pod.name'] ?? null,
    podNamespace: c.labels['io.kubernetes.pod.namespace'] ?? null,
    runtime,
  };
}
