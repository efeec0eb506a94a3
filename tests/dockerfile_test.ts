/**
 * The Dockerfile, which cannot be built here (no container engine, and
 * `deno compile` downloads its runtime). What can be checked by running
 * something is: the webhook serves with exactly the permissions it is
 * compiled with; the watcher, really started, spawns the workers the
 * compile line `--include`s (and no executable whose module graph, from
 * `deno info`, holds no spawner includes one); every embedded module is in
 * the build context; the chart as helm renders it runs the installed
 * executables. Static, because only a docker build would show them: the
 * compile lines' permissions (compared with deno.json's tasks, which the
 * tests run the roles with), the pinned base image and frozen lockfile, the
 * runtime stage's base image, files and user, and `.dockerignore`.
 */

import assert from "node:assert/strict";
import { COREDOG_BINARY } from "../src/core/debug_pod.ts";
import { createCertificateAuthority, issueServingCertificate } from "../src/tls/certificates.ts";
import { fixtureText } from "./support/admission.ts";
import { startTestWatcher, waitFor } from "./support/harness.ts";
import { findHelm, objectOf, renderChart } from "./support/helm.ts";
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

/** The permission and unstable-feature flags of a command line, in order. */
function permissions(command: string): string[] {
  return command.split(/\s+/).filter((word) => /^'?--(allow|unstable)-/.test(word)).map((word) =>
    word.replaceAll("'", "")
  );
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

/** The repository path of a `file:` URL under the repository. */
function repoPath(url: string | URL): string {
  const path = new URL(url).pathname;
  assert.ok(path.startsWith(ROOT.pathname), `${path} is outside the repository`);
  return path.slice(ROOT.pathname.length);
}

/** The local modules of `entrypoint`'s module graph, as `deno info` (what `deno compile` embeds) resolves it. */
async function localModules(entrypoint: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entrypoint],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  assert.ok(output.success, `deno info ${entrypoint}`);
  const graph: { modules: { specifier: string }[] } = JSON.parse(new TextDecoder().decode(output.stdout));
  return graph.modules.map((m) => m.specifier).filter((s) => s.startsWith("file:")).map(repoPath).sort();
}

/** The words after each `--include` of a compile command. */
function includes(command: string): string[] {
  return [...command.matchAll(/--include (\S+)/g)].map((m) => m[1]).sort();
}

/**
 * The workers a really started watcher spawns, each with the module that
 * spawned it (from the constructor's stack): `new Worker` is replaced by a
 * recording subclass while the watcher starts and stops.
 */
async function workersSpawnedByTheWatcher(): Promise<{ worker: string; spawner: string }[]> {
  const spawned: { worker: string; spawner: string }[] = [];
  const RealWorker = globalThis.Worker;
  globalThis.Worker = class RecordingWorker extends RealWorker {
    constructor(specifier: string | URL, options?: WorkerOptions) {
      super(specifier, options);
      const frames = [...new Error().stack!.matchAll(/(file:\/\/[^\s()]+?\.ts):\d+:\d+/g)].map((m) => m[1]);
      const spawner = frames.find((frame) => frame !== import.meta.url)!;
      spawned.push({ worker: repoPath(specifier), spawner: repoPath(spawner) });
    }
  };
  const dir = await Deno.makeTempDir({ prefix: "coredog-workers-" });
  try {
    await Deno.mkdir(`${dir}/dumps`);
    const test = await startTestWatcher({ corefileDir: `${dir}/dumps`, localDir: `${dir}/bucket` });
    await waitFor("the first scan", () => test.watcher.ready());
    await test.stop();
  } finally {
    globalThis.Worker = RealWorker;
    await Deno.remove(dir, { recursive: true });
  }
  return spawned;
}

