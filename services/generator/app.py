"""The generator service: MonthScheduled -> every configured LLM at once -> BooksGenerated."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from services.generator.fetch import LLM, ask, configured_llms
from services.generator.logic import Answer, build_prompt, generation_outcome
from shared.db.pool import create_pool
from shared.events import BooksGenerated, MonthGenerationFailed, MonthScheduled
from shared.kafka.producer import EventProducer
from shared.kafka.worker import Incoming, Reject, WorkerSpec, run_worker, topic_for
from shared.months import InvalidMonth, validate_month_request
from shared.providers import build_llm_providers
from shared.providers.outage import gather_all
from shared.settings import Settings
from shared.telemetry import context_from_headers, correlated, inject_headers
from shared.tracing import record_failure

log = logging.getLogger(__name__)
tracer = trace.get_tracer("alexandria.generator")


class Generator:
    def __init__(self, llms: Sequence[LLM], timeout_s: float) -> None:
        self.llms = llms
        self.timeout_s = timeout_s

    async def handle(self, batch: Sequence[Incoming], producer: EventProducer) -> list[Reject]:
        # A month waiting for an LLM (ProviderStillFailing) fails the batch only after its
        # siblings finished: the worker aborts the transaction and retries the batch.
        results: list[Reject | None] = await gather_all(
            *(self._one(item, producer) for item in batch)
        )
        return [r for r in results if r is not None]

    async def _one(self, item: Incoming, producer: EventProducer) -> Reject | None:
        scheduled = item.event
        assert isinstance(scheduled, MonthScheduled)  # the worker accepts nothing else
        try:
            validate_month_request(
                scheduled.year,
                scheduled.month,
                scheduled.prompt_variant,
                scheduled.batch_size,
                scheduled.envelope.occurred_at.date(),
            )
        except InvalidMonth as exc:
            return Reject(item, f"impossible MonthScheduled: {exc}")
        parent = context_from_headers(item.record.headers)
        with (
            correlated(scheduled.envelope.correlation_id),
            tracer.start_as_current_span(
                "generate month",
                context=parent,
                attributes={
                    "month": f"{scheduled.year}-{scheduled.month:02d}",
                    "attempt": scheduled.attempt,
                },
            ) as span,
        ):
            prompt = build_prompt(
                scheduled.year, scheduled.month, scheduled.prompt_variant, scheduled.batch_size
            )
            answers: list[Answer] = await gather_all(
                *(ask(llm, prompt, self.timeout_s) for llm in self.llms)
            )
            outcome = generation_outcome(scheduled, answers, datetime.now(UTC))
            mark_outcome(span, answers, outcome)
            await producer.send(outcome, inject_headers())
            calls = ", ".join(
                f"{a.provider} {len(a.books) if a.books is not None else a.error}" for a in answers
            )
            log.info(
                "%d-%02d attempt %d: %s (%s)",
                scheduled.year,
                scheduled.month,
                scheduled.attempt,
                type(outcome).__name__,
                calls,
            )
        return None


def mark_outcome(
    span: trace.Span, answers: Sequence[Answer], outcome: BooksGenerated | MonthGenerationFailed
) -> None:
    """The month's span says what came of it: books per LLM, the outcome type, an event per LLM
    that failed, and ERROR when none answered (the month failed)."""
    span.set_attribute("outcome", type(outcome).__name__)
    for answer in answers:
        if answer.books is not None:
            span.set_attribute(f"books.{answer.provider}", len(answer.books))
        else:
            record_failure(
                span,
                "llm failed",
                {"provider": answer.provider, "model": answer.model, "error": answer.error},
            )
    span.set_attribute("llms.failed", sum(a.books is None for a in answers))
    if isinstance(outcome, BooksGenerated):
        span.set_attribute("books", len(outcome.books))
    else:
        span.set_status(Status(StatusCode.ERROR, f"every LLM failed: {outcome.reason}"[:300]))


async def run(settings: Settings) -> None:
    # A small pool for the rate limits and quotas every replica shares (shared.providers.pace).
    pool = await create_pool(settings, max_size=2)
    providers = build_llm_providers(settings, pool)
    try:
        # Only a safety net: the transport's own deadline ends a call (its retries included)
        # first, the last attempt started before the deadline taking up to one LLM timeout.
        bound_s = settings.http.retry_deadline_s + 2 * settings.llm.timeout_s
        generator = Generator(configured_llms(providers), bound_s)
        spec = WorkerSpec(
            "generator",
            [topic_for(settings, MonthScheduled)],
            generator.handle,
            accepts=(MonthScheduled,),
            max_batch=8,
        )
        await run_worker(spec, settings)
    finally:
        await providers.aclose()
        await pool.close()
