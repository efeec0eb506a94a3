/**
 * A directory laid out like a Kubernetes Secret volume, updated the way the
 * kubelet's atomic writer does it: the files live in a timestamped
 * directory, `..data` is a symlink to it, `tls.crt` and `tls.key` are
 * symlinks through `..data`, and an update writes a new directory and
 * renames a fresh `..data` symlink over the old one.
 */

import { join } from "node:path";

/** A fake Secret volume holding `tls.crt` and `tls.key`. */
export interface SecretVolume {
  dir: string;
  certFile: string;
  keyFile: string;
  /** Publishes a new certificate and key in one atomic step. */
  update(pair: { certPem: string; keyPem: string }): Promise<void>;
}

/** Creates an empty Secret volume directory under `parent` (no files until the first update). */
export async function createSecretVolume(parent: string): Promise<SecretVolume> {
  const dir = join(parent, "webhook-tls");
  await Deno.mkdir(dir, { recursive: true });
  let generation = 0;
  let previous: string | undefined;
  return {
    dir,
    certFile: join(dir, "tls.crt"),
    keyFile: join(dir, "tls.key"),
    async update(pair): Promise<void> {
      const data = `..2026_11_27_07_00_00.${++generation}`;
      await Deno.mkdir(join(dir, data));
      await Deno.writeTextFile(join(dir, data, "tls.crt"), pair.certPem);
      await Deno.writeTextFile(join(dir, data, "tls.key"), pair.keyPem);
      await Deno.symlink(data, join(dir, "..data_tmp"));
      await Deno.rename(join(dir, "..data_tmp"), join(dir, "..data"));
      for (const name of ["tls.crt", "tls.key"]) {
        try {
          await Deno.lstat(join(dir, name));
        } catch {
          await Deno.symlink(join("..data", name), join(dir, name));
        }
      }
      if (previous) await Deno.remove(join(dir, previous), { recursive: true });
      previous = data;
    },
  };
}
