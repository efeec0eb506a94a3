/**
 * A small fuzz run (fixed seeds, bounded iterations) over the parts that
 * take untrusted input: the ELF note parser, the crash-site reader (registers,
 * mapped files, module headers, stack unwinding), the dump-path parser, the
 * annotation rules with the pod patch, and the template renderer. Each
 * property is something a user would notice if it broke: a crash or hang
 * of the watcher, a core attributed to the wrong pod, a patch that mounts
 * outside CorefileDir, a message with a raw `{variable}`.
 */

import assert from "node:assert/strict";
import type { AdmissionReview } from "../src/core/admission_review.ts";
import type { CrashRecord } from "../src/core/crash_record.ts";
import { isDnsLabel, isDnsSubdomain, parseDumpPath } from "../src/core/dump_path.ts";
import {
  crashFactsFromNotes,
  expectedCoreSize,
  noteRanges,
  parseElfHeader,
  parseNotes,
  parseProgramHeaders,
  programHeaderRange,
} from "../src/core/elf_core.ts";
import { parseModuleHeaders } from "../src/core/elf_module.ts";
import { functionAt, MAX_NAME_BYTES, parseSymbols } from "../src/core/elf_symbols.ts";
import { unwindStack } from "../src/core/elf_stack.ts";
import { REFUSED_PATHS } from "../src/core/injection_rules.ts";
import { mutateAdmission } from "../src/core/pod_mutation.ts";
import { renderTemplate, TEMPLATE_VARIABLES, unknownVariables } from "../src/core/template.ts";
import { applyPatch, COREFILE_DIR, patchOf } from "./support/admission.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { buildCore, noteArea, seededRandom } from "./support/elf_builder.ts";
import { buildCrasher, crasherSkipReason, crashIn } from "./support/crashers.ts";
import fs from "node:fs";
import { readCoreFacts } from "../src/watcher/core_facts_reader.ts";

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

function randomText(random: () => number, alphabet: string, max: number): string {
  const length = Math.floor(random() * max);
  let text = "";
  for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
  return text;
}

Deno.test("fuzz: the ELF note parser never throws or loops on damaged cores, and bounds every read", () => {
  const random = seededRandom(1);
  const original = buildCore({
    signal: 6,
    pid: 42,
    comm: "payments",
    args: "/app/payments --port 8080",
    exe: "/app/payments",
    loadBytes: 4096,
  });
  const { start, end } = noteArea(original);
  for (let round = 0; round < 3000; round++) {
    const bytes = original.slice();
    const flips = 1 + Math.floor(random() * 12);
    for (let i = 0; i < flips; i++) {
      // Mostly inside the headers and notes, where the parser looks.
      const at = random() < 0.7 ? start + Math.floor(random() * (end - start)) : Math.floor(random() * start);
      bytes[at] = Math.floor(random() * 256);
    }
    const cut = random() < 0.3 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
    const header = parseElfHeader(cut);
    if (!header.ok) continue;
    const range = programHeaderRange(header.header);
    if ("reason" in range) continue;
    const phdrs = parseProgramHeaders(header.header, cut.subarray(range.offset, range.offset + range.length));
    assert.ok(Number.isFinite(expectedCoreSize(phdrs)));
    for (const noteRange of noteRanges(phdrs, cut.length)) {
      assert.ok(noteRange.offset + noteRange.length <= cut.length, "a note read stays inside the file");
      const notes = parseNotes(header.header, cut.subarray(noteRange.offset, noteRange.offset + noteRange.length));
      const facts = crashFactsFromNotes(header.header, notes);
      if (facts.signal !== undefined) assert.ok(facts.signalName);
    }
  }
  // Undamaged, the facts are all there.
  const header = parseElfHeader(original);
  assert.ok(header.ok);
  const notes = parseNotes(header.header, original.subarray(start, end));
  assert.deepEqual(crashFactsFromNotes(header.header, notes), {
    signal: 6,
    signalName: "SIGABRT",
    pid: 42,
    uid: 0,
    executable: "payments",
    args: "/app/payments --port 8080",
    executablePath: "/app/payments",
  });
});

