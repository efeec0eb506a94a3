/**
 * glibc through Deno's FFI, for the few calls Deno has no API for
 * (inotify without modify events, `lseek` with `SEEK_DATA`/`SEEK_HOLE`,
 * `TCP_NODELAY` on the webhook's listening socket), and libcrypto's SHA-256.
 * Every caller must work without it: without `--allow-ffi`, or on a libc
 * other than glibc, the loader answers undefined.
 *
 * @module
 */

/**
 * A loader of the first of `names` that opens, with `symbols`: it tries at
 * its first call and answers the same symbols (or undefined, when FFI or
 * every library is missing) ever after.
 */
export function libraryLoader<S extends Deno.ForeignLibraryInterface>(
  names: string[],
  symbols: S,
): () => Deno.DynamicLibrary<S>["symbols"] | undefined {
  let loaded: Deno.DynamicLibrary<S>["symbols"] | null | undefined;
  return () => {
    if (loaded === undefined) {
      loaded = null;
      for (const name of names) {
        try {
          loaded = Deno.dlopen(name, symbols).symbols;
          break;
        } catch {
          // Not this one (or no FFI): try the next.
        }
      }
    }
    return loaded ?? undefined;
  };
}

/** A {@linkcode libraryLoader} of glibc, `libc.so.6`. */
export function libcLoader<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): () => Deno.DynamicLibrary<S>["symbols"] | undefined {
  return libraryLoader(["libc.so.6"], symbols);
}

/** The calling thread's `errno`, through the library's `__errno_location` (0 when it has none). */
export function lastErrno(errnoLocation: () => Deno.PointerValue): number {
  const pointer = errnoLocation();
  return pointer ? new Deno.UnsafePointerView(pointer).getInt32() : 0;
}
