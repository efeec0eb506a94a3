/**
 * The pod `coredog debug` creates, and the command it prints, built from a
 * crash record without any server. The script the debugger container runs
 * is run here for real, against this machine's /proc.
 */

import assert from "node:assert/strict";
import {
  APP_PID_PATH,
  appCommand,
  buildDebugPod,
  CORE_PATH,
  debuggerScript,
  gdbShellCommand,
  kubectlExecCommand,
  pinnedImage,
} from "../src/core/debug_pod.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { hasTools } from "./support/process.ts";
import { makeRealCore, realCoreSkipReason } from "./support/real_core.ts";

const DIGEST = "sha256:" + "4f".repeat(32);
const URL_ = "https://cores.s3.example.com/corefiles/team-a/web/app/x.core.zst?X-Amz-Signature=abc&X-Amz-Expires=900";

interface Container {
  name: string;
  image: string;
  command: string[];
  volumeMounts?: { name: string; mountPath: string }[];
  securityContext?: { capabilities?: { add?: string[] } };
}

function pod(options: { ptrace?: boolean; imageID?: string } = {}) {
  const record = sampleRecord({ container: { imageID: options.imageID ?? `registry.example.com/web@${DIGEST}` } });
  const pinned = pinnedImage(record.container);
  assert.ok(pinned.ok);
  const built = buildDebugPod(record, {
    coreUrl: URL_,
    coredogImage: "ghcr.io/coredog/coredog:0.1.0",
    debuggerImage: "ghcr.io/coredog/coredog-debugger:0.1.0",
    appImage: pinned.image,
    lifetimeSeconds: 14400,
    ptrace: options.ptrace ?? true,
    imagePullSecrets: ["regcred"],
  }) as {
    metadata: { name: string; namespace: string; labels: Record<string, string> };
    spec: {
      shareProcessNamespace: boolean;
      restartPolicy: string;
      activeDeadlineSeconds: number;
      volumes: { name: string; emptyDir?: object }[];
      initContainers: Container[];
      containers: Container[];
      imagePullSecrets: { name: string }[];
      affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: unknown[] } };
    };
  };
  return { record, built };
}

Deno.test("the debug pod: app image by digest, the init container with the link, one shared volume, a ptrace-capable debugger", () => {
  const { record, built } = pod();
  assert.equal(built.metadata.name, "coredog-debug-0123456789ab");
  assert.equal(built.metadata.namespace, "team-a");
  assert.equal(built.metadata.labels["coredog.io/core-id"], record.id);
  const spec = built.spec;
  assert.equal(spec.shareProcessNamespace, true);
  assert.equal(spec.restartPolicy, "Never");
  assert.equal(spec.activeDeadlineSeconds, 14400);
  assert.deepEqual(spec.volumes, [{ name: "cores", emptyDir: {} }]);

  const [init] = spec.initContainers;
  assert.equal(init.image, "ghcr.io/coredog/coredog:0.1.0");
  assert.deepEqual(init.command, [
    "/usr/local/bin/coredog",
    "fetch",
    URL_,
    "--out",
    CORE_PATH,
    "--sha256",
    record.corefile.sha256,
    "--compression",
    "zstd",
    "--raw-bytes",
    String(record.corefile.rawBytes),
  ]);
  assert.deepEqual(init.volumeMounts, [{ name: "cores", mountPath: "/cores" }]);

  const app = spec.containers.find((c) => c.name === "app")!;
  assert.equal(app.image, `registry.example.com/web@${DIGEST}`);
  assert.deepEqual(app.command, ["sleep", "14400"]);
  assert.equal(app.volumeMounts, undefined, "the app's own file system is left as it was");

  const debuggerContainer = spec.containers.find((c) => c.name === "debugger")!;
  assert.equal(debuggerContainer.image, "ghcr.io/coredog/coredog-debugger:0.1.0");
  assert.deepEqual(debuggerContainer.volumeMounts, [{ name: "cores", mountPath: "/cores" }]);
  assert.deepEqual(debuggerContainer.securityContext?.capabilities?.add, ["SYS_PTRACE"]);
  assert.deepEqual(spec.imagePullSecrets, [{ name: "regcred" }]);
  assert.equal(spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.length, 1);

  const withoutPtrace = pod({ ptrace: false }).built.spec.containers.find((c) => c.name === "debugger")!;
  assert.equal(withoutPtrace.securityContext, undefined);
});

Deno.test("the image must be a registry digest: none, or a local image id, is refused with the reason", () => {
  assert.deepEqual(pinnedImage({ imageID: `docker-pullable://nginx@${DIGEST}` }), {
    ok: true,
    image: `nginx@${DIGEST}`,
  });
  const none = pinnedImage({ image: "nginx:1.27" });
  assert.ok(!none.ok);
  assert.match(none.reason, /no image digest \(container\.imageID\)/);
  const local = pinnedImage({ image: "nginx:1.27", imageID: DIGEST });
  assert.ok(!local.ok);
  assert.match(local.reason, /not a registry digest/);
});

