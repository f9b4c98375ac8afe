// The reagents status page: stats, dead letters, a live tail of events and the graph,
// read from the server's API with the user's bearer token (from the URL fragment
// "#token=..." or the form; kept in sessionStorage, never put in a URL).
"use strict";

const TAIL_ROWS = 50;
const DEAD_LETTER_ROWS = 20;
const RECONNECT_MS = 3000;
const AGENT_FIELDS = [
  "received", "processed", "rate", "failed", "retried", "dead_lettered",
  "queue_depth", "in_flight", "latency_p50_ms", "latency_p99_ms",
];

const page = { token: null, previous: null, streams: null, timers: [] };
const $ = (id) => document.getElementById(id);

function readToken() {
  const match = /(?:^#|&)token=([^&]*)/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem("reagents-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  page.token = sessionStorage.getItem("reagents-token");
}

function authHeaders() {
  return page.token ? { Authorization: "Bearer " + page.token } : {};
}

function showMessage(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function problem(response) {
  try {
    const body = await response.json();
    return `${response.status}: ${typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)}`;
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

async function getJson(path) {
  const response = await fetch(path, { headers: authHeaders(), cache: "no-store" });
  if (!response.ok) {
    const error = new Error(`${path}: ${await problem(response)}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function number(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return digits ? value.toFixed(digits) : value.toLocaleString("en");
}

// -- stats -------------------------------------------------------------------------

function renderStats(snapshot) {
  $("pipeline").textContent = snapshot.pipeline;
  const before = page.previous;
  const seconds = before ? snapshot.monotonic - before.monotonic : 0;
  const rateOf = (now, then) => (seconds > 0 && then !== undefined ? (now - then) / seconds : null);
  $("in-flight").textContent = number(snapshot.in_flight);
  $("ingested").textContent = number(snapshot.bus.ingested);
  $("emitted").textContent = number(snapshot.bus.emitted);
  $("dead-count").textContent = number(snapshot.bus.dead_letters);
  $("rate").textContent = number(rateOf(snapshot.bus.ingested, before && before.bus.ingested), 1);
  const body = $("agents").tBodies[0];
  const names = Object.keys(snapshot.agents);
  if (!names.length) {
    body.replaceChildren();
    const row = body.insertRow();
    row.className = "empty";
    cell(row, "no agents").colSpan = AGENT_FIELDS.length + 1;
  }
  const rows = names.map((name) => {
    const stats = snapshot.agents[name];
    const old = before && before.agents[name];
    const row = document.createElement("tr");
    row.dataset.agent = name;
    cell(row, name);
    for (const field of AGENT_FIELDS) {
      let text;
      if (field === "rate") text = number(rateOf(stats.processed, old && old.processed), 1);
      else if (field.startsWith("latency")) text = number(stats[field], 2);
      else text = number(stats[field]);
      const bad = (field === "failed" || field === "dead_lettered") && stats[field] > 0;
      cell(row, text, bad ? "bad" : "").dataset.field = field;
    }
    return row;
  });
  if (rows.length) body.replaceChildren(...rows);
  page.previous = snapshot;
}

// -- dead letters --------------------------------------------------------------------

async function refreshDeadLetters() {
  const body = $("dead-letters").tBodies[0];
  try {
    const answer = await getJson(`dead-letters?limit=${DEAD_LETTER_ROWS}`);
    $("dead-sink").textContent = "kept in: " + answer.sink;
    if (!answer.letters.length) {
      const row = document.createElement("tr");
      row.className = "empty";
      cell(row, "none so far").colSpan = 5;
      body.replaceChildren(row);
      return;
    }
    body.replaceChildren(...answer.letters.map((letter) => {
      const row = document.createElement("tr");
      row.dataset.id = letter.dead_letter_id;
      row.title = letter.dead_letter_id;
      cell(row, new Date(letter.last_failure_at).toLocaleTimeString());
      cell(row, letter.stage);
      cell(row, letter.agent_id || "–");
      cell(row, letter.error_type, "bad");
      cell(row, letter.message, "message");
      return row;
    }));
  } catch (error) {
    $("dead-sink").textContent = error.message;
  }
}

// -- the live tail ---------------------------------------------------------------------

function addEvent(event) {
  const body = $("tail").tBodies[0];
  const row = document.createElement("tr");
  row.className = "flash";
  row.dataset.type = event.event_type;
  cell(row, new Date(event.timestamp).toLocaleTimeString());
  cell(row, event.event_type);
  cell(row, event.source_agent || "–");
  cell(row, String(event.priority));
  cell(row, event.event_id.slice(0, 8)).title = event.event_id;
  body.prepend(row);
  while (body.rows.length > TAIL_ROWS) body.deleteRow(-1);
}

// -- server-sent events over fetch (EventSource cannot send an Authorization header) -----

function dispatch(block, handlers) {
  let type = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  const handler = handlers[type];
  if (handler && data.length) handler(JSON.parse(data.join("\n")));
}

async function follow(path, handlers, signal, note) {
  while (!signal.aborted) {
    try {
      const response = await fetch(path, { headers: authHeaders(), signal, cache: "no-store" });
      if (!response.ok) {
        note(`${path}: ${await problem(response)}`);
        if (response.status === 401 || response.status === 403) return;
      } else {
        note("");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            dispatch(buffer.slice(0, end), handlers);
            buffer = buffer.slice(end + 2);
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      note(`${path}: ${error.message}; reconnecting`);
    }
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

// -- graph and readiness ---------------------------------------------------------------

async function loadGraph() {
  try {
    const response = await fetch("graph.svg", { headers: authHeaders(), cache: "no-store" });
    if (!response.ok) throw new Error(`graph.svg: ${await problem(response)}`);
    const image = $("graph");
    if (image.src) URL.revokeObjectURL(image.src);
    image.src = URL.createObjectURL(await response.blob());  // an <img>: no script runs
  } catch (error) {
    $("graph").alt = error.message;
  }
}

async function refreshReadiness() {
  const badge = $("status");
  try {
    const response = await fetch("readyz", { cache: "no-store" });
    const body = await response.json();
    badge.textContent = body.ready ? "ready" : "not ready: " + Object.entries(body.failing)
      .map(([name, reason]) => `${name} ${reason}`).join("; ");
    badge.className = "badge " + (body.ready ? "ready" : "down");
  } catch (error) {
    badge.textContent = "server unreachable";
    badge.className = "badge down";
  }
}

// -- start -------------------------------------------------------------------------------

function start() {
  if (page.streams) page.streams.abort();
  page.timers.forEach(clearInterval);
  page.previous = null;
  const streams = (page.streams = new AbortController());
  showMessage("");
  follow("stats/stream?interval=1", { stats: renderStats }, streams.signal, showMessage);
  const tailNote = (text) => { $("tail-note").textContent = text; };
  follow("events/stream", {
    event: addEvent,
    error: (body) => tailNote(body.reason + " (reconnecting)"),
  }, streams.signal, tailNote);
  refreshDeadLetters();
  loadGraph();
  refreshReadiness();
  page.timers = [setInterval(refreshDeadLetters, 2000), setInterval(refreshReadiness, 5000)];
}

document.addEventListener("DOMContentLoaded", () => {
  readToken();
  $("token-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const value = $("token").value.trim();
    if (value) sessionStorage.setItem("reagents-token", value);
    else sessionStorage.removeItem("reagents-token");
    $("token").value = "";
    page.token = value || null;
    start();
  });
  start();
});
