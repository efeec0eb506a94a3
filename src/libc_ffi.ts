/**
 * glibc through Deno's FFI, for the few calls Deno has no API for
 * (inotify without modify events, `lseek` with `SEEK_DATA`/`SEEK_HOLE`,
 * `TCP_NODELAY` on the webhook's listening socket).
 * Every caller must work without it: without `--allow-ffi`, or on a libc
 * other than glibc, the loader answers undefined.
 *
 * @module
 */

/**
 * A loader of `libc.so.6` with `symbols`: it opens the library at its first
 * call and answers the same symbols (or undefined, when FFI is not there)
 * ever after.
 */
export function libcLoader<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): () => Deno.DynamicLibrary<S>["symbols"] | undefined {
  let loaded: Deno.DynamicLibrary<S>["symbols"] | null | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        loaded = Deno.dlopen("libc.so.6", symbols).symbols;
      } catch {
        loaded = null;
      }
    }
    return loaded ?? undefined;
  };
}

/** The calling thread's `errno`, through the library's `__errno_location` (0 when it has none). */
export function lastErrno(errnoLocation: () => Deno.PointerValue): number {
  const pointer = errnoLocation();
  return pointer ? new Deno.UnsafePointerView(pointer).getInt32() : 0;
}