Deno.test("fuzz: the dump-path parser attributes only valid names under the root, never anything else", () => {
  const random = seededRandom(2);
  const root = "/data/coredog-system/dumps";
  const segments = ["ns", "team-a", "web-1", "app", "..", ".", "", "A", "a_b", "x".repeat(70), "é", "a.b", " ", "\n"];
  for (let round = 0; round < 20000; round++) {
    const parts = Array.from(
      { length: 1 + Math.floor(random() * 6) },
      () => random() < 0.8 ? pick(random, segments) : randomText(random, "ab-._/\0é", 8),
    );
    const path = `${pick(random, [root, `${root}/`, "/data", "/etc", ""])}/${parts.join("/")}`;
    const result = parseDumpPath(root, path);
    if (result.kind === "unattributed") continue;
    assert.ok(isDnsLabel(result.namespace) && isDnsSubdomain(result.pod), path);
    if (result.kind === "container") assert.ok(isDnsLabel(result.container), path);
    assert.ok(!result.relative.split("/").includes(".."), path);
  }
});

Deno.test("fuzz: whatever the annotations and containers, the webhook allows the pod and never mounts outside CorefileDir", () => {
  const random = seededRandom(3);
  const paths = [
    "/corefile",
    "/data/dumps/",
    "//corefile",
    "/etc/../etc",
    "/corefile/./x",
    "relative",
    "",
    "/proc/self",
    "/" + "a".repeat(5000),
    "/core\u0000file",
    "/core\nfile",
    "/corefile/..",
    ...REFUSED_PATHS,
  ];
  const names = ["app", "worker", "sidecar", "../../etc", "", "APP", "a".repeat(64), "app ", "x/y", "init"];
  const injectValues = ["true", "TRUE", " true ", "false", "yes", "", "true\u0007"];
  // About half the rounds ask for injection with a valid path and valid container names, so that the patch and
  // its mounts are checked often; the other half stays random.
  const validPaths = ["/corefile", "/data/dumps/", "/cores", "/tmp/cores", "/app/./dumps", "/opt//coredog"];
  const validNames = ["app", "worker", "sidecar", "init"];
  const ROUNDS = 1500;
  let patchedRounds = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const wanted = random() < 0.5;
    const containerNames = Array.from(
      { length: 1 + Math.floor(random() * 4) },
      () => pick(random, wanted ? validNames : names),
    );
    const annotations: Record<string, string> = {};
    if (wanted) {
      annotations["coredog.io/inject"] = "true";
      annotations["coredog.io/path"] = pick(random, validPaths);
    } else {
      if (random() < 0.9) annotations["coredog.io/inject"] = pick(random, injectValues);
      if (random() < 0.9) annotations["coredog.io/path"] = pick(random, paths);
    }
    if (random() < 0.5) {
      annotations["coredog.io/container"] = containerNames.slice(0, 2).join(pick(random, [",", ", ", ",,", " "]));
    }
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { generateName: "fuzz-", namespace: "team-a", annotations },
      spec: {
        containers: containerNames.map((name, i) => ({
          name,
          image: "busybox",
          ...(random() < 0.3 ? { volumeMounts: [{ name: "data", mountPath: pick(random, paths) || "/x" }] } : {}),
          ...(random() < 0.3 ? { env: [{ name: "COREDOG_POD_NAME", value: `v${i}` }] } : {}),
        })),
        ...(random() < 0.3 ? { volumes: [{ name: pick(random, ["data", "coredog-corefile"]), emptyDir: {} }] } : {}),
        ...(random() < 0.2 ? { initContainers: [{ name: "init", image: "busybox" }] } : {}),
      },
    };
    const review: AdmissionReview = {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid: `uid-${round}`,
        kind: { group: "", version: "v1", kind: "Pod" },
        resource: { group: "", version: "v1", resource: "pods" },
        namespace: "team-a",
        operation: "CREATE",
        object: pod,
      },
    } as AdmissionReview;
    const mutation = mutateAdmission(review, { corefileDir: COREFILE_DIR });
    assert.equal(mutation.response.response.allowed, true);
    for (const warning of mutation.warnings) assert.ok(warning.length < 120, warning);
    const operations = patchOf(mutation.response);
    if (operations.length === 0) continue;
    patchedRounds++;
    const patched = applyPatch(pod, operations);
    for (const volume of patched.spec.volumes) {
      if (volume.name === "coredog-corefile" && volume.hostPath) assert.equal(volume.hostPath.path, COREFILE_DIR);
    }
    for (const container of patched.spec.containers) {
      for (const mount of container.volumeMounts ?? []) {
        if (mount.name !== "coredog-corefile") continue;
        assert.match(mount.subPathExpr, /^team-a\/\$\(COREDOG_POD_NAME\)\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        assert.ok(!mount.mountPath.includes(".."), mount.mountPath);
        const refused = (p: string) =>
          p === "/" ? mount.mountPath === "/" : mount.mountPath === p || mount.mountPath.startsWith(`${p}/`);
        assert.ok(!REFUSED_PATHS.some(refused), mount.mountPath);
      }
    }
    const again = mutateAdmission({ ...review, request: { ...review.request, object: patched } }, {
      corefileDir: COREFILE_DIR,
    });
    assert.deepEqual(patchOf(again.response), [], "a second pass changes nothing");
  }
  assert.ok(patchedRounds >= ROUNDS / 3, `only ${patchedRounds} of ${ROUNDS} rounds produced a patch`);
});

