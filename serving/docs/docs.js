// The API page: /openapi.json rendered for a developer. Each endpoint with its fields in
// words, a curl line and a sample response (the schemas' `examples`), every type in full,
// and a form that tries POST /predict with a drawing (the page's own pad) or a file. No
// framework and no other host: it runs under the server's CSP, and weighs a few kilobytes.

import { Pad, pngBlob, drawingCanvas } from "../js/pad.js";

/** The server's address, with any path prefix, as curl lines need it. */
const BASE = new URL("..", location.href).href.replace(/\/$/, "");

/** A new element with text (backticks become <code>) and a class. */
function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.append(...inline(text));
  if (className) node.className = className;
  return node;
}

/** Text with `code` spans, as nodes: the document's descriptions use backticks. */
function inline(text) {
  return String(text)
    .split("`")
    .map((piece, i) => (i % 2 ? Object.assign(document.createElement("code"), { textContent: piece }) : piece));
}

function pre(text) {
  const block = document.createElement("pre");
  block.append(Object.assign(document.createElement("code"), { textContent: text }));
  return block;
}

const NUMBER = String.raw`-?[\d.]+(?:e[-+]?\d+)?`;
const NUMBER_ARRAY = new RegExp(String.raw`\[\s+(${NUMBER}(?:,\s+${NUMBER})*)\s+\]`, "g");
const NUMBER_OBJECT = new RegExp(String.raw`\{\s+("\w+": ${NUMBER}(?:,\s+"\w+": ${NUMBER})*)\s+\}`, "g");

/** JSON with arrays and objects of numbers on one line each: a 28x28 input, or the ten
 * probabilities, stay readable. */
function pretty(value) {
  const line = (open, close) => (_, inner) => `${open}${inner.split(/,\s+/).join(", ")}${close}`;
  return JSON.stringify(value, null, 2).replace(NUMBER_ARRAY, line("[", "]")).replace(NUMBER_OBJECT, line("{", "}"));
}

const refName = (schema) => schema.$ref?.split("/").pop();

/** The document's named types, once loaded. */
let schemas = {};

/** A field's description, or that of the type it names. */
const describe = (property) => property.description ?? schemas[refName(property)]?.description ?? "";

/** A schema's type in words, with links to named types. */
function typeOf(schema) {
  const span = document.createElement("span");
  const name = refName(schema);
  const options = schema.oneOf ?? schema.anyOf;
  if (name) {
    span.append(Object.assign(document.createElement("a"), { href: `#type-${name}`, textContent: name }));
  } else if (options) {
    options.forEach((option, i) => span.append(...(i ? [" or "] : []), typeOf(option)));
  } else if (schema.enum) {
    span.append(schema.enum.map((v) => JSON.stringify(v)).join(" | "));
  } else if (schema.type === "array") {
    span.append("array of ", schema.items ? typeOf(schema.items) : "anything");
  } else if (schema.format === "binary") {
    span.append("the file's bytes");
  } else {
    span.append([schema.type ?? "any"].flat().join(" or "));
  }
  return span;
}

function table(headings, rows) {
  const node = document.createElement("table");
  const head = node.createTHead().insertRow();
  for (const heading of headings) head.append(element("th", heading));
  const body = node.createTBody();
  for (const cells of rows) {
    const row = body.insertRow();
    for (const cell of cells) {
      const td = row.insertCell();
      td.append(...(cell instanceof Node ? [cell] : inline(cell ?? "")));
    }
  }
  return node;
}

/** What a multipart field without a description is: the file, or the JSON field of its name. */
function formField(name, property, json) {
  if (property.format === "binary") return "The image file, of any type the raw body takes.";
  return json?.properties?.[name] ? `As \`${name}\` in the JSON body.` : "";
}

/** The fields of an object schema: name (bold when required), type, description. `json`:
 * the JSON body's type, whose words a multipart form's fields share. */
