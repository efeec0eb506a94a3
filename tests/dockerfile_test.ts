/**
 * The Dockerfile, which cannot be built here (no container engine, and
 * `deno compile` downloads its runtime): each role is compiled with exactly
 * the permissions of its `deno task`, from the pinned Deno image, with the
 * frozen lockfile, into the paths the chart runs; the runtime stage is
 * distroless and non-root. The webhook then runs here with those very
 * permissions.
 */

import assert from "node:assert/strict";
import { createCertificateAuthority, issueServingCertificate } from "../src/tls/certificates.ts";
import { fixtureText } from "./support/admission.ts";
import { loadTemplates } from "./support/chart.ts";
import { runDeno } from "./support/process.ts";
import { freePort } from "./support/s3_server.ts";
import { taskRunArgs } from "./support/tasks.ts";

const ROOT = new URL("../", import.meta.url);
const dockerfile = await Deno.readTextFile(new URL("Dockerfile", ROOT));
const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const pinned = (await Deno.readTextFile(new URL(".deno-version", ROOT))).trim();

/** The `deno compile` commands, joined across line continuations. */
function compileCommands(): string[] {
  return dockerfile.replace(/\\\n\s*/g, " ").split("\n").filter((l) => l.startsWith("RUN deno compile "));
}

/** The permission flags of a command line, in order. */
function permissions(command: string): string[] {
  return command.split(/\s+/).filter((word) => /^'?--allow-/.test(word)).map((word) => word.replaceAll("'", ""));
}

Deno.test("each role is compiled from the pinned Deno image with the frozen lockfile and exactly its task's permissions", () => {
  assert.match(dockerfile, new RegExp(`^ARG DENO_VERSION=${pinned.replaceAll(".", "\\.")}$`, "m"));
  assert.match(dockerfile, /^FROM denoland\/deno:\$\{DENO_VERSION\} AS build$/m);
  assert.match(dockerfile, /^RUN deno install --frozen /m);
  const compiles = compileCommands();
  assert.equal(compiles.length, 3);
  // [task, source directory, executable]
  const executables = [
    ["watcher", "watcher", "/out/coredog-watcher"],
    ["webhook", "webhook", "/out/coredog-webhook"],
    ["cli", "cli", "/out/coredog"],
  ];
  for (const [role, dir, output] of executables) {
    const compile = compiles.find((c) => c.includes(`src/${dir}/main.ts`))!;
    assert.ok(compile, role);
    assert.match(compile, /--frozen /);
    assert.match(compile, new RegExp(`--output ${output} src/${dir}/main\\.ts$`));
    const task: string = denoJson.tasks[role].command;
    assert.ok(task.endsWith(`src/${dir}/main.ts`), task);
    assert.deepEqual(permissions(compile), permissions(task), `${role}: Dockerfile and deno task ${role} agree`);
  }
  assert.ok(!compiles.some((c) => /--allow-all|-A /.test(c)));
});

/** Modules started with `new Worker(new URL("./x.ts", import.meta.url))` anywhere under `src/`, as repository paths. */
async function workerModules(): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) {
        await walk(`${path}/`);
      } else if (entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(new URL(path, ROOT));
        for (const match of text.matchAll(/new Worker\(\s*new URL\("\.\/([^"]+)", import\.meta\.url\)/g)) {
          found.push(`${dir}${match[1]}`);
        }
      }
    }
  }
  await walk("src/");
  return found.sort();
}

Deno.test("every worker module is embedded with --include in the executable that starts it", async () => {
  // deno compile leaves worker modules out unless named; the executable would then fail at the first watch.
  const workers = await workerModules();
  assert.deepEqual(workers, ["src/watcher/fs_event_worker.ts"]);
  const watcher = compileCommands().find((c) => c.includes("src/watcher/main.ts"))!;
  for (const worker of workers) assert.ok(watcher.includes(`--include ${worker} `), `${worker} in: ${watcher}`);
  const webhook = compileCommands().find((c) => c.includes("src/webhook/main.ts"))!;
  assert.ok(!webhook.includes("--include"), "the webhook starts no worker");
});

Deno.test("the runtime stage is distroless, holds the three executables where the chart and the debug pod run them, and is non-root", async () => {
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;
  assert.match(runtime, /^gcr\.io\/distroless\/cc-debian12:nonroot\n/);
  assert.match(
    runtime,
    /^COPY --from=build \/out\/coredog-watcher \/out\/coredog-webhook \/out\/coredog \/usr\/local\/bin\/$/m,
  );
  assert.match(runtime, /^USER 65532:65532$/m);
  const templates = await loadTemplates();
  assert.match(templates.get("watcher-daemonset.yaml")!, /command: \["\/usr\/local\/bin\/coredog-watcher"\]/);
  assert.match(templates.get("webhook-deployment.yaml")!, /command: \["\/usr\/local\/bin\/coredog-webhook"\]/);
  const ignore = await Deno.readTextFile(new URL(".dockerignore", ROOT));
  assert.deepEqual(ignore.split("\n").filter((l) => l && !l.startsWith("#")), [
    "*",
    "!deno.json",
    "!deno.lock",
    "!src/",
  ]);
});

Deno.test("the webhook serves with exactly the permissions it is compiled with", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-perms-" });
  const ca = await createCertificateAuthority();
  const leaf = await issueServingCertificate(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  await Deno.writeTextFile(`${dir}/tls.crt`, leaf.certPem);
  await Deno.writeTextFile(`${dir}/tls.key`, leaf.keyPem);
  await Deno.writeTextFile(`${dir}/coredog.yaml`, "StorageConfig:\n  S3Bucket: cores\n");
  const port = freePort();
  const health = freePort();
  const webhook = runDeno([...taskRunArgs("webhook"), "--config", `${dir}/coredog.yaml`], {
    env: {
      COREDOG_WEBHOOK_TLS_CERT: `${dir}/tls.crt`,
      COREDOG_WEBHOOK_TLS_KEY: `${dir}/tls.key`,
      COREDOG_WEBHOOK_PORT: String(port),
      COREDOG_WEBHOOK_HEALTH_PORT: String(health),
      COREDOG_WEBHOOK_HOST: "127.0.0.1",
    },
  });
  const client = Deno.createHttpClient({ caCerts: [ca.certPem] });
  try {
    await webhook.waitForLine(/msg="webhook listening"/);
    const response = await fetch(`https://127.0.0.1:${port}/mutate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: await fixtureText("deployment_pod.json"),
      client,
    });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).response.patchType, "JSONPatch");
    webhook.kill("SIGTERM");
    assert.equal((await webhook.status).code, 0);
    assert.ok(!webhook.stderr.some((l) => /NotCapable|Requires .* access/.test(l)), webhook.stderr.join("\n"));
  } finally {
    client.close();
    webhook.kill("SIGKILL");
    await webhook.status;
    await Deno.remove(dir, { recursive: true });
  }
});
