"""Onegent Execution API: typed async client and its models (``/api/v1`` booking jobs)."""

from integrations.onegent import models
from integrations.onegent.client import OnegentClient
from integrations.onegent.errors import InvalidRequest, JobCreateFailed, MalformedKey
from integrations.onegent.models import (
    ActivityParams,
    AuditEvent,
    AuditLog,
    ClientMetadata,
    Consent,
    CreatedJob,
    Decision,
    ExecutionJob,
    ExecutionJobRequest,
    FlightParams,
    HotelParams,
    JobStatus,
    Profile,
    ProviderMetrics,
    RestaurantParams,
    Scenario,
    ScenarioRequest,
)
from integrations.onegent.wire import KEY_PATTERN, PARTNER, check_key

__all__ = [
    "KEY_PATTERN",
    "PARTNER",
    "ActivityParams",
    "AuditEvent",
    "AuditLog",
    "ClientMetadata",
    "Consent",
    "CreatedJob",
    "Decision",
    "ExecutionJob",
    "ExecutionJobRequest",
    "FlightParams",
    "HotelParams",
    "InvalidRequest",
    "JobCreateFailed",
    "JobStatus",
    "MalformedKey",
    "OnegentClient",
    "Profile",
    "ProviderMetrics",
    "RestaurantParams",
    "Scenario",
    "ScenarioRequest",
    "check_key",
    "models",
]
