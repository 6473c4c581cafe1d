package patchbay

// Inbox prefixes of the identities `patchbay creds` issues. A client connected with
// such credentials may subscribe only under its own prefix, so nobody reads another
// identity's replies; it must make its request inboxes there:
//
//	nats.Connect(url, nats.UserCredentials("w1.creds"),
//		nats.CustomInboxPrefix(patchbay.WorkerInboxPrefix("w1")))
//
// Every prefix starts with "_INBOX.", where the router answers by default.

// WorkerInboxPrefix is the inbox prefix of worker workerID: "_INBOX.w.<workerId>".
func WorkerInboxPrefix(workerID string) string { return "_INBOX.w." + workerID }

// ProducerInboxPrefix is the inbox prefix of producer name: "_INBOX.p.<name>".
func ProducerInboxPrefix(name string) string { return "_INBOX.p." + name }

// AdminInboxPrefix is the inbox prefix of admin name: "_INBOX.a.<name>".
func AdminInboxPrefix(name string) string { return "_INBOX.a." + name }
