/**
 * Random bytes for test cores: they do not compress, so an upload really
 * has the size (and the multipart parts) the test asks for.
 */

/** `bytes` random bytes (WebCrypto fills at most 64 KiB at a time). */
export function randomBytes(bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let at = 0; at < bytes; at += 65536) crypto.getRandomValues(data.subarray(at, Math.min(bytes, at + 65536)));
  return data;
}
