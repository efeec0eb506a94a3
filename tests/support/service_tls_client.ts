/**
 * Talks to a local server the way kube-apiserver talks to a webhook: TCP to
 * wherever the Service leads (here 127.0.0.1), TLS verified against the
 * `caBundle` alone and for the Service's DNS name
 * (`<service>.<namespace>.svc`), then one HTTP/1.1 request.
 */

/** One answer. */
export interface ServiceResponse {
  status: number;
  body: string;
}

/** Options of {@linkcode requestViaService}. */
export interface ServiceRequestOptions {
  /** The name TLS must verify, e.g. `coredog-webhook.coredog-system.svc`. */
  serverName: string;
  /** The only CAs trusted (PEM). */
  caPem: string;
  method?: string;
  path?: string;
  body?: string;
}

/**
 * Sends one request to 127.0.0.1:`port`.
 *
 * @throws {Error} when the certificate is not trusted for `serverName`.
 */
export async function requestViaService(port: number, options: ServiceRequestOptions): Promise<ServiceResponse> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = await Deno.startTls(tcp, { hostname: options.serverName, caCerts: [options.caPem] });
  try {
    const body = new TextEncoder().encode(options.body ?? "");
    const head = [
      `${options.method ?? "POST"} ${options.path ?? "/mutate"} HTTP/1.1`,
      `host: ${options.serverName}`,
      "content-type: application/json",
      `content-length: ${body.length}`,
      "connection: close",
      "",
      "",
    ].join("\r\n");
    await writeAll(conn, new TextEncoder().encode(head));
    await writeAll(conn, body);
    const raw = await readAll(conn);
    return parse(new TextDecoder().decode(raw));
  } finally {
    try {
      conn.close();
    } catch {
      // already closed by the server
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch (error) {
      // A peer that closes without close_notify ends the answer too.
      if (chunks.length > 0 && error instanceof Deno.errors.UnexpectedEof) break;
      throw error;
    }
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  const total = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    total.set(chunk, at);
    at += chunk.length;
  }
  return total;
}

function parse(text: string): ServiceResponse {
  const split = text.indexOf("\r\n\r\n");
  const head = text.slice(0, split).split("\r\n");
  let body = text.slice(split + 4);
  const status = Number(head[0].split(" ")[1]);
  if (head.some((line) => /^transfer-encoding:\s*chunked/i.test(line))) body = unchunk(body);
  return { status, body };
}

function unchunk(body: string): string {
  let result = "";
  let rest = body;
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, end), 16);
    if (!size) break;
    result += rest.slice(end + 2, end + 2 + size);
    rest = rest.slice(end + 2 + size + 2);
  }
  return result;
}