function fields(schema, json = null) {
  const required = new Set(schema.required ?? []);
  return table(
    ["Field", "Type", "Description"],
    Object.entries(schema.properties ?? {}).map(([name, property]) => [
      element(required.has(name) ? "strong" : "span", name),
      typeOf(property),
      describe(property) || formField(name, property, json),
    ]),
  );
}

/** One named type in full: what it is, what it builds on, its fields and an example. */
function typeSection(name, schema) {
  const section = element("section", undefined, "type");
  section.id = `type-${name}`;
  section.append(element("h3", name));
  if (schema.description) section.append(element("p", schema.description));
  for (const base of schema.allOf ?? []) {
    const line = element("p", "Every field of ");
    line.append(typeOf(base), ", and:");
    section.append(line);
  }
  if (schema.oneOf && !schema.properties) {
    const line = element("p", "One of: ");
    line.append(typeOf(schema));
    section.append(line);
  }
  if (schema.properties) section.append(fields(schema));
  if (schema.examples) section.append(element("p", "Example:", "label"), pre(pretty(schema.examples[0])));
  return section;
}

/** A type's example, following a reference or the first of several options. */
function example(spec, schema) {
  const name = refName(schema ?? {});
  if (name) return spec.components.schemas[name].examples?.[0];
  if (schema?.oneOf) return example(spec, schema.oneOf[0]);
  return schema?.examples?.[0];
}

const quote = (text) => `'${text.replaceAll("'", "'\\''")}'`;

/** curl lines for an operation: JSON from its example, and a file where it takes images. */
function curlLines(spec, path, method, op) {
  const auth = op.security ? " -H 'Authorization: Bearer $FEEDBACK_TOKEN'" : "";
  const url = `${BASE}${path}`;
  if (!op.requestBody) return [`curl -s${auth} ${url}`];
  const content = op.requestBody.content;
  const lines = [];
  const body = example(spec, content["application/json"]?.schema);
  if (body) {
    lines.push(`curl -s${auth} -X ${method.toUpperCase()} ${url} \\\n  -H 'Content-Type: application/json' \\\n  -d ${quote(JSON.stringify(body))}`);
  }
  if (content["image/png"]) {
    lines.push(`curl -s ${url}'?mode=digit' \\\n  -H 'Content-Type: image/png' --data-binary @digit.png`);
  }
  if (content["multipart/form-data"]) {
    const extra = path === "/feedback" ? " -F label=7 -F model_version=20261125.225646" : "";
    lines.push(`curl -s ${url} -F image=@digit.png${extra}`);
  }
  return lines;
}

/** Sample answers of the first success response: each option's example. */
function samples(spec, op) {
  const [status, answer] = Object.entries(op.responses).find(([code]) => code.startsWith("2")) ?? [];
  const schema = answer?.content?.["application/json"]?.schema;
  if (!schema) return [];
  const options = schema.oneOf ?? [schema];
  return options
    .map((option) => [refName(option), example(spec, option)])
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => [`${status} ${name ?? ""}`.trim(), value]);
}

