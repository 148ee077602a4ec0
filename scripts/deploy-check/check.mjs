// Offline checks of what deploys the chat node, for machines without Docker or a Kubernetes cluster:
//
//   1. Dockerfile (parsed with dockerfile-ast): instructions and flags, exec-form JSON, stages, the runtime stage's
//      USER / EXPOSE 8080 9080 / HEALTHCHECK / ENTRYPOINT, and every COPY/ADD source against the build context
//      (the repository minus .dockerignore).
//   2. k8s/: built the way `kubectl kustomize k8s/` builds it, for the kustomization fields implemented below
//      (resources, namespace, labels, images). Any other field fails the check instead of being ignored.
//   3. Every resulting object validated against the Kubernetes API schemas of kubernetes-models.
//
//   node scripts/deploy-check/check.mjs        (from any directory; npm ci in scripts/deploy-check first,
//                                               scripts/services.sh install does it)
//
// Prints one line per object ("ok  apps/v1 StatefulSet chatnode/chatnode") and a summary; exits 1 on any failure.
//
// Known limits: the kubernetes-models schemas check types, enums and required fields but accept unknown fields, so
// a misspelled field name passes here (kubectl apply rejects it). Nothing here checks cross-object references
// (a Service selector that matches no pod, a missing ConfigMap key).

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

let DockerfileParser, parseAllDocuments;
try {
    ({ DockerfileParser } = await import("dockerfile-ast"));
    ({ parseAllDocuments } = await import("yaml"));
    await import("kubernetes-models/v1/Namespace");
} catch (e) {
    console.error(`deploy-check: ${e.message}`);
    console.error("deploy-check: the dependencies are missing: run scripts/services.sh install (or npm ci in scripts/deploy-check)");
    process.exit(1);
}

// Objects of these kinds have no model in kubernetes-models (custom resources, say) and are let through
// unvalidated, each with the reason. Key: "apiVersion Kind". Empty: today every object is validated.
const UNVALIDATED_KINDS = new Map([
    // ["monitoring.coreos.com/v1 ServiceMonitor", "Prometheus operator resource, no schema in kubernetes-models"],
]);

const failures = [];
const fail = (message) => {
    failures.push(message);
    console.log(`FAIL ${message}`);
};
const ok = (message) => console.log(`ok  ${message}`);
const display = (path) => relative(root, path).split(sep).join("/");

// ---------------------------------------------------------------- .dockerignore

// Docker's rules: patterns are relative to the context root (a leading "/" and a trailing "/" are dropped),
// "*" and "?" stay within one path segment, "**" spans any number of segments, "!" re-includes, the last matching
// pattern wins, and a path is excluded when it or one of its parent directories matches.
function globToRegExp(glob) {
    let re = "";
    for (let i = 0; i < glob.length; i++) {
        const c = glob[i];
        if (c === "*" && glob[i + 1] === "*") {
            i++;
            if (glob[i + 1] === "/") {
                i++;
                re += "(?:.*/)?";
            } else {
                re += ".*";
            }
        } else if (c === "*") {
            re += "[^/]*";
        } else if (c === "?") {
            re += "[^/]";
        } else if (c === "[" && glob.indexOf("]", i + 2) > i) {
            const end = glob.indexOf("]", i + 2);
            let set = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
            if (set.startsWith("!")) set = "^" + set.slice(1);
            re += `[${set}]`;
            i = end;
        } else if (c === "\\" && i + 1 < glob.length) {
            re += glob[++i].replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
        } else {
            re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
        }
    }
    return new RegExp(`^${re}$`);
}

