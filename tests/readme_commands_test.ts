/**
 * Every shell command in the READMEs and docs/ either runs in the test
 * suite or says what it needs. A shell block whose first line is
 * `# needs a cluster`, `# needs docker` or `# needs root on a node` cannot
 * run here. Every other command must be one that a named test runs (the
 * test file must show it does), or one this file runs itself.
 */

import assert from "node:assert/strict";
import { webhookSignature } from "../src/notify/generic_webhook.ts";
import { hasTools } from "./support/process.ts";

const ROOT = new URL("../", import.meta.url);
/** Both READMEs and every document in docs/. */
async function documents(): Promise<string[]> {
  const found = ["README.md", "README.zh-CN.md"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) found.push(`docs/${entry.name}`);
  }
  return found.sort();
}

/** The documents that print `deno task config-reference`'s tables, in their "Every key" section. */
const CONFIGURATION_DOCS = ["docs/configuration.md", "docs/configuration.zh-CN.md"];
const MARKER = /^# needs (a cluster|docker|root on a node)\b/;

/** Commands that other tests run, and what in those tests shows it. */
const RUN_BY_TESTS: { command: RegExp; by: string; proof: RegExp }[] = [
  { command: /^npx deno@\d+\.\d+\.\d+ task dev$/, by: "tests/quickstart_test.ts", proof: /runDeno\(\["task", "dev"\]/ },
  {
    command: /^npx deno@\d+\.\d+\.\d+ task crash$/,
    by: "tests/quickstart_test.ts",
    proof: /runDeno\(\["task", "crash"\]/,
  },
  { command: /^npx deno@\d+\.\d+\.\d+ task test$/, by: ".ci/run", proof: /npx --yes "deno@\$DENO_VERSION" task test/ },
  {
    command:
      /^curl -s --cacert \.coredog\/webhook-tls\/ca\.crt .*\/mutate \| jq -r \.response\.patch \| base64 -d \| jq \.$/,
    by: "tests/webhook_server_test.ts",
    proof: /curlExample/,
  },
  {
    command: /^deno task webhook --config \S+ --tls-cert \S+ --tls-key \S+$/,
    by: "tests/dockerfile_test.ts",
    proof: /taskRunArgs\("webhook"\), "--config"/,
  },
];

/** Commands this file runs. */
const RUN_HERE: RegExp[] = [
  /^deno task config-reference$/,
  /^printf '%s' "\$BODY" \| openssl dgst -sha256 -hmac "\$SECRET" -hex$/,
];

interface Block {
  document: string;
  line: number;
  marked: boolean;
  commands: string[];
}

/** The shell blocks of `text`: each command on one line, comments and here-document bodies left out. */
function shellBlocks(document: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(/^\s*```(sh|bash|shell|console)\s*$/);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (!/^\s*```\s*$/.test(lines[j])) body.push(lines[j++].trim());
    const marked = MARKER.test(body[0] ?? "");
    const commands: string[] = [];
    let current = "";
    let hereDoc: string | undefined;
    for (const line of body) {
      if (hereDoc) {
        if (line === hereDoc) hereDoc = undefined;
        continue;
      }
      if (line.startsWith("#") || line === "") continue;
      const joined = current + line;
      if (joined.endsWith("\\")) {
        current = `${joined.slice(0, -1).trimEnd()} `;
        continue;
      }
      current = "";
      const withoutComment = joined.replace(/\s+#\s.*$/, "").trim();
      commands.push(withoutComment);
      hereDoc = withoutComment.match(/<<-?'?(\w+)'?/)?.[1];
    }
    blocks.push({ document, line: i + 1, marked, commands });
    i = j;
  }
  return blocks;
}

async function allBlocks(): Promise<Block[]> {
  const blocks: Block[] = [];
  for (const document of await documents()) {
    blocks.push(...shellBlocks(document, await Deno.readTextFile(new URL(document, ROOT))));
  }
  return blocks;
}

Deno.test("every shell command in the READMEs and docs/ runs in the test suite or says what it needs", async () => {
  const unaccounted: string[] = [];
  for (const block of await allBlocks()) {
    if (block.marked) continue;
    for (const command of block.commands) {
      const elsewhere = RUN_BY_TESTS.find((r) => r.command.test(command));
      if (elsewhere) {
        const test = await Deno.readTextFile(new URL(elsewhere.by, ROOT));
        assert.match(test, elsewhere.proof, `${elsewhere.by} runs ${command}`);
        continue;
      }
      if (RUN_HERE.some((r) => r.test(command))) continue;
      unaccounted.push(`${block.document}:${block.line}: ${command}`);
    }
  }
  assert.deepEqual(
    unaccounted,
    [],
    "mark the block (# needs a cluster, # needs docker, # needs root on a node) or test it",
  );
});

Deno.test("each English document and its Chinese twin have the same shell commands, and the cluster install is the seed's", async () => {
  const blocks = await allBlocks();
  const commandsOf = (document: string) => blocks.filter((b) => b.document === document).flatMap((b) => b.commands);
  const documents = new Set(blocks.map((b) => b.document));
  let pairs = 0;
  for (const document of documents) {
    const twin = document.replace(/\.md$/, ".zh-CN.md");
    if (document.endsWith(".zh-CN.md") || !documents.has(twin)) continue;
    assert.deepEqual(commandsOf(twin), commandsOf(document), `${twin} and ${document} differ`);
    pairs++;
  }
  assert.ok(pairs >= 5, `only ${pairs} English/Chinese pairs with shell commands`);
  const english = commandsOf("README.md");
  assert.ok(english.includes("helm install coredog ./charts -n coredog-system --create-namespace"));
  assert.ok(english.includes("kubectl delete mutatingwebhookconfiguration coredog --ignore-not-found"));
  assert.ok(
    english.includes("kubectl get cm -n coredog-system coredog -o yaml | grep DeleteLocalCorefile") ||
      commandsOf("docs/troubleshooting.md").includes(
        "kubectl get cm -n coredog-system coredog -o yaml | grep DeleteLocalCorefile",
      ),
  );
  for (const block of blocks.filter((b) => b.marked)) {
    assert.ok(block.commands.length > 0, `${block.document}:${block.line}: a marked block with no command`);
  }
});

Deno.test("deno task config-reference prints exactly the key tables of docs/configuration.md and its twin", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "config-reference"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(output.code, 0);
  const squeeze = (row: string) => row.replace(/\s*\|\s*/g, "|").replace(/-{3,}/g, "---").trim();
  const keyRows = (text: string) => text.split("\n").filter((l) => l.startsWith("| `")).map(squeeze);
  const printed = keyRows(new TextDecoder().decode(output.stdout));
  assert.ok(printed.length > 40);
  for (const document of CONFIGURATION_DOCS) {
    const text = await Deno.readTextFile(new URL(document, ROOT));
    // The "Every key" section runs from its heading to the next level-2 heading.
    const start = text.search(/^## (Every key|全部配置项)$/m);
    assert.ok(start >= 0, `${document} has no "Every key" section`);
    const rest = text.slice(start + 1);
    const end = rest.search(/^## /m);
    const section = end < 0 ? rest : rest.slice(0, end);
    assert.deepEqual(keyRows(section), printed, `${document}: run \`deno task config-reference\` and paste it`);
  }
});

Deno.test({
  name: "the README's openssl command computes the webhook channel's X-CoreDog-Signature",
  ignore: !hasTools("openssl"),
  async fn() {
    const body = '{"event":"core_dump","text":"[team-a/web] core: core.1 ünïcode"}';
    const secret = "a-long-random-string";
    const output = await new Deno.Command("sh", {
      args: ["-c", `printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex`],
      env: { BODY: body, SECRET: secret },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const hex = new TextDecoder().decode(output.stdout).trim().split(/\s+/).at(-1);
    assert.equal(`sha256=${hex}`, webhookSignature(secret, body));
  },
});
