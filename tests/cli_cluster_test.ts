/**
 * `coredog --from-cluster` and `coredog debug` through a kubeconfig, run as
 * processes with the task's permissions: the configuration and the S3 keys
 * come from ConfigMap `coredog` and Secret `coredog-s3`; the watcher
 * recorded the crashed container's image digest from the API; `debug`
 * creates the pod, prints the command, and `--delete` removes it.
 *
 * The API server is the project's HTTPS stand-in (tests/support/fake_kube_api.ts):
 * the same test on a real kube-apiserver belongs in tests/cluster/.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeConnection } from "../src/kube/kube_config.ts";
import { fillCliBucket } from "./support/cli_bucket.ts";
import { cliProcess } from "./support/cli_run.ts";
import { type FakeKubeApiOptions, startFakeKubeApi } from "./support/fake_kube_api.ts";
import { realCoreSkipReason } from "./support/real_core.ts";
import { S3_ACCESS_KEY, S3_SECRET_KEY } from "./support/s3_server.ts";

const DIGEST = `sha256:${"5e".repeat(32)}`;
const IMAGE_ID = `registry.example.com/crashy@${DIGEST}`;

function crashedPod() {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "crashy-5f7b9-qwert", namespace: "team-a", uid: crypto.randomUUID(), labels: { app: "crashy" } },
    spec: { nodeName: "node-1", containers: [{ name: "app", image: "registry.example.com/crashy:1.0" }] },
    status: {
      podIP: "10.244.1.9",
      containerStatuses: [{
        name: "app",
        image: "registry.example.com/crashy:1.0",
        imageID: IMAGE_ID,
        restartCount: 2,
      }],
    },
  };
}

function base64(text: string): string {
  return btoa(text);
}

Deno.test({
  name: "list --from-cluster and debug / debug --delete with a kubeconfig",
  ignore: realCoreSkipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    let allowCreate = true;
    const secret = {
      metadata: { name: "coredog-s3", namespace: "coredog-system" },
      data: { "access-key-id": base64(S3_ACCESS_KEY), "secret-access-key": base64(S3_SECRET_KEY) },
    };
    const apiOptions: FakeKubeApiOptions = {
      secrets: { "coredog-system/coredog-s3": secret },
      authorize: (a) => allowCreate || !(a.resource === "pods" && a.verb === "create"),
    };
    const api = await startFakeKubeApi({ "team-a/crashy-5f7b9-qwert": crashedPod() }, apiOptions);
    const dir = await Deno.makeTempDir({ prefix: "coredog-cli-kube-" });
    const kubeconfig = join(dir, "kubeconfig");
    await Deno.writeTextFile(
      kubeconfig,
      toYaml({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "test", cluster: { server: api.url, "certificate-authority-data": base64(api.caPem) } }],
        users: [{ name: "me", user: { token: "user-token" } }],
        contexts: [{ name: "test", context: { cluster: "test", user: "me" } }],
        "current-context": "test",
      }),
    );
    const kube = new KubeClient(loadKubeConnection({ kubeconfig })!);
    const bucket = await fillCliBucket(0, { kube });
    const client = Deno.createHttpClient({ caCerts: [api.caPem] });
    const podUrl = (name: string) => `${api.url}/api/v1/namespaces/team-a/pods/${name}`;
    try {
      const env = { KUBECONFIG: "" };
      const noConfigMap = await cliProcess(["list", "--from-cluster", "--kubeconfig", kubeconfig], env);
      assert.equal(noConfigMap.code, 1);
      assert.match(noConfigMap.stderr, /ConfigMap coredog not found in namespace coredog-system/);

      // The chart's ConfigMap without the keys: they are only in the Secret.
      const configText = (await Deno.readTextFile(bucket.configPath))
        .split("\n").filter((line) => !/s3AccesskeyID|s3SecretAccessKey/.test(line)).join("\n");
      apiOptions.configMaps = {
        "coredog-system/coredog": { metadata: { name: "coredog" }, data: { coredog: configText } },
      };
      {
        const listed = await cliProcess(["list", "--from-cluster", "--kubeconfig", kubeconfig, "-o", "json"], env);
        assert.equal(listed.code, 0, listed.stderr);
        const [record] = JSON.parse(listed.stdout);
        assert.equal(record.pod.name, "crashy-5f7b9-qwert");
        assert.equal(record.container.imageID, IMAGE_ID, "the watcher recorded the image digest from the API");

        // KUBECONFIG as kubectl reads it: a list of files, merged (here the cluster and user in one, the context in
        // the other).
        const config = parseYaml(await Deno.readTextFile(kubeconfig)) as Record<string, unknown>;
        const parts = [join(dir, "clusters.yaml"), join(dir, "contexts.yaml")];
        await Deno.writeTextFile(parts[0], toYaml({ ...config, contexts: [], "current-context": undefined }));
        await Deno.writeTextFile(
          parts[1],
          toYaml({ apiVersion: "v1", kind: "Config", contexts: config.contexts, "current-context": "test" }),
        );
        const merged = await cliProcess(["list", "--from-cluster", "-o", "json"], { KUBECONFIG: parts.join(":") });
        assert.equal(merged.code, 0, merged.stderr);
        assert.equal(JSON.parse(merged.stdout)[0].id, record.id);

        const id = record.id.slice(0, 12);
        const created = await cliProcess(["debug", id, "--from-cluster", "--kubeconfig", kubeconfig], env);
        assert.equal(created.code, 0, created.stderr);
        assert.match(created.stderr, /pod team-a\/coredog-debug-[0-9a-f]{12} created/);
        assert.match(
          created.stdout,
          new RegExp(`^kubectl --kubeconfig \\S+ exec -it -n team-a coredog-debug-${id} -c debugger -- sh -c '.*gdb`),
        );
        const stored = await fetch(podUrl(`coredog-debug-${id}`), {
          headers: { authorization: "Bearer check" },
          client,
        });
        assert.equal(stored.status, 200);
        const object = await stored.json();
        assert.equal(object.metadata.labels["coredog.io/core-id"], record.id);
        assert.equal(object.spec.shareProcessNamespace, true);
        assert.equal(object.spec.containers.find((c: { name: string }) => c.name === "app").image, IMAGE_ID);
        assert.match(object.spec.initContainers[0].command[2], /^http:\/\/127\.0\.0\.1:\d+\/cores\/.*X-Amz-Signature=/);
        assert.equal(object.spec.volumes[0].name, "cores");

        const again = await cliProcess(["debug", id, "--from-cluster", "--kubeconfig", kubeconfig], env);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stderr, /already exists: using it/);

        const deleted = await cliProcess(["debug", id, "--delete", "--from-cluster", "--kubeconfig", kubeconfig], env);
        assert.equal(deleted.code, 0, deleted.stderr);
        assert.match(deleted.stderr, /pod team-a\/coredog-debug-[0-9a-f]{12} deleted/);
        const gone = await fetch(podUrl(`coredog-debug-${id}`), {
          headers: { authorization: "Bearer check" },
          client,
        });
        assert.equal(gone.status, 404);
        await gone.body?.cancel();

        // PodSecurity's refusal, in the words of the real kube-apiserver (tests/cluster/scenarios/cli.ts), is
        // not RBAC's: the hint is --no-ptrace, and without SYS_PTRACE the pod is admitted.
        apiOptions.podSecurity = { "team-a": "baseline" };
        const baseline = await cliProcess(["debug", id, "--from-cluster", "--kubeconfig", kubeconfig], env);
        assert.equal(baseline.code, 1);
        assert.match(
          baseline.stderr,
          /create pod in team-a: refused by Pod Security admission, the namespace enforces level baseline .*: pods "coredog-debug-[0-9a-f]{12}" is forbidden: violates PodSecurity "baseline:latest": non-default capabilities \(container "debugger" must not include "SYS_PTRACE" in securityContext.capabilities.add\)\. Run again with --no-ptrace/,
        );
        assert.doesNotMatch(baseline.stderr, /forbidden for your user/);
        const noPtrace = await cliProcess(
          ["debug", id, "--no-ptrace", "--from-cluster", "--kubeconfig", kubeconfig],
          env,
        );
        assert.equal(noPtrace.code, 0, noPtrace.stderr);
        assert.match(noPtrace.stderr, /created/);
        apiOptions.podSecurity = {};
        assert.equal(
          (await cliProcess(["debug", id, "--delete", "--from-cluster", "--kubeconfig", kubeconfig], env)).code,
          0,
        );

        allowCreate = false;
        const forbidden = await cliProcess(["debug", id, "--from-cluster", "--kubeconfig", kubeconfig], env);
        assert.equal(forbidden.code, 1);
        assert.match(forbidden.stderr, /create pod in team-a: forbidden for your user/);
      }
    } finally {
      client.close();
      await bucket.stop();
      await api.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
