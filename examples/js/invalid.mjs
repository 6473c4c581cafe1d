// invalid.mjs: what a refused command looks like from JavaScript.
//
// It creates a job without a queueId. The router refuses it with
// io.patchbay.command.failed, which the client turns into a PatchbayError carrying the
// wire error code and the offending field; this prints
//
//   ERR invalid_data queueId
//
// and exits 0. It exits 1 if the job is (wrongly) accepted or anything else goes wrong.
//
// Environment: NATS_URL (default nats://127.0.0.1:4222).

import { connect } from "nats";

import { PatchbayError, createJob } from "./patchbay.mjs";

const natsURL = process.env.NATS_URL || "nats://127.0.0.1:4222";

let nc;
let code = 1;
const timer = setTimeout(() => {
  console.error("FAIL: timed out after 30 s");
  process.exit(1);
}, 30_000);
try {
  nc = await connect({ servers: natsURL, name: "patchbay-example-js-invalid" }).catch((err) => {
    throw new Error(`cannot connect to NATS at ${natsURL}: ${err.message}`);
  });
  const reply = await createJob(nc, { channelId: "voice", labels: { language: "en" } });
  console.error(`FAIL: a job without a queueId was accepted: ${JSON.stringify(reply)}`);
} catch (err) {
  if (err instanceof PatchbayError) {
    console.log(`ERR ${err.code} ${err.field}`);
    console.log(`(${err.detail})`);
    code = 0;
  } else {
    console.error(`FAIL: ${err.message}`);
  }
} finally {
  clearTimeout(timer);
  await nc?.drain().catch(() => {});
}
process.exit(code);