const hasGlob = (path) => /[*?[]/.test(path);

function loadDockerignore() {
    const path = join(root, ".dockerignore");
    if (!existsSync(path)) {
        fail(".dockerignore: missing (the host's bin/ and obj/ would be sent to the build and break the restore)");
        return () => false;
    }
    const rules = readFileSync(path, "utf8")
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith("#"))
        .map((line) => {
            const exclude = !line.startsWith("!");
            const pattern = posix.normalize((exclude ? line : line.slice(1)).trim()).replace(/^\/+|\/+$/g, "");
            return { exclude, regex: globToRegExp(pattern) };
        });
    ok(`.dockerignore: ${rules.length} patterns`);
    return (relPath) => {
        const segments = relPath.split("/");
        let excluded = false;
        for (const { exclude, regex } of rules) {
            for (let n = 1; n <= segments.length; n++) {
                if (regex.test(segments.slice(0, n).join("/"))) {
                    excluded = exclude;
                    break;
                }
            }
        }
        return excluded;
    };
}

// Context paths (relative, "/"-separated) under `dir` that are not excluded, for glob sources.
function* contextPaths(dir, isIgnored) {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
        const rel = dir ? `${dir}/${entry.name}` : entry.name;
        if (isIgnored(rel)) continue;
        yield rel;
        if (entry.isDirectory()) yield* contextPaths(rel, isIgnored);
    }
}

// ---------------------------------------------------------------- Dockerfile

const KEYWORDS = new Set([
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
]);
const FLAGS = {
    FROM: ["platform"],
    COPY: ["from", "chown", "chmod", "link", "parents", "exclude"],
    ADD: ["chown", "chmod", "link", "checksum", "keep-git-dir", "exclude", "unpack"],
    RUN: ["mount", "network", "security", "device"],
    HEALTHCHECK: ["interval", "timeout", "start-period", "start-interval", "retries"],
};
// Instructions whose arguments may be a JSON array (exec form). Docker runs a malformed array as a shell command
// without a word of warning, so anything that starts with "[" must parse.
const JSON_FORM = new Set(["CMD", "ENTRYPOINT", "RUN", "SHELL", "VOLUME", "COPY", "ADD"]);
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

