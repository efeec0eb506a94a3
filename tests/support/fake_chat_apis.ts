/**
 * Local HTTP servers that answer like the real chat APIs: WeCom and
 * DingTalk (HTTP 200 with `errcode`), Feishu (`code`), Slack (plain-text
 * `ok` or error codes, 429 with `Retry-After`) and a generic receiver.
 * Each checks what the real API checks (key, signature, size, rate) with
 * the documented algorithm, written independently of CoreDog's code
 * (WebCrypto here, node:crypto there).
 */

import type { Clock } from "../../src/notify/clock.ts";

/** One request the server got. */
export interface Received {
  /** Clock time on arrival, ms. */
  at: number;
  url: URL;
  headers: Headers;
  /** The body as sent. */
  raw: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** How the server answers one request; `accepted` marks a success. */
export interface Reply {
  response: Response;
  accepted: boolean;
}

/** An answer chosen by a test for one request (or, as override, for all). */
export type Answer = (request: Received) => Reply | Promise<Reply>;

/** A running fake API. */
export interface FakeApi {
  /** The webhook URL to configure. */
  url: string;
  received: Received[];
  accepted: Received[];
  /** Answers the next requests with these, one each, before the normal behaviour resumes. */
  script(...answers: Answer[]): void;
  /** Answers every request with `answer` until called with undefined (an outage). */
  override(answer: Answer | undefined): void;
  /** Stops listening (the API is unreachable). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): void;
}

interface FakeApiOptions {
  /** Path and query of the webhook URL, e.g. `/cgi-bin/webhook/send?key=test-key`. */
  path: string;
  clock: Clock;
  behave: Answer;
}

function startFakeApi(options: FakeApiOptions): FakeApi {
  const received: Received[] = [];
  const accepted: Received[] = [];
  const scripted: Answer[] = [];
  let override: Answer | undefined;
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let port = 0;

  async function handle(request: Request): Promise<Response> {
    const raw = await request.text();
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    const entry: Received = { at: options.clock.now(), url: new URL(request.url), headers: request.headers, raw, json };
    received.push(entry);
    const answer = scripted.shift() ?? override ?? options.behave;
    const reply = await answer(entry);
    if (reply.accepted) accepted.push(entry);
    return reply.response;
  }

  function listen(): void {
    server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handle);
    port = server.addr.port;
  }
  listen();
  return {
    url: `http://127.0.0.1:${port}${options.path}`,
    received,
    accepted,
    script: (...answers) => scripted.push(...answers),
    override: (answer) => override = answer,
    async stop() {
      await server?.shutdown();
      server = undefined;
    },
    restart: listen,
  };
}

/** A JSON reply. */
export function jsonReply(
  body: unknown,
  options: { status?: number; accepted?: boolean; headers?: HeadersInit } = {},
): Reply {
  return {
    response: new Response(JSON.stringify(body), {
      status: options.status ?? 200,
      headers: { "content-type": "application/json", ...options.headers },
    }),
    accepted: options.accepted ?? false,
  };
}

/** A plain-text reply. */
export function textReply(
  body: string,
  options: { status?: number; accepted?: boolean; headers?: HeadersInit } = {},
): Reply {
  return {
    response: new Response(body, {
      status: options.status ?? 200,
      headers: { "content-type": "text/plain", ...options.headers },
    }),
    accepted: options.accepted ?? false,
  };
}

const encoder = new TextEncoder();

function bytes(text: string): number {
  return encoder.encode(text).length;
}

async function hmacBase64(key: string, message: string): Promise<string> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    encoder.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
    ],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(message)));
  return btoa(String.fromCharCode(...mac));
}

