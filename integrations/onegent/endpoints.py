"""The Onegent Execution API endpoints as shared-transport routes (paths under ``/api/v1``).

Retry rules (the transport repeats only what is marked safe):

* ``POST /execution-jobs`` starts a real booking run, so it is repeated only when the body
  carries ``clientMetadata.idempotencyKey`` (the partner returns the same job for the same
  key); the very same bytes are re-sent. With a key, ``500 job_create_failed`` is retried
  too, as the spec asks (``wire.CreateRetrier``). Without a key it is sent exactly once.
* The three GETs are safe to repeat (the transport's defaults: 429, 502-504, timeouts).
"""

from __future__ import annotations

from integrations.transport import Route

__all__ = ["AUDIT", "CREATE_JOB", "GET_JOB", "PROVIDER_METRICS"]

CREATE_JOB = Route("POST", "/execution-jobs", idempotent=False)
GET_JOB = Route("GET", "/execution-jobs/{job_id}")
AUDIT = Route("GET", "/execution-jobs/{job_id}/audit")
PROVIDER_METRICS = Route("GET", "/metrics/providers/{provider_id}")