function operation(spec, path, method, op) {
  const section = element("section", undefined, "operation");
  section.id = `op-${method}-${path.replace(/\W+/g, "-")}`;
  const title = element("h3");
  title.append(element("span", method.toUpperCase(), `method method-${method}`), " ", element("code", path));
  section.append(title, element("p", op.summary ?? ""));
  if (op.description) section.append(element("p", op.description));
  if (op.security) section.append(element("p", "Needs `Authorization: Bearer <FEEDBACK_TOKEN>`."));
  if (op.parameters?.length) {
    section.append(
      element("h4", "Parameters"),
      table(
        ["Name", "In", "Type", "Description"],
        op.parameters.map((p) => [element("code", p.name), p.in, typeOf(p.schema ?? {}), p.description ?? ""]),
      ),
    );
  }
  if (op.requestBody) {
    const json = op.requestBody.content["application/json"]?.schema ?? {};
    const jsonType = schemas[refName(json.oneOf?.[0] ?? json)];
    section.append(
      element("h4", "Request body"),
      table(
        ["Content-Type", "Body"],
        Object.entries(op.requestBody.content).map(([type, media]) => [
          element("code", type),
          media.schema.properties ? fields(media.schema, jsonType) : typeOf(media.schema),
        ]),
      ),
    );
  }
  section.append(element("h4", "Example"), ...curlLines(spec, path, method, op).map(pre));
  for (const [label, value] of samples(spec, op)) {
    section.append(element("p", `Sample response: ${label}`, "label"), pre(pretty(value)));
  }
  section.append(
    element("h4", "Responses"),
    table(
      ["Status", "Meaning", "Body"],
      Object.entries(op.responses).map(([status, answer]) => {
        const media = Object.entries(answer.content ?? {});
        const body = document.createElement("span");
        media.forEach(([type, { schema }], i) => {
          body.append(...(i ? ["; "] : []), schema?.$ref || schema?.oneOf ? typeOf(schema) : type);
        });
        return [element("strong", status), answer.description ?? "", body];
      }),
    ),
  );
  return section;
}

function link(href, text) {
  const item = document.createElement("li");
  item.append(Object.assign(document.createElement("a"), { href, textContent: text }));
  return item;
}

async function render() {
  const response = await fetch("../openapi.json");
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  const spec = await response.json();
  schemas = spec.components.schemas;
  document.getElementById("title").textContent = `${spec.info.title} API ${spec.info.version}`;
  document.getElementById("description").replaceChildren(...inline(spec.info.description));
  const paths = document.getElementById("paths");
  const toc = document.getElementById("toc-paths");
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const section = operation(spec, path, method, op);
      paths.append(section);
      toc.append(link(`#${section.id}`, `${method.toUpperCase()} ${path}`));
    }
  }
  const types = document.getElementById("types");
  for (const [name, schema] of Object.entries(spec.components.schemas)) {
    types.append(typeSection(name, schema));
    document.getElementById("toc-types").append(link(`#type-${name}`, name));
  }
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

/** The "Try POST /predict" form: a drawing or a file, sent as its own bytes. */
function tryIt() {
  const form = document.getElementById("try-form");
  const canvas = document.getElementById("try-pad");
  const file = document.getElementById("try-file");
  const pad = new Pad(canvas);
  const mode = () => form.elements.mode.value;
  const error = document.getElementById("try-error");
  document.getElementById("try-clear").addEventListener("click", () => pad.clear());
  form.elements.mode.forEach((radio) =>
    radio.addEventListener("change", () => pad.setAspect(mode() === "number" ? 3 : 1)),
  );
  pad.addEventListener("strokestart", () => {
    file.value = ""; // the drawing is what will be sent now
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen && pad.isEmpty) {
      error.textContent = "Draw something on the pad, or choose an image file, first.";
      return;
    }
    error.textContent = "";
    const body = chosen ?? (await pngBlob(drawingCanvas(pad.strokes, pad.aspect)));
    const type = chosen ? chosen.type || "application/octet-stream" : "image/png";
    const query = `mode=${mode()}&include_input=${document.getElementById("try-input").checked}`;
    const name = chosen ? chosen.name : "drawing.png";
    document.getElementById("try-curl").firstChild.textContent =
      `curl -s '${BASE}/predict?${query}' \\\n  -H 'Content-Type: ${type}' --data-binary @${name}`;
    const status = document.getElementById("try-status");
    const output = document.getElementById("try-response").firstChild;
    status.textContent = "(sending…)";
    try {
      const answer = await fetch(`../predict?${query}`, { method: "POST", headers: { "Content-Type": type }, body });
      status.textContent = `${answer.status} ${answer.statusText}`;
      output.textContent = pretty(await answer.json());
    } catch (failure) {
      status.textContent = "";
      output.textContent = `No answer: ${failure.message}`;
    }
  });
}

tryIt();
render().catch((failure) => {
  document.getElementById("description").textContent = `Could not load /openapi.json: ${failure.message}.`;
});