function checkDockerfile() {
    const path = join(root, "Dockerfile");
    if (!existsSync(path)) {
        fail("Dockerfile: missing");
        return;
    }
    const isIgnored = loadDockerignore();
    const dockerfile = DockerfileParser.parse(readFileSync(path, "utf8"));
    const problems = [];
    const problem = (instruction, message) =>
        problems.push(`Dockerfile:${instruction.getRange().start.line + 1}: ${instruction.getKeyword()}: ${message}`);
    const words = (instruction) => instruction.getArguments().map((a) => a.getValue());

    // Exec form: returns the parsed array, null for shell form, undefined (and a problem) for a broken array.
    const execForm = (instruction, text) => {
        if (!text.startsWith("[")) return null;
        try {
            const value = JSON.parse(text);
            if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string")) return value;
        } catch {
            // reported below
        }
        problem(instruction, `not a valid JSON array of strings (Docker would run it as a shell command): ${text}`);
        return undefined;
    };

    const stages = [];
    let copySources = 0;
    for (const instruction of dockerfile.getInstructions()) {
        const keyword = instruction.getKeyword();
        if (!KEYWORDS.has(keyword)) {
            problem(instruction, "unknown instruction");
            continue;
        }
        const args = words(instruction);
        if (args.length === 0) {
            problem(instruction, "no arguments");
            continue;
        }
        if (keyword !== "FROM" && keyword !== "ARG" && stages.length === 0) {
            problem(instruction, "before the first FROM");
            continue;
        }
        const flags = instruction.getFlags ? instruction.getFlags() : [];
        for (const flag of flags) {
            if (!(FLAGS[keyword] ?? []).includes(flag.getName())) problem(instruction, `unknown flag --${flag.getName()}`);
        }
        const flag = (name) => flags.find((f) => f.getName() === name)?.getValue();
        const text = args.join(" ");

        if (keyword === "FROM") {
            const name = instruction.getBuildStage();
            if (!instruction.getImage()) problem(instruction, "no image");
            if (name && stages.some((s) => s.name === name.toLowerCase())) problem(instruction, `stage ${name} defined twice`);
            stages.push({ name: name?.toLowerCase(), line: instruction.getRange().start.line + 1, instructions: [] });
            continue;
        }
        if (keyword === "ARG" && stages.length === 0) continue;
        stages.at(-1).instructions.push(instruction);

        if (JSON_FORM.has(keyword)) execForm(instruction, text);
        if (keyword === "HEALTHCHECK") {
            const sub = args[0].toUpperCase();
            if (sub === "CMD") {
                if (args.length < 2) problem(instruction, "CMD without a command");
                else execForm(instruction, args.slice(1).join(" "));
            } else if (sub !== "NONE") {
                problem(instruction, `expected CMD or NONE, found ${args[0]}`);
            }
            for (const name of ["interval", "timeout", "start-period", "start-interval"]) {
                const value = flag(name);
                if (value !== undefined && !DURATION.test(value ?? "")) problem(instruction, `--${name}=${value} is not a duration`);
            }
            const retries = flag("retries");
            if (retries !== undefined && !/^\d+$/.test(retries ?? "")) problem(instruction, `--retries=${retries} is not a number`);
        }
        if (keyword === "EXPOSE") {
            for (const port of args) {
                if (!/^(\d+(-\d+)?|\$\{?\w+\}?)(\/(tcp|udp|sctp))?$/i.test(port)) problem(instruction, `bad port ${port}`);
            }
        }

        if (keyword === "COPY" || keyword === "ADD") {
            const from = keyword === "COPY" ? flag("from") : undefined;
            if (from !== undefined) {
                // A previous stage by name or index; anything else is an image reference, which needs a registry
                // name or tag to be told apart from a misspelled stage.
                const index = stages.length - 1;
                const known = /^\d+$/.test(from ?? "")
                    ? Number(from) < index
                    : stages.slice(0, index).some((s) => s.name === from?.toLowerCase());
                if (!known && !/[/:@]/.test(from ?? "")) problem(instruction, `--from=${from} names no earlier stage`);
                continue;
            }
            if (args[0].startsWith("<<")) continue; // heredoc: the content is inline
            const list = execForm(instruction, text) ?? (text.startsWith("[") ? undefined : args);
            if (!list) continue;
            if (list.length < 2) {
                problem(instruction, "needs at least one source and a destination");
                continue;
            }
            for (const source of list.slice(0, -1)) {
                if (keyword === "ADD" && /^(https?:\/\/|git@)/.test(source)) continue; // remote source
                copySources++;
                if (source.includes("$")) {
                    problem(instruction, `source ${source} uses a variable; this check cannot resolve it`);
                    continue;
                }
                const rel = posix.normalize(source.replace(/^\/+/, "")).replace(/\/+$/, "");
                if (rel === ".." || rel.startsWith("../")) {
                    problem(instruction, `source ${source} is outside the build context`);
                } else if (hasGlob(rel)) {
                    // Globs are checked loosely: at least one path in the context must match the whole pattern.
                    const regex = globToRegExp(rel);
                    const base = rel.slice(0, rel.search(/[*?[]/)).replace(/[^/]*$/, "").replace(/\/$/, "");
                    let matched = false;
                    if (existsSync(join(root, base))) {
                        for (const candidate of contextPaths(base, isIgnored)) {
                            if (regex.test(candidate)) {
                                matched = true;
                                break;
                            }
                        }
                    }
                    if (!matched) problem(instruction, `source ${source} matches nothing in the build context`);
                } else if (rel !== "." && !existsSync(join(root, rel))) {
                    problem(instruction, `source ${source} does not exist`);
                } else if (rel !== "." && isIgnored(rel)) {
                    problem(instruction, `source ${source} is excluded by .dockerignore`);
                }
            }
        }
    }

    const final = stages.at(-1);
    if (!final) {
        problems.push("Dockerfile: no FROM");
    } else {
        const last = (keyword) => final.instructions.filter((i) => i.getKeyword() === keyword).at(-1);
        const missing = (what) => problems.push(`Dockerfile: the final stage (FROM at line ${final.line}) has no ${what}`);
        if (!last("ENTRYPOINT")) missing("ENTRYPOINT");
        const user = last("USER");
        if (!user) missing("USER (it would run as root)");
        else if (/^(root|0)(:.*)?$/.test(words(user)[0])) problem(user, "runs as root");
        const healthcheck = last("HEALTHCHECK");
        if (!healthcheck || words(healthcheck)[0].toUpperCase() !== "CMD") missing("HEALTHCHECK CMD");
        else if (!/\/healthz/.test(words(healthcheck).join(" ")) || !/8080/.test(words(healthcheck).join(" "))) {
            problem(healthcheck, "does not ask /healthz on port 8080");
        }
        const exposed = new Set(
            final.instructions.filter((i) => i.getKeyword() === "EXPOSE").flatMap((i) => words(i).map((p) => p.replace(/\/tcp$/i, ""))),
        );
        for (const port of ["8080", "9080"]) if (!exposed.has(port)) missing(`EXPOSE ${port}`);
    }

    for (const p of problems) fail(p);
    if (problems.length === 0) {
        ok(`Dockerfile: ${stages.length} stages, ${dockerfile.getInstructions().length} instructions, ${copySources} COPY sources in the build context`);
    }
}

// ---------------------------------------------------------------- kustomize (the subset k8s/ uses)

const KUSTOMIZATION_FIELDS = new Set(["apiVersion", "kind", "resources", "namespace", "labels", "images"]);

// Kinds kustomize does not put in the namespace (the cluster-scoped kinds of the built-in API groups).
const CLUSTER_SCOPED = new Set([
    "v1/Namespace", "v1/Node", "v1/PersistentVolume", "v1/ComponentStatus",
    "rbac.authorization.k8s.io/ClusterRole", "rbac.authorization.k8s.io/ClusterRoleBinding",
    "storage.k8s.io/StorageClass", "storage.k8s.io/CSIDriver", "storage.k8s.io/CSINode",
    "storage.k8s.io/VolumeAttachment", "scheduling.k8s.io/PriorityClass", "node.k8s.io/RuntimeClass",
    "networking.k8s.io/IngressClass", "apiextensions.k8s.io/CustomResourceDefinition",
    "apiregistration.k8s.io/APIService", "certificates.k8s.io/CertificateSigningRequest",
    "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
    "admissionregistration.k8s.io/MutatingWebhookConfiguration",
    "admissionregistration.k8s.io/ValidatingAdmissionPolicy",
    "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding",
    "flowcontrol.apiserver.k8s.io/FlowSchema", "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
]);
// Kinds where kustomize's namespace transformer also rewrites fields inside the object (binding subjects,
// service references). Not modelled here, so they fail rather than pass with a result kubectl would not produce.
const NAMESPACE_REFERENCES = new Set([
    "RoleBinding", "ClusterRoleBinding", "APIService", "CustomResourceDefinition",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
]);

const groupOf = (apiVersion) => (apiVersion.includes("/") ? apiVersion.split("/")[0] : "v1");
const idOf = (o) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

class Fatal extends Error {}

function readYaml(path) {
    // merge: YAML merge keys (<<: *anchor), which kustomize's YAML library applies too.
    const docs = parseAllDocuments(readFileSync(path, "utf8"), { prettyErrors: true, merge: true });
    const result = [];
    for (const [index, doc] of (Array.isArray(docs) ? docs : []).entries()) {
        const where = `${display(path)} (document ${index + 1})`;
        const issues = [...doc.errors, ...doc.warnings];
        if (issues.length) throw new Fatal(`${where}: ${issues.map((e) => e.message).join("; ")}`);
        const value = doc.toJS();
        if (value !== null && value !== undefined) result.push({ value, where });
    }
    return result;
}

// Splits "registry:5000/name:tag" or "name@sha256:..." into the name and the rest (":tag", "@digest" or "").
function splitImage(image) {
    const at = image.indexOf("@");
    if (at >= 0) return [image.slice(0, at), image.slice(at)];
    const colon = image.lastIndexOf(":");
    return colon > image.lastIndexOf("/") ? [image.slice(0, colon), image.slice(colon)] : [image, ""];
}

// Calls visit(container) for every element of a "containers" or "initContainers" list anywhere in the object,
// as kustomize's image transformer does.
function forEachContainer(node, visit) {
    if (Array.isArray(node)) {
        node.forEach((n) => forEachContainer(n, visit));
    } else if (isObject(node)) {
        for (const [key, value] of Object.entries(node)) {
            if ((key === "containers" || key === "initContainers") && Array.isArray(value)) value.filter(isObject).forEach(visit);
            forEachContainer(value, visit);
        }
    }
}

function kustomize(dir) {
    const file = join(dir, "kustomization.yaml");
    if (!existsSync(file)) throw new Fatal(`${display(file)}: missing`);
    const docs = readYaml(file);
    if (docs.length !== 1 || !isObject(docs[0].value)) throw new Fatal(`${display(file)}: expected one mapping`);
    const k = docs[0].value;
    const where = display(file);

    const unsupported = Object.keys(k).filter((key) => !KUSTOMIZATION_FIELDS.has(key));
    if (unsupported.length) {
        throw new Fatal(
            `${where}: ${unsupported.join(", ")}: not implemented by scripts/deploy-check/check.mjs (it builds ` +
                `${[...KUSTOMIZATION_FIELDS].slice(2).join(", ")} only); implement it there before using it`,
        );
    }
    if (k.apiVersion !== undefined && k.apiVersion !== "kustomize.config.k8s.io/v1beta1") {
        throw new Fatal(`${where}: apiVersion ${k.apiVersion}, expected kustomize.config.k8s.io/v1beta1`);
    }
    if (k.kind !== undefined && k.kind !== "Kustomization") throw new Fatal(`${where}: kind ${k.kind}, expected Kustomization`);

    // resources: files in or below the kustomization's folder (kustomize refuses paths outside it).
    if (!Array.isArray(k.resources) || k.resources.length === 0) throw new Fatal(`${where}: resources: expected a list of files`);
    const objects = [];
    for (const entry of k.resources) {
        if (typeof entry !== "string" || /^[a-z]+:\/\/|^github\.com\//i.test(entry)) {
            throw new Fatal(`${where}: resources: ${JSON.stringify(entry)}: only local files are supported`);
        }
        const path = resolve(dir, entry);
        if (path !== dir && !path.startsWith(dir + sep)) throw new Fatal(`${where}: resources: ${entry} is outside ${display(dir)}/`);
        if (!existsSync(path)) throw new Fatal(`${where}: resources: ${entry} does not exist`);
        if (!statSync(path).isFile()) {
            throw new Fatal(`${where}: resources: ${entry} is a directory (a nested kustomization); not implemented by this check`);
        }
        for (const { value, where: docWhere } of readYaml(path)) {
            if (!isObject(value)) throw new Fatal(`${docWhere}: not a Kubernetes object`);
            if (typeof value.apiVersion !== "string" || typeof value.kind !== "string") {
                throw new Fatal(`${docWhere}: apiVersion and kind are required`);
            }
            if (value.kind.endsWith("List") && Array.isArray(value.items)) {
                throw new Fatal(`${docWhere}: ${value.kind}: lists are not implemented by this check; one object per document`);
            }
            if (!isObject(value.metadata) || typeof value.metadata.name !== "string" || !value.metadata.name) {
                throw new Fatal(`${docWhere}: ${value.apiVersion} ${value.kind}: metadata.name is required`);
            }
            objects.push({ object: value, where: docWhere });
        }
    }

    // namespace: set on every namespaced object, replacing what the file says; a Namespace object is renamed to it.
    if (k.namespace !== undefined) {
        if (typeof k.namespace !== "string" || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(k.namespace)) {
            throw new Fatal(`${where}: namespace: ${JSON.stringify(k.namespace)} is not a valid namespace name`);
        }
        for (const { object, where: docWhere } of objects) {
            if (NAMESPACE_REFERENCES.has(object.kind)) {
                throw new Fatal(`${docWhere}: ${object.kind}: kustomize rewrites namespaces inside this kind; not implemented by this check`);
            }
            if (object.kind === "Namespace" && object.apiVersion === "v1") object.metadata.name = k.namespace;
            else if (!CLUSTER_SCOPED.has(`${groupOf(object.apiVersion)}/${object.kind}`)) object.metadata.namespace = k.namespace;
        }
    }

    // labels: without includeSelectors/includeTemplates, kustomize adds the pairs to metadata.labels only.
    if (k.labels !== undefined) {
        if (!Array.isArray(k.labels)) throw new Fatal(`${where}: labels: expected a list`);
        for (const entry of k.labels) {
            const extra = isObject(entry) ? Object.keys(entry).filter((key) => !["pairs", "includeSelectors", "includeTemplates"].includes(key)) : [];
            if (!isObject(entry) || !isObject(entry.pairs) || extra.length) {
                throw new Fatal(`${where}: labels: each entry needs pairs (and no ${extra.join(", ") || "other fields"})`);
            }
            for (const option of ["includeSelectors", "includeTemplates"]) {
                if (entry[option] !== undefined && entry[option] !== false) {
                    throw new Fatal(`${where}: labels: ${option}: true is not implemented by this check`);
                }
            }
            for (const { object } of objects) object.metadata.labels = { ...(object.metadata.labels ?? {}), ...entry.pairs };
        }
    }

    // images: rewrite the name and/or tag of matching container images; an entry that matches nothing fails (kustomize
    // ignores it silently, which hides a misspelled name).
    if (k.images !== undefined) {
        if (!Array.isArray(k.images)) throw new Fatal(`${where}: images: expected a list`);
        for (const entry of k.images) {
            const extra = isObject(entry) ? Object.keys(entry).filter((key) => !["name", "newName", "newTag", "digest"].includes(key)) : [];
            if (!isObject(entry) || typeof entry.name !== "string" || extra.length) {
                throw new Fatal(`${where}: images: each entry needs name (and may have newName, newTag or digest; found ${extra.join(", ") || "none"})`);
            }
            if (entry.newTag !== undefined && entry.digest !== undefined) {
                throw new Fatal(`${where}: images: ${entry.name}: newTag together with digest is not implemented by this check`);
            }
            let matched = 0;
            for (const { object } of objects) {
                forEachContainer(object, (container) => {
                    if (typeof container.image !== "string") return;
                    const [name, rest] = splitImage(container.image);
                    if (name !== entry.name) return;
                    const suffix = entry.digest !== undefined ? `@${entry.digest}` : entry.newTag !== undefined ? `:${entry.newTag}` : rest;
                    container.image = `${entry.newName ?? name}${suffix}`;
                    matched++;
                });
            }
            if (matched === 0) throw new Fatal(`${where}: images: ${entry.name} matches no container image`);
        }
    }

    // kustomize refuses two objects with the same id.
    const seen = new Map();
    for (const { object, where: docWhere } of objects) {
        const id = idOf(object);
        if (seen.has(id)) throw new Fatal(`${docWhere}: ${id} is already defined in ${seen.get(id)}`);
        seen.set(id, docWhere);
    }
    return objects;
}

// ---------------------------------------------------------------- validation

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

// The name rule the API server applies to a kind: most names are DNS subdomains, a few kinds are stricter and RBAC
// names only need to be a path segment.
function nameProblem(object) {
    const name = object.metadata.name;
    if (groupOf(object.apiVersion) === "rbac.authorization.k8s.io") {
        return name === "." || name === ".." || /[/%]/.test(name) ? "is not a valid path segment" : undefined;
    }
    if (object.apiVersion === "v1" && object.kind === "Service") return DNS_1035_LABEL.test(name) ? undefined : "is not a DNS-1035 label";
    if (object.apiVersion === "v1" && object.kind === "Namespace") return DNS_LABEL.test(name) ? undefined : "is not a DNS label";
    return name.length <= 253 && DNS_SUBDOMAIN.test(name) ? undefined : "is not a DNS subdomain";
}

// What the API server checks on metadata beyond the schema's types.
function metadataProblems(object) {
    const { metadata } = object;
    const problems = [];
    const badName = nameProblem(object);
    if (badName) problems.push(`metadata.name ${metadata.name} ${badName}`);
    for (const [key, value] of Object.entries(metadata.labels ?? {})) {
        const [prefix, name] = key.includes("/") ? key.split("/", 2) : [undefined, key];
        const keyOk = name.length <= 63 && LABEL_NAME.test(name) && (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
        if (!keyOk) problems.push(`label key ${key} is not valid`);
        if (typeof value === "string" && value !== "" && (value.length > 63 || !LABEL_NAME.test(value))) {
            problems.push(`label ${key}: value ${value} is not valid`);
        }
    }
    return problems;
}

async function modelFor(apiVersion, kind) {
    // apiVersion "v1" -> kubernetes-models/v1/Kind; "apps/v1" -> kubernetes-models/apps/v1/Kind.
    if (!/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
    try {
        const module = await import(`kubernetes-models/${apiVersion}/${kind}`);
        const model = module[kind];
        // Only top-level kinds carry apiVersion and kind; nested types (v1/Container, say) do not.
        return model?.apiVersion === apiVersion && model?.kind === kind ? model : undefined;
    } catch (e) {
        // Unknown only if the model itself is missing, not something it imports.
        if (e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") return undefined;
        if (e.code === "ERR_MODULE_NOT_FOUND" && e.message.includes(`kubernetes-models/${apiVersion}/${kind}.`)) return undefined;
        throw e;
    }
}

async function validate(objects) {
    const counts = { validated: 0, skipped: 0, failed: 0 };
    for (const { object, where } of objects) {
        const line = `${object.apiVersion} ${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name}`;
        const model = await modelFor(object.apiVersion, object.kind);
        if (!model) {
            const reason = UNVALIDATED_KINDS.get(`${object.apiVersion} ${object.kind}`);
            if (reason) {
                console.log(`skip ${line} (not validated: ${reason})`);
                counts.skipped++;
            } else {
                fail(`${line} (${where}): unknown kind: no model in kubernetes-models; add it to UNVALIDATED_KINDS in check.mjs with a reason if it is meant to be there`);
                counts.failed++;
            }
            continue;
        }
        const problems = metadataProblems(object);
        try {
            new model(structuredClone(object)).validate();
        } catch (e) {
            const details = Array.isArray(e.errors) && e.errors.length
                ? e.errors.map((err) => `${err.instancePath || "/"} ${err.message}${err.params?.allowedValues ? ` (${err.params.allowedValues.join(", ")})` : ""}`)
                : [e.message];
            problems.push(...details);
        }
        if (problems.length) {
            fail(`${line} (${where}): ${problems.join("; ")}`);
            counts.failed++;
        } else {
            ok(line);
            counts.validated++;
        }
    }
    return counts;
}

// ---------------------------------------------------------------- main

checkDockerfile();
let counts = { validated: 0, skipped: 0, failed: 0 };
try {
    const objects = kustomize(join(root, "k8s"));
    counts = await validate(objects);
} catch (e) {
    if (!(e instanceof Fatal)) throw e;
    fail(e.message);
}
console.log(
    `deploy-check: ${counts.validated} objects validated, ${counts.skipped} skipped, ${counts.failed} failed; ` +
        (failures.length ? `${failures.length} problem${failures.length === 1 ? "" : "s"}` : "no problems"),
);
process.exit(failures.length ? 1 : 0);