/** Hex HMAC-SHA256, as the generic webhook's receiver would compute it. */
export async function hmacHex(key: string, message: string): Promise<string> {
  const base64 = await hmacBase64(key, message);
  return [...atob(base64)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

/** DingTalk's documented signature: base64(HMAC-SHA256(secret, timestamp + "\n" + secret)). */
export function dingtalkExpectedSign(secret: string, timestamp: string): Promise<string> {
  return hmacBase64(secret, `${timestamp}\n${secret}`);
}

/** Feishu's documented signature: base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")). */
export function feishuExpectedSign(secret: string, timestamp: string): Promise<string> {
  return hmacBase64(`${timestamp}\n${secret}`, "");
}

function countSince(list: Received[], since: number): number {
  return list.filter((r) => r.at > since).length;
}

/** A WeCom group robot: key `test-key`, content limits in bytes, 20 a minute. */
export function fakeWecom(clock: Clock): FakeApi {
  const api: FakeApi = startFakeApi({
    path: "/cgi-bin/webhook/send?key=test-key",
    clock,
    behave(request) {
      if (request.url.searchParams.get("key") !== "test-key") {
        return jsonReply({
          errcode: 93000,
          errmsg: "invalid webhook url, hint: [1736150400_11_abc], from ip: 10.0.0.1",
        });
      }
      const type = request.json?.msgtype;
      const content = request.json?.[type]?.content;
      if ((type !== "text" && type !== "markdown") || typeof content !== "string") {
        return jsonReply({ errcode: 40008, errmsg: "invalid message type" });
      }
      if (bytes(content) > (type === "text" ? 2048 : 4096)) {
        return jsonReply({ errcode: 40058, errmsg: "content exceed max length" });
      }
      if (countSince(api.accepted, request.at - 60_000) >= 20) {
        return jsonReply({ errcode: 45009, errmsg: "api freq out of limit" });
      }
      return jsonReply({ errcode: 0, errmsg: "ok" }, { accepted: true });
    },
  });
  return api;
}

/** A Slack incoming webhook: 3000-character sections, about 1 a second. */
export function fakeSlack(clock: Clock): FakeApi {
  const api: FakeApi = startFakeApi({
    path: "/services/T000/B000/XXXXXXXX",
    clock,
    behave(request) {
      const body = request.json;
      if (!body || typeof body.text !== "string" || body.text === "") {
        return textReply("invalid_payload", { status: 400 });
      }
      for (const block of body.blocks ?? []) {
        if (block.type === "section" && block.text.text.length > 3000) {
          return textReply("invalid_blocks", { status: 400 });
        }
      }
      if (countSince(api.accepted, request.at - 1000) >= 1) {
        return textReply("rate_limited", { status: 429, headers: { "retry-after": "1" } });
      }
      return textReply("ok", { accepted: true });
    },
  });
  return api;
}

/** A DingTalk custom robot: token `test-token`, optional signing secret, 20 a minute. */
export function fakeDingtalk(clock: Clock, options: { secret?: string } = {}): FakeApi {
  const api: FakeApi = startFakeApi({
    path: "/robot/send?access_token=test-token",
    clock,
    async behave(request) {
      if (request.url.searchParams.get("access_token") !== "test-token") {
        return jsonReply({ errcode: 300001, errmsg: "token is not exist" });
      }
      if (options.secret) {
        const timestamp = request.url.searchParams.get("timestamp") ?? "";
        const sign = request.url.searchParams.get("sign") ?? "";
        const fresh = Math.abs(Number(timestamp) - clock.now()) < 3_600_000;
        if (!fresh || sign !== await dingtalkExpectedSign(options.secret, timestamp)) {
          return jsonReply({
            errcode: 310000,
            errmsg: "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
          });
        }
      }
      if (request.json?.msgtype !== "text" || typeof request.json?.text?.content !== "string") {
        return jsonReply({ errcode: 40035, errmsg: "缺少参数 json" });
      }
      if (countSince(api.accepted, request.at - 60_000) >= 20) {
        return jsonReply({ errcode: 130101, errmsg: "send too fast, exceed 20 times per minute" });
      }
      return jsonReply({ errcode: 0, errmsg: "ok" }, { accepted: true });
    },
  });
  return api;
}

/** A Feishu custom bot: optional signing secret, 20 KB bodies, 100 a minute and 5 a second. */
export function fakeFeishu(clock: Clock, options: { secret?: string } = {}): FakeApi {
  const api: FakeApi = startFakeApi({
    path: "/open-apis/bot/v2/hook/00000000-1111-2222-3333-444444444444",
    clock,
    async behave(request) {
      if (bytes(request.raw) > 20 * 1024 || request.json?.msg_type !== "text") {
        return jsonReply({ code: 9499, msg: "Bad Request", data: {} }, { status: 400 });
      }
      if (options.secret) {
        const timestamp = String(request.json.timestamp ?? "");
        const fresh = Math.abs(Number(timestamp) * 1000 - clock.now()) < 3_600_000;
        if (!fresh || request.json.sign !== await feishuExpectedSign(options.secret, timestamp)) {
          return jsonReply({
            code: 19021,
            msg: "sign match fail or timestamp is not within one hour from current time",
          });
        }
      }
      if (countSince(api.accepted, request.at - 60_000) >= 100 || countSince(api.accepted, request.at - 1000) >= 5) {
        return jsonReply({ code: 11232, msg: "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]" });
      }
      return jsonReply({ code: 0, msg: "success", data: {} }, { accepted: true });
    },
  });
  return api;
}

/** A user's own receiver: checks `X-CoreDog-Signature` when given a secret and answers 204. */
export function fakeReceiver(clock: Clock, options: { secret?: string } = {}): FakeApi {
  return startFakeApi({
    path: "/hooks/coredog",
    clock,
    async behave(request) {
      if (options.secret) {
        const expected = `sha256=${await hmacHex(options.secret, request.raw)}`;
        if (request.headers.get("x-coredog-signature") !== expected) return textReply("bad signature", { status: 401 });
      }
      return { response: new Response(null, { status: 204 }), accepted: true };
    },
  });
}
