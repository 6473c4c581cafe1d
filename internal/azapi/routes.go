package azapi

// table lists every operation served; schemas/openapi.yaml describes exactly these
// (TestOpenAPIDescribesEveryRoute).
func (a *api) table() []route {
	rs := []route{
		{"GET", "/routing/jobs", a.jobList},
		{"GET", "/routing/jobs/{jobId}", a.jobGet},
		{"PATCH", "/routing/jobs/{jobId}", a.jobUpsert},
		{"DELETE", "/routing/jobs/{jobId}", a.jobDelete},
		{"POST", "/routing/jobs/{jobId}:cancel", a.jobCancel},
		{"POST", "/routing/jobs/{jobId}:reclassify", a.jobReclassify},
		{"POST", "/routing/jobs/{jobId}/assignments/{assignmentId}:complete", a.jobComplete},
		{"POST", "/routing/jobs/{jobId}/assignments/{assignmentId}:close", a.jobClose},
		{"POST", "/routing/jobs/{jobId}/assignments/{assignmentId}:unassign", a.jobUnassign},
		{"GET", "/routing/jobs/{jobId}/position", a.jobPosition},
		{"GET", "/routing/workers", a.workerList},
		{"GET", "/routing/workers/{workerId}", a.workerGet},
		{"PATCH", "/routing/workers/{workerId}", a.workerUpsert},
		{"DELETE", "/routing/workers/{workerId}", a.workerDelete},
		{"POST", "/routing/workers/{workerId}/offers/{offerId}:accept", a.offerAccept},
		{"POST", "/routing/workers/{workerId}/offers/{offerId}:decline", a.offerDecline},
		{"GET", "/routing/queues/{queueId}/statistics", a.queueStatistics},
	}
	return append(rs, a.policyRoutes()...)
}