Deno.test("a pod spec that names its image by digest pins it when the status has no imageID", () => {
  // A container that has not reported a status yet (or no kubelet at all): the spec's digest is what runs.
  assert.deepEqual(pinnedImage({ name: "app", image: `registry.example/app@${DIGEST}` }), {
    ok: true,
    image: `registry.example/app@${DIGEST}`,
  });
  assert.deepEqual(pinnedImage({ image: `registry.example/app@${DIGEST}`, imageID: DIGEST }), {
    ok: true,
    image: `registry.example/app@${DIGEST}`,
  });
  // The runtime's imageID wins over the spec.
  const other = `sha256:${"cd".repeat(32)}`;
  assert.deepEqual(pinnedImage({ image: `app@${DIGEST}`, imageID: `registry.example/app@${other}` }), {
    ok: true,
    image: `registry.example/app@${other}`,
  });
  const read = pinnedImage({ name: "app", image: "registry.example/app:1.0" }, { podRead: true });
  assert.ok(!read.ok);
  assert.match(read.reason, /the pod's status had no imageID for container app/);
  assert.match(read.reason, /its image "registry.example\/app:1.0" is not pinned by digest/);
  const unread = pinnedImage({ name: "app", image: "registry.example/app:1.0" });
  assert.ok(!unread.ok);
  assert.match(unread.reason, /could not read the pod from the Kubernetes API/);
});

Deno.test("the printed command opens gdb with the app's root as sysroot on the fetched core", () => {
  const { record } = pod();
  const command = kubectlExecCommand(record, { context: "prod" });
  assert.ok(
    command.startsWith("kubectl --context prod exec -it -n team-a coredog-debug-0123456789ab -c debugger -- sh -c '"),
  );
  const inner = gdbShellCommand(record);
  assert.ok(command.endsWith(`'${inner}'`), command);
  assert.match(
    inner,
    /exec gdb -q -iex "set sysroot \/proc\/\$p\/root" "\/proc\/\$p\/root\/app\/server" \/cores\/core$/,
  );
  const noExe = gdbShellCommand(sampleRecord({ process: { executablePath: undefined } }));
  assert.match(noExe, /-c \/cores\/core$/);
});

Deno.test({
  name: "the debugger's script finds the app's sleep among this machine's processes and writes its pid",
  async fn() {
    const dir = await Deno.makeTempDir();
    const lifetime = 86_000 + Math.floor(Math.random() * 300);
    const app = new Deno.Command("sleep", { args: appCommand(lifetime).slice(1) }).spawn();
    const script = debuggerScript(lifetime).replaceAll(APP_PID_PATH, `${dir}/app.pid`)
      // Stop where the container would wait for kubectl exec.
      .replace(/exec sleep \d+/, "exit 0");
    try {
      const found = await new Deno.Command("sh", {
        args: ["-c", script],
        stdout: "null",
        signal: AbortSignal.timeout(10_000),
      }).output();
      assert.equal(found.code, 0);
      assert.equal((await Deno.readTextFile(`${dir}/app.pid`)).trim(), String(app.pid));
    } finally {
      app.kill();
      await app.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the printed gdb command, run as the debugger container would, opens a real core with the app's root as sysroot",
  ignore: realCoreSkipReason !== undefined || !hasTools("gdb"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-gdb-" });
    // The "app" process: its /proc/<pid>/root is this machine's root, where the bash that crashed lives.
    const app = new Deno.Command("sleep", { args: ["600"] }).spawn();
    try {
      const core = await makeRealCore(`${dir}/crash`);
      await Deno.rename(core, `${dir}/core`);
      await Deno.writeTextFile(`${dir}/app.pid`, `${app.pid}\n`);
      const record = sampleRecord({ process: { executablePath: "/usr/bin/bash" } });
      const command = gdbShellCommand(record).replaceAll(APP_PID_PATH, `${dir}/app.pid`).replaceAll(
        CORE_PATH,
        `${dir}/core`,
      );
      const gdb = new Deno.Command("sh", {
        args: ["-c", command],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).spawn();
      const writer = gdb.stdin.getWriter();
      await writer.write(new TextEncoder().encode("info sharedlibrary\nbt\nquit\n"));
      await writer.close();
      const { stdout, stderr } = await gdb.output();
      const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      assert.match(text, /Program terminated with signal SIGSEGV/, text);
      // The libraries come from /proc/<pid>/root, the sysroot.
      assert.match(text, new RegExp(`/proc/${app.pid}/root/\\S*libc\\.so`), text);
      assert.match(text, /#0 /, text);
    } finally {
      app.kill();
      await app.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