Deno.test("fuzz: templates render without leftovers, and unknown variables are exactly the unknown names", () => {
  const random = seededRandom(4);
  const known = Object.keys(TEMPLATE_VARIABLES);
  const record: CrashRecord = sampleRecord();
  for (let round = 0; round < 5000; round++) {
    const pieces = Array.from({ length: Math.floor(random() * 8) }, () => {
      const roll = random();
      if (roll < 0.4) return `{${pick(random, known)}}`;
      if (roll < 0.55) return `{${randomText(random, "abcxyz._", 10)}}`;
      return randomText(random, "{}ab \n🚨é", 12);
    });
    const template = pieces.join("");
    const unknown = unknownVariables(template);
    for (const name of unknown) assert.ok(!known.includes(name));
    const rendered = renderTemplate(template, record);
    for (const name of known) assert.ok(!rendered.includes(`{${name}}`) || template.includes(`{{${name}}}`), template);
  }
});

Deno.test({
  name: "fuzz: a damaged real core never crashes or hangs the crash-site reader, and a signature always has a site",
  ignore: crasherSkipReason !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-fuzz-" });
    try {
      const crasher = await buildCrasher("null_deref.c", { dir, name: "server", framePointers: true });
      const original = await Deno.readFile(await crashIn(crasher, `${dir}/run`));
      const view = new DataView(original.buffer);
      // Damage lands mostly where the reader looks: headers, notes, the stack and the modules' first pages.
      const noteStart = Number(view.getBigUint64(64 + 8, true));
      const hot = [0, noteStart, original.length - 0x30000, original.length - 0x22000];
      const random = seededRandom(5);
      const path = `${dir}/damaged.core`;
      let signatures = 0;
      for (let round = 0; round < 200; round++) {
        const bytes = original.slice();
        for (let i = 0, flips = 1 + Math.floor(random() * 24); i < flips; i++) {
          const at = Math.max(0, pick(random, hot) + Math.floor(random() * 0x4000));
          if (at < bytes.length) bytes[at] = Math.floor(random() * 256);
        }
        const cut = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
        await Deno.writeFile(path, cut);
        const handle = await fs.promises.open(path, "r");
        try {
          const { crash } = await readCoreFacts(handle, cut.length);
          assert.ok(crash.frames.length <= 32);
          assert.ok((crash.signature === undefined) !== (crash.noSignature === undefined), "a signature or a reason");
          if (crash.signature) {
            signatures++;
            assert.ok(crash.site);
          }
        } finally {
          await handle.close();
        }
      }
      assert.ok(signatures > 20, `only ${signatures} of 200 damaged cores still gave a signature`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("fuzz: module headers and stack words from random bytes are read inside their buffers only", () => {
  const random = seededRandom(6);
  const elfStart = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  for (let round = 0; round < 3000; round++) {
    const page = new Uint8Array(Math.floor(random() * 4097));
    for (let i = 0; i < page.length; i++) page[i] = random() < 0.6 ? 0 : Math.floor(random() * 256);
    if (random() < 0.8) page.set(elfStart.subarray(0, Math.min(7, page.length)));
    const parsed = parseModuleHeaders(page);
    if (parsed.ok && parsed.module.buildId) assert.match(parsed.module.buildId, /^([0-9a-f]{2}){1,64}$/);
    const words = new BigUint64Array(Math.floor(random() * 256));
    for (let i = 0; i < words.length; i++) {
      words[i] = random() < 0.5
        ? BigInt(0x7000 + Math.floor(random() * 64) * 8)
        : BigInt(Math.floor(random() * 2 ** 40));
    }
    const stack = new Uint8Array(words.buffer);
    const unwound = unwindStack({ pc: 1, sp: 0x7000, fp: 0x7000 + Math.floor(random() * 80) * 4, lr: 7 }, {
      machine: random() < 0.5 ? "x86_64" : "aarch64",
      littleEndian: true,
      stack: { address: 0x7000, bytes: stack.subarray(0, Math.floor(random() * (stack.length + 1))) },
      isCode: (a) => a % 3 === 0,
    });
    assert.ok(unwound.frames.length >= 1 && unwound.frames.length <= 32);
  }
});

Deno.test({
  name: "fuzz: symbol tables of damaged real binaries and random bytes are read inside the file, names bounded",
  ignore: crasherSkipReason !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-fuzz-symbols-" });
    try {
      const binary = await buildCrasher("null_deref.c", { dir, name: "server", framePointers: true });
      const original = await Deno.readFile(binary.path);
      const parsedOriginal = parseSymbols(original);
      assert.ok(parsedOriginal.ok, "the undamaged binary has symbols");
      const view = new DataView(original.buffer);
      // Damage lands mostly on the section headers and the symbol and string tables they point at.
      const shoff = Number(view.getBigUint64(40, true));
      const hot = [0, shoff, shoff - 0x600, shoff - 0x300];
      const random = seededRandom(7);
      let named = 0;
      for (let round = 0; round < 1500; round++) {
        const bytes = round % 5 === 4 ? randomElf(random) : original.slice();
        for (let i = 0, flips = 1 + Math.floor(random() * 16); i < flips && round % 5 !== 4; i++) {
          const at = Math.max(0, pick(random, hot) + Math.floor(random() * 0x700));
          if (at < bytes.length) bytes[at] = Math.floor(random() * 256);
        }
        const cut = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
        const parsed = parseSymbols(cut);
        if (!parsed.ok) continue;
        for (const f of parsed.table.functions) {
          assert.ok(new TextEncoder().encode(f.name).length <= MAX_NAME_BYTES * 3, "a name is bounded");
          assert.ok(f.name.length > 0);
        }
        const name = functionAt(parsed.table, 0x1139);
        if (name !== undefined) {
          named++;
          assert.ok(parsed.table.functions.some((f) => f.name === name), "a lookup only returns the table's names");
        }
      }
      assert.ok(named > 100, `only ${named} damaged binaries still named an offset`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function randomElf(random: () => number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(64 + Math.floor(random() * 4096));
  for (let i = 0; i < bytes.length; i++) bytes[i] = random() < 0.5 ? 0 : Math.floor(random() * 256);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, random() < 0.5 ? 1 : 2, 1, 1]);
  // Section headers somewhere inside, with a plausible entry size.
  const view = new DataView(bytes.buffer);
  view.setUint16(58, random() < 0.5 ? 64 : 40, true);
  view.setUint16(60, Math.floor(random() * 12), true);
  view.setUint32(40, Math.floor(random() * bytes.length), true);
  return bytes;
}
