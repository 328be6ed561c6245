/** Syscalls that make a new process or thread: their exit carries the child's id (parent links, attribution). */
export const CLONE_FAMILY: ReadonlySet<string> = new Set(['clone', 'clone3', 'fork', 'vfork']);
