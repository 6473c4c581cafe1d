// Package auth is patchbay's broker authorization: the operator, system account and
// patchbay account that `patchbay serve --auth` generates and keeps under
// <data-dir>/auth (Keys), and the user credentials `patchbay creds` issues per role,
// each allowed only the subjects its role needs (Permissions).
package auth

import (
	"fmt"
	"strings"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

// Role is what an identity may do on the broker.
type Role string

const (
	// RoleRouter is the router: every subject, the streams and the KV buckets.
	RoleRouter Role = "router"
	// RoleAdmin is a person operating patchbay with the client commands: every
	// command and query, and reading the event stream; not the KV buckets, not the
	// JetStream API beyond reading PATCHBAY_EVENTS, and not publishing events.
	RoleAdmin Role = "admin"
	// RoleProducer creates, cancels and updates jobs, queries jobs and queues, and
	// reads job events.
	RoleProducer Role = "producer"
	// RoleWorker is one worker: its own commands and heartbeats, its own offers and
	// worker events.
	RoleWorker Role = "worker"
)

// Roles lists every role.
func Roles() []Role { return []Role{RoleRouter, RoleAdmin, RoleProducer, RoleWorker} }

// AdminNameDefault names an admin when no name is given.
const AdminNameDefault = "admin"

// ParseRole reads a role and checks its name: a worker needs its worker id and a
// producer a name (both ids: letters, digits, '-' or '_'); an admin's name is
// optional (AdminNameDefault); the router takes none. It returns the name to use.
func ParseRole(role, name string) (Role, string, error) {
	r := Role(role)
	switch r {
	case RoleRouter:
		if name != "" {
			return "", "", fmt.Errorf("role router takes no name (got %q)", name)
		}
		return r, "", nil
	case RoleAdmin:
		if name == "" {
			name = AdminNameDefault
		}
	case RoleProducer, RoleWorker:
		if name == "" {
			what := "a name"
			if r == RoleWorker {
				what = "the worker id"
			}
			return "", "", fmt.Errorf("role %s needs %s", r, what)
		}
	default:
		return "", "", fmt.Errorf("role %q: want one of %s", role, strings.Join(roleNames(), ", "))
	}
	if !events.ValidID(name) {
		return "", "", fmt.Errorf("name %q: 1-128 letters, digits, '-' or '_', starting with a letter or digit", name)
	}
	return r, name, nil
}

func roleNames() []string {
	var out []string
	for _, r := range Roles() {
		out = append(out, string(r))
	}
	return out
}

// Permissions are the subjects an identity may publish and subscribe to. Anything
// not allowed is refused by the broker. All (the router) allows everything.
type Permissions struct {
	All bool
	Pub []string
	Sub []string
	// InboxPrefix is where the identity's request inboxes must be (its Sub allows
	// InboxPrefix + ".>"); empty for the router.
	InboxPrefix string
}

// PermissionsFor returns the permissions of role for name (a worker id, a producer
// or admin name; see ParseRole).
func PermissionsFor(r Role, name string) Permissions {
	switch r {
	case RoleAdmin:
		inbox := patchbay.AdminInboxPrefix(name)
		return Permissions{
			Pub:         append([]string{events.SubjectReqAll, events.SubjectQueryAll}, eventsReadAPI()...),
			Sub:         []string{events.SubjectEventsAll, inbox + ".>"},
			InboxPrefix: inbox,
		}
	case RoleProducer:
		inbox := patchbay.ProducerInboxPrefix(name)
		return Permissions{
			Pub: []string{
				events.ReqSubject(events.TypeJobCreated),
				events.ReqSubject(events.TypeJobCancel),
				events.ReqSubject(events.TypeJobUpdate),
				events.InSubject(events.TypeJobCreated),
				events.QuerySubject(events.TypeQueryJob),
				events.QuerySubject(events.TypeQueryQueue),
				events.QuerySubject(events.TypeQueryHistory), // a job's events, as its job events
			},
			Sub:         []string{events.SubjectEventsPrefix + "job.>", inbox + ".>"},
			InboxPrefix: inbox,
		}
	case RoleWorker:
		inbox := patchbay.WorkerInboxPrefix(name)
		var pub []string
		for _, t := range events.WorkerCommands() {
			pub = append(pub, events.WorkerReqSubject(t, name), events.WorkerInSubject(t, name))
		}
		// Its own offers and jobs (the router answers a worker's subject about that
		// worker only), and no other query: patchbay.query.job answers for any job id
		// with its assignment, so it would show a worker another worker's work.
		pub = append(pub, events.PresenceSubject(name), events.QuerySubject(events.TypeQueryWorker)+"."+name)
		return Permissions{
			Pub:         pub,
			Sub:         []string{events.OfferWorkerAll(name), events.WorkerAll(name), inbox + ".>"},
			InboxPrefix: inbox,
		}
	}
	return Permissions{All: true}
}

// eventsReadAPI is the JetStream API an ordered consumer of PATCHBAY_EVENTS uses
// (patchbay events, Client.Watch): stream info, and creating, reading, inspecting
// and deleting its own consumers. Nothing that changes a stream or a bucket.
func eventsReadAPI() []string {
	s := events.StreamEvents
	return []string{
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO." + s,
		"$JS.API.CONSUMER.CREATE." + s + ".>",
		"$JS.API.CONSUMER.INFO." + s + ".>",
		"$JS.API.CONSUMER.DELETE." + s + ".>",
		"$JS.API.CONSUMER.MSG.NEXT." + s + ".>",
	}
}
