// Extract, verbatim, the GitHub REST operations kestra-sync calls from GitHub's official
// OpenAPI description (npm package @octokit/openapi, dereferenced form) into
// tests/fixtures/github-openapi.json, which the Rust tests validate every request against.
//
//   npm install --prefix /tmp/gh-openapi @octokit/openapi@23.0.2
//   node .ci/github-openapi/extract.mjs /tmp/gh-openapi/node_modules/@octokit/openapi
//
// With --check, compare with the committed file instead of writing it (exit 1 on a difference).
import { readFileSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const OPERATIONS = [
  ["get", "/user"],
  ["get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"],
  ["get", "/repos/{owner}/{repo}/tarball/{ref}"],
  ["get", "/repos/{owner}/{repo}/pulls/{pull_number}"],
  ["get", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"],
  ["get", "/repos/{owner}/{repo}/issues/{issue_number}/labels"],
  ["post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"],
  ["delete", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"],
  ["get", "/repos/{owner}/{repo}/deployments"],
  ["post", "/repos/{owner}/{repo}/deployments"],
  ["post", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"],
];
// GitHub Enterprise Server must offer the same operations (under /api/v3).
const GHES = "ghes-3.19.deref.json";

const args = process.argv.slice(2);
const check = args.includes("--check");
const pkg = args.find((a) => !a.startsWith("--"));
if (!pkg) {
  console.error("usage: extract.mjs PATH/TO/node_modules/@octokit/openapi [--check]");
  process.exit(2);
}
const version = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).version;
const load = (f) => JSON.parse(readFileSync(join(pkg, "generated", f), "utf8"));
const dotcom = load("api.github.com.deref.json");
const ghes = load(GHES);

const out = {
  source: `@octokit/openapi ${version}: generated/api.github.com.deref.json (also checked in generated/${GHES})`,
  openapi: dotcom.openapi,
  operations: [],
};
for (const [method, path] of OPERATIONS) {
  const op = dotcom.paths[path]?.[method];
  if (!op) throw new Error(`${method} ${path} is not in api.github.com`);
  if (!ghes.paths[path]?.[method]) throw new Error(`${method} ${path} is not in ${GHES}`);
  const params = [...(dotcom.paths[path].parameters ?? []), ...(op.parameters ?? [])];
  const responses = {};
  for (const [code, r] of Object.entries(op.responses)) {
    const json = r.content?.["application/json"];
    responses[code] = {
      schema: json?.schema ?? null,
      example: json?.examples ? Object.values(json.examples)[0]?.value ?? null : null,
      headers: Object.keys(r.headers ?? {}),
    };
  }
  out.operations.push({
    method,
    path,
    operationId: op.operationId,
    parameters: params.map((p) => ({ name: p.name, in: p.in, required: !!p.required, schema: p.schema ?? null })),
    requestBody: op.requestBody
      ? { required: !!op.requestBody.required, schema: op.requestBody.content?.["application/json"]?.schema ?? null }
      : null,
    responses,
  });
}
const text = JSON.stringify(out, null, 1) + "\n";
const target = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "tests", "fixtures", "github-openapi.json");
if (check) {
  if (readFileSync(target, "utf8") !== text) {
    console.error(`${target} differs from @octokit/openapi ${version}: run extract.mjs without --check`);
    process.exit(1);
  }
  console.log(`github-openapi.json matches @octokit/openapi ${version}`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target} from @octokit/openapi ${version}`);
}
