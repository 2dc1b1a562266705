// REST calls (docs/protocol.md, REST). Every call resolves to an `ApiResult`; it never
// throws for HTTP errors or a lost network, so views can show the message inline.

/** @typedef {import('./types.js').RunState} RunState */

/**
 * @typedef {object} ApiResult
 * @property {boolean} ok        the server accepted the request (2xx and, when present, body.ok)
 * @property {number} status     HTTP status; 0 when the server could not be reached
 * @property {string} message    the server's message (its `detail` on errors), for people
 * @property {any} body          the parsed JSON body, or null
 * @property {number} [retryAfter] seconds to wait before trying again (a 429's Retry-After)
 */

/**
 * One request. A FormData body goes as multipart (the browser sets its boundary); any other body
 * goes as JSON.
 * @param {string} method
 * @param {string} path
 * @param {any} [body]  JSON-able value, or FormData
 * @returns {Promise<ApiResult>}
 */
export async function request(method, path, body) {
  /** @type {RequestInit} */
  const init = { method, headers: { Accept: "application/json" } };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    return { ok: false, status: 0, message: "The server could not be reached.", body: null };
  }
  let reply = null;
  try {
    reply = await response.json();
  } catch {
    reply = null; // 204, or not JSON
  }
  const ok = response.ok && !(reply && reply.ok === false);
  const result = { ok, status: response.status, message: messageOf(reply, response), body: reply };
  const retryAfter = Number(response.headers.get("Retry-After"));
  return retryAfter > 0 ? { ...result, retryAfter } : result;
}

/**
 * A file as a multipart form with one field, `file`.
 * @param {Blob} file
 * @param {string} fallbackName  when the Blob has no name (a pasted image)
 */
function fileForm(file, fallbackName) {
  const form = new FormData();
  form.append("file", file, /** @type {any} */ (file).name || fallbackName);
  return form;
}

/**
 * Classify an image file (POST /api/classify, multipart). Resolves to an ApiResult whose body is
 * the ClassifyResult (docs/protocol.md), or carries the server's reason in `message`.
 * @param {Blob} file
 * @param {{top?: number, neighbours?: number, parts?: string[]|null}} [options]  parts: which of
 *   gradcam, gradient, frame, neighbours to compute besides the prediction (null: all of them)
 * @returns {Promise<ApiResult>}
 */
export const classify = (file, { top = 10, neighbours = 8, parts = null } = {}) =>
  request("POST", `/api/classify?top=${top}&neighbours=${neighbours}` + (parts ? `&parts=${parts.join(",")}` : ""),
    fileForm(file, "pasted-image"));

/**
 * Parts an upload's answer left out (GET /api/classify/{id}): the same ClassifyResult, with these
 * parts; 404 once the server no longer keeps the upload (send the file again then).
 * @param {string} id  the answer's `id`
 * @param {string[]} parts
 * @param {{top?: number, neighbours?: number}} [options]
 * @returns {Promise<ApiResult>}
 */
export const classifyRest = (id, parts, { top = 10, neighbours = 8 } = {}) =>
  request("GET", `/api/classify/${encodeURIComponent(id)}?top=${top}&neighbours=${neighbours}&parts=${parts.join(",")}`);

/** The most helpful text in a reply: `message`, then FastAPI's `detail` (a string or a list). */
function messageOf(body, response) {
  if (body && typeof body.message === "string" && body.message) return body.message;
  if (body && body.detail !== undefined) {
    const detail = body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      // pydantic validation errors: [{loc: ["body", "lr"], msg: "..."}]
      return detail.map((d) => {
        const where = Array.isArray(d.loc) ? d.loc.filter((x) => x !== "body").join(".") : "";
        return where ? `${where}: ${d.msg}` : String(d.msg ?? JSON.stringify(d));
      }).join("; ");
    }
    return JSON.stringify(detail);
  }
  return response.ok ? "" : `${response.status} ${response.statusText}`.trim();
}

export const pause = () => request("POST", "/api/run/pause");
export const resume = () => request("POST", "/api/run/resume");
export const step = () => request("POST", "/api/run/step");
export const reset = () => request("POST", "/api/run/reset");

/** @param {Record<string, number|string>} changes  lr, momentum, weight_decay, batch_size, optimizer */
export const setHyperparams = (changes) => request("PATCH", "/api/run/hyperparams", changes);

/** @param {string} name  a preset's name */
export const setModel = (name) => request("POST", "/api/run/model", { name });

/** @param {number} index  a test image */
export const setProbe = (index) => request("POST", "/api/run/probe", { index });

export const listModels = () => request("GET", "/api/models");

/** @param {number} index */
export const testImageUrl = (index) => `/api/images/test/${index}.png`;

/** @param {number} index */
export const trainImageUrl = (index) => `/api/images/train/${index}.png`;

/** The test images of one confusion-matrix cell. @param {number} truth @param {number} predicted */
export const confusionCell = (truth, predicted) => request("GET", `/api/evaluation/confusion/${truth}/${predicted}`);

/**
 * The runs kept on the server, the most recently active first: body `{runs: [RunSummary], problem}`.
 * @returns {Promise<ApiResult>}
 */
export const listRuns = () => request("GET", "/api/runs");

/**
 * A run's curves: body `{run: RunSummary, train: [MetricPoint], test: [EvalPoint]}`.
 * @param {string} id  @param {number} [points]  training points, at most (thinned evenly)
 */
export const runHistory = (id, points = 500) =>
  request("GET", `/api/runs/${encodeURIComponent(id)}/history?points=${points}`);

/** Go on with a kept run from its checkpoint; it becomes the live run. @param {string} id */
export const resumeRun = (id) => request("POST", `/api/runs/${encodeURIComponent(id)}/resume`);

/** Forget a run (not the live one): 204. @param {string} id */
export const deleteRun = (id) => request("DELETE", `/api/runs/${encodeURIComponent(id)}`);

/**
 * Upload a checkpoint file: it becomes a new run, and the live one.
 * @param {Blob} file  @param {string} name  the run's name in the list
 */
export const uploadCheckpoint = (file, name) =>
  request("POST", `/api/checkpoint?name=${encodeURIComponent(name)}`, fileForm(file, "checkpoint.pt"));
