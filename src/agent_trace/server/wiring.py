"""THE place the shared services are built: each on first use, whichever role asks first, into
the typed `AppContext.services` (server/context.py). Background work is only registered here;
the apps' lifespan starts it (server/app.py).

Imports are local: a process serving one role loads only what that role uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_trace.server.context import AppContext

if TYPE_CHECKING:
    from agent_trace.server.access import Auditor
    from agent_trace.server.api.cache import ChangeValidatedCache
    from agent_trace.server.api.stream import ChangeHub, StreamConfig
    from agent_trace.server.budgets.guard import BudgetGuard
    from agent_trace.server.collector.pipeline import CollectorPipeline
    from agent_trace.server.dashboard.client import DataClient
    from agent_trace.server.identity_cache import IdentityCache


def stream_config(ctx: AppContext) -> StreamConfig:
    from agent_trace.server.api.stream import StreamConfig

    return ctx.stream_config or StreamConfig()


def answer_cache(ctx: AppContext) -> ChangeValidatedCache:
    """The API's answer cache; the in-process dashboard reads through the same one."""
    from agent_trace.server.api.cache import ChangeValidatedCache

    if ctx.services.answers is None:
        ctx.services.answers = ChangeValidatedCache(ctx.store)
    return ctx.services.answers


def change_hub(ctx: AppContext) -> ChangeHub:
    """One store poll behind every `/v1/sessions/stream` listener."""
    from agent_trace.server.api.stream import ChangeHub

    if ctx.services.hub is None:
        ctx.services.hub = ChangeHub(ctx.store, stream_config(ctx).poll_interval_s)
    return ctx.services.hub


def data_client(ctx: AppContext) -> DataClient:
    """The dashboard's data: over HTTP when an API URL is configured, else in-process."""
    from agent_trace.server.dashboard.client import make_client

    if ctx.services.data_client is None:
        settings = ctx.settings
        ctx.services.data_client = make_client(
            ctx.store,
            settings.dashboard_api_base_url,
            settings.dashboard_token,
            settings.timezone,
            stream_config(ctx),
            None if settings.dashboard_api_base_url else answer_cache(ctx),
        )
    return ctx.services.data_client


def identity_checks(ctx: AppContext) -> tuple[IdentityCache, Auditor]:
    """Auth on: token → user (never stale) and the audit of reads, one of each per process."""
    from agent_trace.server.access import Auditor
    from agent_trace.server.identity_cache import IdentityCache
    from agent_trace.store.identity import identity_of

    found = ctx.services
    if found.identity_cache is None or found.auditor is None:
        identity = identity_of(ctx.store)
        found.identity_cache, found.auditor = IdentityCache(identity), Auditor(identity)
    return found.identity_cache, found.auditor


def budget_guard(ctx: AppContext) -> BudgetGuard:
    """The collector's budget snapshot; its refresh/alert service is registered with it."""
    from agent_trace.reports.periods import PeriodError, resolve_timezone
    from agent_trace.server.budgets.alerts import AlertSender
    from agent_trace.server.budgets.guard import BudgetGuard
    from agent_trace.server.budgets.service import BudgetService

    if ctx.services.budget_guard is not None:
        return ctx.services.budget_guard
    settings = ctx.settings
    try:
        tz = resolve_timezone(settings.timezone)
    except PeriodError:
        tz = None  # `serve` reports a bad zone elsewhere; budgets then use the system's
    guard = BudgetGuard(ctx.store, tz, settings.budgets.contact)
    ctx.services.budget_guard = guard
    ctx.services.background.add(
        BudgetService(guard, AlertSender(ctx.store, settings.budgets), settings.budgets.refresh_s)
    )
    return guard


def collector(ctx: AppContext) -> CollectorPipeline:
    """The process's one ingest pipeline; its queue, decoders and gRPC server are registered with
    it (in start order: they stop in reverse, so the writer's store closes last)."""
    if ctx.services.collector is not None:
        return ctx.services.collector
    from agent_trace.ingest.prices import price_book
    from agent_trace.ingest.queue import IngestQueue
    from agent_trace.ingest.writer import Writer
    from agent_trace.server.collector.decoders import DecoderSetup, OtlpDecoders
    from agent_trace.server.collector.grpc_service import OtlpGrpcService, grpc_disabled
    from agent_trace.server.collector.pipeline import CollectorPipeline
    from agent_trace.server.collector.services import GcTuning, StoreCloser
    from agent_trace.sources.otlp import OtlpCorrelator
    from agent_trace.store.factory import open_writer_store

    settings = ctx.settings
    background = ctx.services.background
    # The writer thread gets a store of its own (on SQLite: one warm connection).
    store = ctx.ingest_store
    if store is None:
        store = open_writer_store(settings.database_url, settings.events_url)
        background.add(StoreCloser(store))
    # No default user: the collector cannot know who sent an event; the hook handler says so
    # (agent_trace.user) and OTLP carries user.id / user.email.
    writer = Writer(store, price_book(settings.price_override_file), settings.privacy_tier)
    queue = IngestQueue(
        writer,
        max_pending_records=settings.ingest_queue_records,
        max_batch_records=settings.ingest_batch_records,
    )
    decoders = None
    if settings.ingest_workers > 0:
        setup = DecoderSetup(settings.privacy_tier, str(settings.price_override_file))
        decoders = OtlpDecoders(setup, settings.ingest_workers)
    user_tokens = None
    if settings.auth:
        from agent_trace.server.collector.auth import UserTokenCheck
        from agent_trace.server.identity_cache import IdentityCache, SessionOwners
        from agent_trace.store.identity import identity_of

        # Its own warm connection (SQLite): a token check is one indexed read per request.
        identity_store = open_writer_store(settings.database_url, settings.events_url)
        background.add(StoreCloser(identity_store))
        identity = identity_of(identity_store)
        user_tokens = UserTokenCheck(IdentityCache(identity), SessionOwners(identity))
    pipeline = CollectorPipeline(settings, queue, OtlpCorrelator(), decoders, user_tokens)
    ctx.services.collector = pipeline
    background.add(GcTuning())
    if decoders is not None:
        background.add(decoders)  # started before gRPC; stopped once the queue has drained
    background.add(queue)
    if not grpc_disabled(settings.otel_grpc_address):
        background.add(OtlpGrpcService(settings.otel_grpc_address, pipeline))
    return pipeline
