/**
 * The webhook's HTTPS server (src/webhook/tls_server.ts) turns Nagle's
 * algorithm off on every connection it accepts, before and after a
 * certificate swap (with it on, each AdmissionReview answer waits about
 * 44 ms for kube-apiserver's delayed ACK), and a swap hands every new
 * connection to the new certificate.
 *
 * The server runs in this process, so the test reads the option straight
 * from the sockets it accepted.
 */

import assert from "node:assert/strict";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueServingCertificate,
} from "../src/tls/certificates.ts";
import { type CertificatePair, ListenError, serveTls } from "../src/webhook/tls_server.ts";

const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;

const libc = Deno.dlopen("libc.so.6", {
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
}).symbols;

function intOption(fd: number, level: number, name: number): number | undefined {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  return libc.getsockopt(fd, level, name, value, length) === 0 ? value[0] : undefined;
}

function localPort(fd: number): number | undefined {
  const address = new Uint8Array(128);
  const length = new Uint32Array([128]);
  if (libc.getsockname(fd, address, length) !== 0) return undefined;
  return new DataView(address.buffer).getUint16(2, false);
}

/** TCP_NODELAY of each connection this process accepted on `port` (not the listeners, not the clients). */
function acceptedNoDelay(port: number): number[] {
  const options: number[] = [];
  for (let fd = 0; fd < 4096; fd++) {
    if (intOption(fd, SOL_SOCKET, SO_ACCEPTCONN) !== 0 || localPort(fd) !== port) continue;
    options.push(intOption(fd, IPPROTO_TCP, TCP_NODELAY)!);
  }
  return options;
}

/** How many sockets of this process listen on `port`. */
function listenerCount(port: number): number {
  let count = 0;
  for (let fd = 0; fd < 4096; fd++) {
    if (intOption(fd, SOL_SOCKET, SO_ACCEPTCONN) === 1 && localPort(fd) === port) count++;
  }
  return count;
}

function leafOf(ca: CertificateAuthority): Promise<CertificatePair> {
  return issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] });
}

/** A TLS connection that has had one answered request, kept open as kube-apiserver keeps its connections. */
interface OpenConnection {
  conn: Deno.TlsConn;
  /** Sends one more request on it; resolves with the answer's text, rejects (or resolves empty) once it is closed. */
  request(): Promise<string>;
}

function answerComplete(text: string): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const length = Number(text.slice(0, end).match(/\r\ncontent-length: (\d+)/i)?.[1] ?? 0);
  return text.length >= end + 4 + length;
}

async function openConnection(port: number, caPem: string): Promise<OpenConnection> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] });
  const request = async () => {
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: localhost\r\n\r\n"));
    // The whole answer, headers and `content-length` bytes of body, however many reads it takes.
    let text = "";
    const buffer = new Uint8Array(4096);
    while (!answerComplete(text)) {
      const read = await conn.read(buffer);
      if (read === null) throw new Error("closed");
      text += new TextDecoder().decode(buffer.subarray(0, read));
    }
    return text;
  };
  assert.match(await request(), /^HTTP\/1\.1 200/);
  return { conn, request };
}

Deno.test("every connection the webhook server accepts has TCP_NODELAY, also after a certificate swap", async () => {
  const firstCa = await createCertificateAuthority();
  const secondCa = await createCertificateAuthority();
  const problems: string[] = [];
  const server = serveTls(await leafOf(firstCa), {
    hostname: "127.0.0.1",
    port: 0,
    handler: () => new Response("x".repeat(1000)),
    onListenerProblem: (preparation) => problems.push(preparation.problem ?? "?"),
  });
  const conns: Deno.TlsConn[] = [];
  try {
    const { port } = await server.listening;
    conns.push((await openConnection(port, firstCa.certPem)).conn);
    conns.push((await openConnection(port, firstCa.certPem)).conn);
    assert.deepEqual(acceptedNoDelay(port), [1, 1]);

    server.reload(await leafOf(secondCa));
    conns.push((await openConnection(port, secondCa.certPem)).conn);
    assert.deepEqual(acceptedNoDelay(port), [1, 1, 1]);
    assert.deepEqual(problems, []);
  } finally {
    for (const conn of conns) conn.close();
    await server.shutdown();
  }
});

Deno.test("after a swap every new connection reaches the new certificate, and the old keep-alive connections are moved over", async () => {
  const firstCa = await createCertificateAuthority();
  const secondCa = await createCertificateAuthority();
  const server = serveTls(await leafOf(firstCa), {
    hostname: "127.0.0.1",
    port: 0,
    handler: () => new Response("x".repeat(1000)),
  });
  try {
    const { port } = await server.listening;
    const old = await openConnection(port, firstCa.certPem);
    server.reload(await leafOf(secondCa));
    // Both servers listen on the port for a second; by hash alone, each connection would have even odds of
    // reaching the old one, whose certificate the client refuses, or of being reset when it closes.
    for (let i = 0; i < 16; i++) (await openConnection(port, secondCa.certPem)).conn.close();
    // The old server's next answer tells its client to reconnect (Go's net/http closes the connection on it), and
    // at the end of the handover the server closes it anyway.
    const next = await old.request();
    assert.match(next, /^HTTP\/1\.1 200/);
    assert.match(next, /\r\nconnection: close\r\n/i);
    const end = await old.conn.read(new Uint8Array(16)).catch((error) => error);
    assert.ok(end === null || end instanceof Deno.errors.UnexpectedEof, `the old connection got ${end}`);
    old.conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("a swap asked for during a handover waits for it, then the newest certificate serves", async () => {
  const cas = [
    await createCertificateAuthority(),
    await createCertificateAuthority(),
    await createCertificateAuthority(),
  ];
  const server = serveTls(await leafOf(cas[0]), { hostname: "127.0.0.1", port: 0, handler: () => new Response("ok") });
  try {
    const { port } = await server.listening;
    server.reload(await leafOf(cas[1]));
    server.reload(await leafOf(cas[2]));
    // Still the second certificate, and no third listener: the socket program picks the port's second
    // socket, so the third waits for the first server to be gone from the port.
    (await openConnection(port, cas[1].certPem)).conn.close();
    assert.equal(listenerCount(port), 2);
    let third: OpenConnection | undefined;
    const deadline = Date.now() + 10_000;
    while (!third && Date.now() < deadline) {
      third = await openConnection(port, cas[2].certPem).catch(() => undefined);
      if (!third) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(third, "the third certificate never served");
    third.conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("a port something else listens on is refused, even though the server shares its port across swaps", async () => {
  const ca = await createCertificateAuthority();
  // reusePort on both sides: without the server's own check the kernel would let both listen.
  const other = Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true } as Deno.TcpListenOptions);
  try {
    const server = serveTls(await leafOf(ca), {
      hostname: "127.0.0.1",
      port: other.addr.port,
      handler: () => new Response("ok"),
    });
    await assert.rejects(server.listening, (error: Error) => {
      assert.ok(error instanceof ListenError);
      assert.match(error.message, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${other.addr.port}: .*in use`, "i"));
      return true;
    });
    await server.shutdown();
  } finally {
    other.close();
  }
});
