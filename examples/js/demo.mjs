// demo.mjs: one job's whole life, end to end, from Node.js.
//
// It plays both sides: a worker "js-worker-<random>" that registers in a queue, and a
// producer that creates one job in that queue. The worker receives the offer, accepts
// it, completes and closes the job, and the demo waits for the job's
// io.patchbay.job.closed event before it prints
//
//   OK job <jobId> closed Resolved
//
// and exits 0. Any error, or 30 s without finishing, exits 1.
//
// Environment: NATS_URL (default nats://127.0.0.1:4222), QUEUE (default a random
// "js-<random>", so runs in parallel do not take each other's jobs).

import { randomBytes } from "node:crypto";
import { connect } from "nats";

import {
  accept,
  close,
  complete,
  createJob,
  deregisterWorker,
  registerWorker,
  subscribeJob,
  subscribeOffers,
} from "./patchbay.mjs";

const TIMEOUT_MS = 30_000;
const DISPOSITION = "Resolved";

const natsURL = process.env.NATS_URL || "nats://127.0.0.1:4222";
const rand = () => randomBytes(4).toString("hex");
const queueId = process.env.QUEUE || `js-${rand()}`;
const workerId = `js-worker-${rand()}`;
const jobId = `js-job-${rand()}`;

/** next returns the first event from it that matches, failing on one that stops. */
async function next(it, what, match, stop = () => undefined) {
  for await (const ev of it) {
    if (match(ev)) return ev;
    const why = stop(ev);
    if (why) throw new Error(`while waiting for ${what}: ${why}`);
  }
  throw new Error(`subscription ended while waiting for ${what}`);
}

async function main(state) {
  state.nc = await connect({ servers: natsURL, name: "patchbay-example-js" }).catch((err) => {
    throw new Error(`cannot connect to NATS at ${natsURL}: ${err.message}`);
  });
  const nc = state.nc;
  console.log(`connected to ${natsURL}; worker ${workerId}, queue ${queueId}`);

  // Subscribe first, so no offer or event is missed.
  const offers = subscribeOffers(nc, workerId);

  const reg = await registerWorker(nc, {
    workerId,
    queues: [queueId],
    totalCapacity: 1,
    channels: [{ channelId: "voice", capacityCostPerJob: 1, maxNumberOfJobs: 1 }],
    labels: { language: "en" },
  });
  state.registered = true;
  console.log(`registered worker ${reg.workerId ?? workerId} (${reg.status ?? "ok"})`);

  const closed = subscribeJob(nc, queueId, jobId, "closed");
  await nc.flush(); // the server has both subscriptions before the job exists

  const created = await createJob(nc, {
    jobId,
    queueId,
    channelId: "voice",
    labels: { language: "en" },
  });
  console.log(`created job ${created.jobId} (${created.status})`);

  const offer = await next(
    offers,
    `an offer for job ${jobId}`,
    (ev) => ev.type === "io.patchbay.offer.issued" && ev.data?.jobId === jobId,
    (ev) => (ev.data?.jobId === jobId ? `got ${ev.type} (${ev.data?.reason ?? ev.data?.status})` : undefined),
  );
  const { offerId, expiresAt } = offer.data;
  console.log(`offer ${offerId} for job ${jobId}, expires ${expiresAt}`);

  const accepted = await accept(nc, { jobId, offerId, workerId });
  const { assignmentId } = accepted;
  if (!assignmentId) throw new Error(`accept reply has no assignmentId: ${JSON.stringify(accepted)}`);
  console.log(`accepted: assignment ${assignmentId}`);

  const completed = await complete(nc, { jobId, assignmentId });
  console.log(`completed job ${jobId} (${completed.status})`);

  const closeReply = await close(nc, { jobId, assignmentId, dispositionCode: DISPOSITION });
  console.log(`close requested for job ${jobId} (${closeReply.status})`);

  const ev = await next(closed, `io.patchbay.job.closed for job ${jobId}`,
    (ev) => ev.type === "io.patchbay.job.closed" && ev.data?.jobId === jobId);
  console.log(`OK job ${ev.data.jobId} closed ${ev.data.dispositionCode}`);
  if (ev.data.dispositionCode !== DISPOSITION) {
    throw new Error(`job.closed carries dispositionCode ${JSON.stringify(ev.data.dispositionCode)}, want ${DISPOSITION}`);
  }

  offers.unsubscribe();
  closed.unsubscribe();
  await deregisterWorker(nc, workerId);
  state.registered = false;
  console.log(`deregistered worker ${workerId}`);
  await nc.drain();
}

const state = { nc: undefined, registered: false };
let timer;
const timeout = new Promise((_, reject) => {
  timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
});

try {
  await Promise.race([main(state), timeout]);
  clearTimeout(timer);
  process.exit(0);
} catch (err) {
  clearTimeout(timer);
  console.error(`FAIL: ${err.message}`);
  if (err.cause) console.error(`  cause: ${err.cause.message ?? err.cause}`);
  if (state.nc && !state.nc.isClosed()) {
    // Best effort: leave no registered worker behind.
    if (state.registered) {
      await Promise.race([deregisterWorker(state.nc, workerId).catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    }
    await state.nc.close().catch(() => {});
  }
  process.exit(1);
}
