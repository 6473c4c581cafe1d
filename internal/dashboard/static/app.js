// patchbay dashboard: read-only. Every value is written with textContent, never as
// HTML: job labels, notes and ids are whatever a producer sent.
"use strict";

const STATUSES = ["queued", "offered", "assigned", "completed", "closed", "cancelled", "rejected",
  "classificationFailed", "suspended", "scheduled", "waitingForActivation", "pendingClassification"];

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function statusBadge(status) {
  const s = el("span", status || "", "status");
  if (STATUSES.includes(status)) s.classList.add(status);
  return s;
}

function seconds(s) {
  if (s === undefined || s === null) return "–";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function clock(t) {
  if (!t) return "";
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return d.toLocaleTimeString(undefined, { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

async function getJSON(url) {
  const r = await fetch(url, { headers: { "Accept": "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(body.error || r.statusText);
    err.status = r.status;
    throw err;
  }
  return body;
}

function fill(table, rows) {
  const tbody = document.querySelector(table + " tbody");
  tbody.replaceChildren(...rows);
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined || c === null ? "" : String(c);
    tr.appendChild(td);
  }
  return tr;
}

function note(id, text) { document.getElementById(id).textContent = text || ""; }

function jobLink(id) {
  const a = el("a", id);
  a.href = "/jobs/" + encodeURIComponent(id);
  return a;
}

// --- overview ---

async function loadQueues() {
  try {
    const body = await getJSON("/api/queues");
    fill("#queues", (body.queues || []).map(q => {
      const ewt = (q.estimatedWait || []).map(p => "p" + p.priority + ": " + seconds(p.estimatedWaitSeconds)).join(", ");
      const tr = row([q.queueId, q.length, seconds(q.longestWaitSeconds), ewt || "–",
        q.availableWorkers, q.availableWorkers - q.idleWorkers, q.idleWorkers, (q.assignmentsPerMinute || 0).toFixed(1)]);
      tr.dataset.queue = q.queueId;
      return tr;
    }));
    note("queues-note", body.next ? "more queues than shown" : "");
  } catch (e) { note("queues-note", "queues: " + e.message); }
}

async function loadWorkers() {
  try {
    const body = await getJSON("/api/workers");
    fill("#workers", (body.workers || []).map(s => {
      const w = s.worker || {};
      const load = (w.usedCapacity || 0) + "/" + (w.totalCapacity || 0);
      const tr = row([w.workerId, w.activity || (w.availableForOffers ? "available" : "offline"), w.presence || "–",
        (w.queues || []).join(", "), load, s.outstandingOffers, s.assignedJobs]);
      tr.dataset.worker = w.workerId;
      return tr;
    }));
    note("workers-note", body.next ? "more workers than shown" : "");
  } catch (e) { note("workers-note", "workers: " + e.message); }
}

function jobRow(info) {
  const j = info.job || {};
  const tr = row([jobLink(j.jobId), j.queueId, j.channelId, j.priority, statusBadge(j.status),
    j.assignment ? j.assignment.workerId : "", clock(j.createdAt)]);
  tr.dataset.job = j.jobId;
  tr.children[4].classList.add("status-cell");
  return tr;
}

async function loadJobs() {
  try {
    const body = await getJSON("/api/jobs/recent");
    fill("#jobs", (body.jobs || []).map(jobRow));
    note("jobs-note", (body.jobs || []).length ? "" : "no job heard of yet");
  } catch (e) { note("jobs-note", "jobs: " + e.message); }
}

// patchJob shows a job event's status at once, before the table is read again.
function patchJob(n) {
  for (const tr of document.querySelectorAll("#jobs tbody tr")) {
    if (tr.dataset.job === n.jobId) {
      tr.children[4].replaceChildren(statusBadge(n.status));
      return;
    }
  }
}

// --- job page ---

let jobID = null;

function eventWorker(ev) {
  const d = ev.data || {};
  if (d.workerId) return d.workerId;
  if (d.assignment && d.assignment.workerId) return d.assignment.workerId;
  return "";
}

function eventDetails(ev) {
  const d = ev.data || {};
  const parts = [];
  const add = (k, v) => { if (v !== undefined && v !== null && v !== "") parts.push(k + "=" + v); };
  if (ev.type.startsWith("io.patchbay.job.")) {
    add("status", d.status); add("queue", d.queueId); add("priority", d.priority);
    add("disposition", d.dispositionCode); add("note", d.cancelNote);
    if (d.reason) add("reason", d.reason.code);
  } else {
    add("offer", d.offerId); add("reason", d.reason);
    if (ev.type.endsWith(".issued")) add("expires", clock(d.expiresAt));
  }
  return parts.join(" ");
}

async function loadJob() {
  document.getElementById("job-id").textContent = jobID;
  try {
    const info = await getJSON("/api/jobs/" + encodeURIComponent(jobID));
    const j = info.job;
    document.getElementById("job-status").replaceChildren(statusBadge(j.status));
    const facts = [["queue", j.queueId], ["channel", j.channelId], ["priority", j.priority],
      ["created", j.createdAt], ["worker", j.assignment ? j.assignment.workerId : ""],
      ["position", info.position], ["estimated wait", info.estimatedWaitSeconds !== undefined ? seconds(info.estimatedWaitSeconds) : ""],
      ["disposition", j.dispositionCode],
      ["labels", j.labels ? Object.entries(j.labels).map(([k, v]) => k + "=" + v).join(", ") : ""]];
    const dl = document.getElementById("job-facts");
    dl.replaceChildren();
    for (const [k, v] of facts) {
      if (v === undefined || v === null || v === "") continue;
      dl.appendChild(el("dt", k));
      dl.appendChild(el("dd", v));
    }
  } catch (e) {
    document.getElementById("job-status").replaceChildren();
    document.getElementById("job-facts").replaceChildren(el("dt", "state"),
      el("dd", e.status === 404 ? "the router no longer holds this job (or never did); its stored events follow" : e.message));
  }
  try {
    const h = await getJSON("/api/jobs/" + encodeURIComponent(jobID) + "/history");
    fill("#timeline", h.events.map(ev => {
      const tr = row([clock(ev.time), ev.type.replace("io.patchbay.", ""), eventWorker(ev), eventDetails(ev)]);
      tr.dataset.type = ev.type.replace("io.patchbay.", "");
      tr.children[3].className = "details";
      return tr;
    }));
    note("timeline-note", h.truncated ? "only the first " + h.events.length + " events are shown" : (h.events.length ? "" : "no stored events"));
  } catch (e) { note("timeline-note", "history: " + e.message); }
}

// --- live updates ---

const pending = new Set();
let timer = null;

function refresh(what) {
  for (const w of what) pending.add(w);
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    const todo = [...pending];
    pending.clear();
    for (const w of todo) ({ queues: loadQueues, workers: loadWorkers, jobs: loadJobs, job: loadJob })[w]();
  }, 200);
}

function onNotice(n) {
  if (n.type === "resync") { // the dashboard follows the events again after a pause
    refresh(jobID ? ["job"] : ["queues", "workers", "jobs"]);
    return;
  }
  if (jobID) {
    if (n.jobId === jobID) refresh(["job"]);
    return;
  }
  if (n.type.startsWith("job.")) { patchJob(n); refresh(["jobs", "queues"]); }
  else if (n.type.startsWith("offer.")) refresh(["workers", "queues", "jobs"]);
  else if (n.type.startsWith("worker.")) refresh(["workers", "queues"]);
}

function follow() {
  const live = document.getElementById("live");
  const es = new EventSource("/api/events");
  let broken = false;
  es.onopen = () => {
    live.textContent = "live"; live.className = "live on";
    if (broken) refresh(jobID ? ["job"] : ["queues", "workers", "jobs"]);
    broken = false;
  };
  es.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; broken = true; };
  es.onmessage = m => { try { onNotice(JSON.parse(m.data)); } catch (e) { /* not a notice */ } };
}

function start() {
  const m = location.pathname.match(/^\/jobs\/([^/]+)$/);
  if (m) {
    jobID = decodeURIComponent(m[1]);
    document.title = "patchbay · job " + jobID;
    document.getElementById("jobpage").hidden = false;
    loadJob();
  } else {
    document.getElementById("overview").hidden = false;
    loadQueues(); loadWorkers(); loadJobs();
  }
  follow();
}

start();
