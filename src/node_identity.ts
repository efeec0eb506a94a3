/**
 * The node's name and IP address: from the downward API (`NODE_NAME`,
 * `HOST_IP`) in a cluster, from the machine otherwise.
 *
 * @module
 */

/** Name and IP of the node this process runs on. */
export function nodeIdentity(env: (name: string) => string | undefined): { name: string; ip: string } {
  const name = env("NODE_NAME") || Deno.hostname();
  let ip = env("HOST_IP") ?? "";
  if (!ip) {
    const external = Deno.networkInterfaces().find((i) => i.family === "IPv4" && !i.address.startsWith("127."));
    ip = external?.address ?? "127.0.0.1";
  }
  return { name, ip };
}
