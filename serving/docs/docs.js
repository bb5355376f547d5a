// Renders /openapi.json as a readable page: no framework, no other host (the CSP allows neither).
"use strict";

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// Replace each {"$ref": "#/components/..."} with what it points to, a few levels deep.
function resolve(spec, value, depth = 0) {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (typeof value.$ref === "string") {
    const target = value.$ref.replace(/^#\//, "").split("/").reduce((node, key) => node[key], spec);
    return resolve(spec, target, depth + 1);
  }
  if (Array.isArray(value)) return value.map((item) => resolve(spec, item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, resolve(spec, item, depth + 1)])
  );
}

function block(title, value) {
  const wrapper = element("div");
  wrapper.append(element("h4", title), element("pre", JSON.stringify(value, null, 2)));
  return wrapper;
}

function operation(spec, path, method, op) {
  const details = element("details");
  const summary = element("summary");
  summary.append(element("span", method, "method"), element("code", path), ` ${op.summary || ""}`);
  details.append(summary);
  for (const parameter of op.parameters || []) {
    const line = element("p");
    line.append(element("code", parameter.name), ` (${parameter.in}) ${parameter.description || ""}`);
    details.append(line);
  }
  if (op.requestBody) {
    for (const [type, media] of Object.entries(op.requestBody.content)) {
      details.append(block(`Request body: ${type}`, resolve(spec, media.schema)));
    }
  }
  for (const [status, answer] of Object.entries(op.responses)) {
    const line = element("p");
    line.append(element("span", status, "status"), ` ${answer.description || ""}`);
    details.append(line);
    for (const [type, media] of Object.entries(answer.content || {})) {
      if (media.schema) details.append(block(`${status} ${type}`, resolve(spec, media.schema)));
    }
  }
  return details;
}

async function render() {
  const spec = await (await fetch("../openapi.json")).json();
  document.getElementById("title").textContent = `${spec.info.title} API ${spec.info.version}`;
  document.getElementById("description").textContent = spec.info.description;
  const paths = document.getElementById("paths");
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) paths.append(operation(spec, path, method, op));
  }
}

render().catch((error) => {
  document.getElementById("description").textContent = `Could not load /openapi.json: ${error}`;
});