Deno.test("each executable embeds with --include exactly the workers its code spawns", async () => {
  // deno compile leaves worker modules out unless named; the executable would then fail at the first watch.
  const spawned = await workersSpawnedByTheWatcher();
  assert.deepEqual(spawned.map((s) => s.worker), ["src/watcher/fs_event_worker.ts"], "the watcher's file events");
  // Static, and the one source scan left: every place that can start a worker is one the running watcher went
  // through, so that a worker started only on another path (or by another role) is not missed.
  const spawners = [...new Set(spawned.map((s) => s.spawner))];
  assert.deepEqual(await sourcesThatStartWorkers(), spawners, "every new Worker( in src/ was exercised above");
  for (const entrypoint of ["src/watcher/main.ts", "src/webhook/main.ts", "src/cli/main.ts"]) {
    const compile = compileCommands().find((c) => c.endsWith(` ${entrypoint}`))!;
    const graph = await localModules(entrypoint);
    const needed = spawned.filter((s) => graph.includes(s.spawner)).map((s) => s.worker).sort();
    assert.deepEqual(includes(compile), needed, `${entrypoint}: --include in the Dockerfile`);
  }
});

/** Files under src/ whose text constructs a Worker. */
async function sourcesThatStartWorkers(): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) await walk(`${path}/`);
      else if (entry.name.endsWith(".ts") && (await Deno.readTextFile(new URL(path, ROOT))).includes("new Worker(")) {
        found.push(path);
      }
    }
  }
  await walk("src/");
  return found.sort();
}

Deno.test("the build context holds every module the executables embed", async () => {
  // The Dockerfile copies deno.json, deno.lock and src/ (and .dockerignore keeps no more): a module outside src/
  // would be missing from the build, as the image's only proof would be a docker build.
  const ignore = await Deno.readTextFile(new URL(".dockerignore", ROOT));
  assert.deepEqual(ignore.split("\n").filter((l) => l && !l.startsWith("#")), [
    "*",
    "!deno.json",
    "!deno.lock",
    "!src/",
  ]);
  assert.match(dockerfile, /^COPY deno\.json deno\.lock \.\/\nCOPY src\/ src\/$/m);
  for (const compile of compileCommands()) {
    const entrypoint = compile.split(" ").at(-1)!;
    const modules = [...await localModules(entrypoint), ...includes(compile)];
    assert.deepEqual(modules.filter((m) => !m.startsWith("src/")), [], `${entrypoint} embeds modules outside src/`);
  }
});

Deno.test("the runtime stage is distroless, holds the three executables where the chart and the debug pod run them, and is non-root", async () => {
  // Static: only a docker build could show the image's base, files and user; none runs here.
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;
  assert.match(runtime, /^gcr\.io\/distroless\/cc-debian12:nonroot\n/);
  const copy = runtime.match(/^COPY --from=build ((?:\/out\/\S+ )+)\/usr\/local\/bin\/$/m);
  assert.ok(copy, runtime);
  const installed = copy[1].trim().split(" ").map((out) => out.replace("/out/", "/usr/local/bin/"));
  const outputs = compileCommands().map((c) => c.match(/--output (\S+)/)![1].replace("/out/", "/usr/local/bin/"));
  assert.deepEqual(installed.sort(), outputs.sort(), "every compiled executable is installed");
  assert.match(runtime, /^USER 65532:65532$/m);
  assert.ok(installed.includes(COREDOG_BINARY), `the debug pod's init container runs ${COREDOG_BINARY}`);
  // The chart as helm renders it runs what the image installs.
  const helmFound = await findHelm();
  if (!helmFound.path) {
    console.warn(`the chart's commands are not checked: ${helmFound.reason}`);
    return;
  }
  const objects = await renderChart();
  for (
    const [kind, name, executable] of [
      ["DaemonSet", "coredog-watcher", "/usr/local/bin/coredog-watcher"],
      ["Deployment", "coredog-webhook", "/usr/local/bin/coredog-webhook"],
    ]
  ) {
    const containers = objectOf(objects, kind, name).spec.template.spec.containers;
    const commands = containers.map((c: { command?: string[] }) => c.command?.[0]);
    assert.ok(commands.includes(executable), `${kind} ${name} runs ${commands.join(", ")}`);
    assert.ok(installed.includes(executable), executable);
  }
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
