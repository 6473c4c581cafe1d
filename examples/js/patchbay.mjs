// A tiny patchbay client for Node.js, built only on patchbay's documented wire
// contract (events/ and schemas/ in the repository):
//
//   * every message is a CloudEvent 1.0, sent in the structured content mode
//     (the whole event as a JSON body, Content-Type application/cloudevents+json);
//   * a command of type io.patchbay.<name> is sent as a NATS request on
//     patchbay.req.<name>; the reply is io.patchbay.command.succeeded (data: what the
//     command did) or io.patchbay.command.failed (data.error: {code, message, field});
//   * a worker's offers are published on patchbay.events.offer.<workerId>.<jobId>.<verb>;
//   * a job's events on patchbay.events.job.<queueId>.<jobId>.<verb>.
//
// It depends on nothing but the `nats` package.

import { randomUUID } from "node:crypto";
import { headers } from "nats";

/** Every patchbay CloudEvent type starts with this. */
export const TYPE_PREFIX = "io.patchbay.";
/** The CloudEvent source of the events this client sends. */
export const SOURCE = "/examples/js";
/** Content type of a structured CloudEvent. */
export const CLOUDEVENTS_JSON = "application/cloudevents+json";
/** How long a request waits for the router's answer, in milliseconds. */
export const REQUEST_TIMEOUT_MS = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** fullType turns "job.created" or "io.patchbay.job.created" into the full type. */
function fullType(type) {
  return type.startsWith(TYPE_PREFIX) ? type : TYPE_PREFIX + type;
}

/**
 * cloudEvent builds a structured CloudEvent 1.0 with JSON data.
 * @param {string} type e.g. "io.patchbay.job.created" (the prefix may be left out)
 * @param {object} data the payload
 */
export function cloudEvent(type, data) {
  return {
    specversion: "1.0",
    id: randomUUID(),
    source: SOURCE,
    type: fullType(type),
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    data,
  };
}

/** decodeEvent parses a NATS message body as a structured CloudEvent. */
export function decodeEvent(msg) {
  const text = decoder.decode(msg.data);
  let ev;
  try {
    ev = JSON.parse(text);
  } catch (err) {
    throw new Error(`${msg.subject}: not a JSON CloudEvent: ${err.message}`);
  }
  if (ev === null || typeof ev !== "object" || ev.specversion !== "1.0" || typeof ev.type !== "string") {
    throw new Error(`${msg.subject}: not a CloudEvent 1.0: ${text.slice(0, 200)}`);
  }
  return ev;
}

/**
 * PatchbayError is a command the router refused (io.patchbay.command.failed).
 * code is one of the wire codes (invalid_data, unknown_job, offer_expired, ...);
 * field names the offending property when there is one.
 */
export class PatchbayError extends Error {
  constructor(type, error) {
    const e = error ?? {};
    super(`${type} refused: ${e.code ?? "unknown"}${e.field ? ` (${e.field})` : ""}: ${e.message ?? ""}`);
    this.name = "PatchbayError";
    this.type = type;
    this.code = e.code;
    this.field = e.field;
    this.detail = e.message;
  }
}

/**
 * request sends a command and returns the data of the router's
 * io.patchbay.command.succeeded reply, or throws a PatchbayError (with .code and
 * .field) when the reply is io.patchbay.command.failed.
 * @param {import("nats").NatsConnection} nc
 * @param {string} type e.g. "io.patchbay.offer.accept" (the prefix may be left out)
 * @param {object} data the command's payload
 */
export async function request(nc, type, data, { timeout = REQUEST_TIMEOUT_MS } = {}) {
  const ev = cloudEvent(type, data);
  const subject = "patchbay.req." + ev.type.slice(TYPE_PREFIX.length);
  const h = headers();
  h.set("Content-Type", CLOUDEVENTS_JSON);
  let msg;
  try {
    msg = await nc.request(subject, encoder.encode(JSON.stringify(ev)), { timeout, headers: h });
  } catch (err) {
    if (err?.code === "503") {
      throw new Error(`${subject}: no responders (is the patchbay router running on this NATS server?)`, { cause: err });
    }
    if (err?.code === "TIMEOUT") {
      throw new Error(`${subject}: no answer from the router within ${timeout} ms`, { cause: err });
    }
    throw err;
  }
  const reply = decodeEvent(msg);
  switch (reply.type) {
    case TYPE_PREFIX + "command.succeeded":
      return reply.data;
    case TYPE_PREFIX + "command.failed":
      throw new PatchbayError(ev.type, reply.data?.error);
    default:
      throw new Error(`${subject}: unexpected reply type ${reply.type}`);
  }
}

/** createJob sends io.patchbay.job.created: {queueId, channelId, jobId?, priority?, labels?, requestedWorkerSelectors?, ...}. */
export const createJob = (nc, job) => request(nc, "job.created", job);

/** registerWorker sends io.patchbay.worker.register: {workerId, queues, totalCapacity, channels, labels?, ...}. */
export const registerWorker = (nc, worker) => request(nc, "worker.register", worker);

/** deregisterWorker sends io.patchbay.worker.deregister. */
export const deregisterWorker = (nc, workerId) => request(nc, "worker.deregister", { workerId });

/** accept sends io.patchbay.offer.accept; the reply carries the assignmentId. */
export const accept = (nc, { jobId, offerId, workerId }) =>
  request(nc, "offer.accept", { jobId, offerId, workerId });

/** decline sends io.patchbay.offer.decline; retryOfferAt (Date or RFC 3339 string) is optional. */
export const decline = (nc, { jobId, offerId, workerId, retryOfferAt }) =>
  request(nc, "offer.decline", {
    jobId,
    offerId,
    workerId,
    ...(retryOfferAt ? { retryOfferAt: new Date(retryOfferAt).toISOString() } : {}),
  });

/** complete sends io.patchbay.job.complete. */
export const complete = (nc, { jobId, assignmentId, note }) =>
  request(nc, "job.complete", { jobId, assignmentId, ...(note ? { note } : {}) });

/** close sends io.patchbay.job.close; dispositionCode is the outcome in your own words. */
export const close = (nc, { jobId, assignmentId, dispositionCode, note }) =>
  request(nc, "job.close", {
    jobId,
    assignmentId,
    ...(dispositionCode ? { dispositionCode } : {}),
    ...(note ? { note } : {}),
  });

/**
 * subscribe yields the CloudEvents published on a subject (wildcards allowed).
 * The subscription is made at once (before the first next()), so nothing published
 * after this call returns is missed. Call .unsubscribe() on the result, or break out
 * of the loop, to stop.
 */
export function subscribe(nc, subject) {
  const sub = nc.subscribe(subject);
  async function* events() {
    try {
      for await (const msg of sub) {
        yield decodeEvent(msg);
      }
    } finally {
      sub.unsubscribe();
    }
  }
  const it = events();
  it.unsubscribe = () => sub.unsubscribe();
  it.subject = subject;
  return it;
}

/**
 * subscribeOffers yields every offer event of one worker: io.patchbay.offer.issued
 * (data {offerId, jobId, workerId, queueId, channelId, expiresAt, job}), and
 * .accepted, .declined, .expired, .revoked.
 */
export const subscribeOffers = (nc, workerId) => subscribe(nc, `patchbay.events.offer.${workerId}.>`);

/**
 * subscribeJob yields the events of one job (verb "closed", "assigned", ... or ">"
 * for all of them).
 */
export const subscribeJob = (nc, queueId, jobId, verb = ">") =>
  subscribe(nc, `patchbay.events.job.${queueId}.${jobId}.${verb}`);
