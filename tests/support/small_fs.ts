/**
 * A real, small file system for disk tests: a tmpfs mounted for the test.
 * Mounting needs root (or CAP_SYS_ADMIN); where it is not allowed, tests
 * that need it are skipped with the reason {@linkcode cannotMountReason}
 * gives.
 */

/** Mounts a tmpfs of `sizeMiB` at `dir` (created when missing), or says why it cannot. */
export async function mountSmallFileSystem(dir: string, sizeMiB: number): Promise<string | undefined> {
  await Deno.mkdir(dir, { recursive: true });
  try {
    const result = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", dir],
      stderr: "piped",
    }).output();
    return result.success ? undefined : new TextDecoder().decode(result.stderr).trim() || "mount failed";
  } catch (error) {
    return (error as Error).message;
  }
}

/** Unmounts what {@linkcode mountSmallFileSystem} mounted at `dir`; nothing when it is not mounted. */
export async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stderr: "null" }).output().catch(() => {});
}

/** Why a small tmpfs cannot be mounted here, or undefined when it can (tried once, on a scratch directory). */
export async function cannotMountReason(): Promise<string | undefined> {
  const probe = await Deno.makeTempDir({ prefix: "coredog-mount-probe-" });
  const reason = await mountSmallFileSystem(`${probe}/fs`, 1);
  await unmount(`${probe}/fs`);
  await Deno.remove(probe, { recursive: true });
  return reason;
}
