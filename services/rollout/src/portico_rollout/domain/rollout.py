"""The Rollout aggregate: one plugin version of one tenant, going live phase by phase.

It is a plain dataclass so the repository can store it as columns plus JSON
(history, plan, gate) and rebuild it with `from_row` (`rollout_rows`). Every
command takes the current time and returns the domain events it caused; an
empty list means nothing changed, which is how redelivered or late events
stay harmless. Every decision (advance, hold, fail, rollback) comes out as a
RolloutDecisionRecorded event carrying the decision and its evidence.

A phase advances when its bake is over AND its criteria hold on the evidence
(`evaluate`); a phase that holds on a marginal judgment is looked at again
after the recheck interval, and fails the rollout once it has held past
`hold_until`. A phase that holds only for want of samples is looked at again
sooner: after 1 s, then 2, 4, ... up to the recheck interval. The samples it
waits for may be on their way already (clients resending the outcome reports
slo refused while its database was down, or a phase judged the moment its
bake ended): each look costs one query to slo, and the doubling keeps a quiet
plugin from being asked about every second for the whole hold timeout.
Operator controls and approval gates live in `controls`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from portico_common.approvals import ApprovalState
from portico_rollout.domain._time import require_aware
from portico_rollout.domain.controls import Controls
from portico_rollout.domain.criteria import Assessment, Outcome, assess
from portico_rollout.domain.decisions import Decision, DecisionKind, DecisionSource
from portico_rollout.domain.events import (
    RolloutCompleted,
    RolloutDecisionRecorded,
    RolloutEvent,
    RolloutPhaseAdvanced,
    RolloutRefused,
    RolloutRolledBack,
    RolloutStarted,
)
from portico_rollout.domain.evidence import Evidence
from portico_rollout.domain.history import HistoryEntry
from portico_rollout.domain.phases import DEFAULT_PHASES, validate_phases
from portico_rollout.domain.plan import Gate, PhaseSpec, Strategy, validate_plan
from portico_rollout.domain.rollback import Rollback
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidRolloutError, InvalidTransitionError

DEFAULT_BAKE_SECONDS = 300
DEFAULT_HOLD_TIMEOUT_SECONDS = 3600
DEFAULT_RECHECK_SECONDS = 30
# The first look again at a phase that holds for want of samples; each next one doubles.
DEFAULT_SAMPLE_RECHECK_SECONDS = 1

_Check = Literal["security", "compat"]


class _Identity(TypedDict):
    """The fields every event shares, typed so a misspelt key fails mypy."""

    tenant_id: str
    rollout_id: str
    plugin: str
    version: str
    occurred_at: datetime


@dataclass
class Rollout(Controls, Rollback):
    """A persisted rollout state machine; see the module docstring."""

    rollout_id: str
    tenant_id: str
    plugin: str
    version: str
    created_at: datetime
    stable_version: str = ""
    state: RolloutState = RolloutState.AWAITING_CHECKS
    # The phases' shares; taken from `plan` when one is given.
    phases: tuple[int, ...] = DEFAULT_PHASES
    phase_index: int = 0
    # The bake of a phase whose spec does not name one (and of a plan made from `phases`).
    bake_seconds: int = DEFAULT_BAKE_SECONDS
    security_passed: bool | None = None
    compat_passed: bool | None = None
    reason: str = ""
    phase_started_at: datetime | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    # Owned by the repository: it saves with "WHERE revision = loaded" and bumps it.
    revision: int = 0
    strategy: Strategy = Strategy.CANARY
    # Empty: `phases`, each baking `bake_seconds` under the default criteria.
    plan: tuple[PhaseSpec, ...] = ()
    hold_timeout_seconds: int = DEFAULT_HOLD_TIMEOUT_SECONDS
    slo_id: str = ""
    attempt: int = 1
    retry_of: str = ""
    paused_at: datetime | None = None
    # When the scheduler next judges the phase (its bake's end, then each recheck).
    next_check_at: datetime | None = None
    # A phase still holding at this time fails the rollout.
    hold_until: datetime | None = None
    # The approval the next phase waits for, and that phase's index.
    gate: Gate | None = None
    gate_phase: int = 0
    decision_count: int = 0
    # Critical advisories known on the stable version (ids): an automatic rollback
    # onto it pauses and asks instead; an operator's abort is the approval.
    stable_advisories: tuple[str, ...] = ()
    # The rollback policy: 0 goes back at once; more steps the share down through
    # the phases already passed, one every this many seconds (an operator's abort
    # and a second trigger still go back at once).
    rollback_step_seconds: int = 0
    # When slo last judged the version's SLO, OK, before this rollout was created (slo's
    # clock): a violation it detected by then is an earlier attempt's, since recovered.
    slo_ok_at: datetime | None = None
    # While rolling back gradually: the trigger's source, reason and event id. On a
    # completed rollout: a rollback requested, waiting for the scheduler's safety check.
    rolling_back: dict[str, str] | None = None

    def __post_init__(self) -> None:
        # The same checks guard a new request and a row read back, so a corrupt
        # row fails loudly at load rather than halfway through a transition.
        self._check_fields()
        if self.plan:
            self.plan = validate_plan(self.plan)
            self.phases = tuple(spec.percent for spec in self.plan)
        else:
            self.phases = validate_phases(self.phases)
            self.plan = tuple(PhaseSpec(p, self.bake_seconds) for p in self.phases)
        if not 0 <= self.phase_index < len(self.phases):
            raise InvalidRolloutError("phase_index", f"{self.phase_index} is not a phase")
        if self.state.serves and self.phase_started_at is None:
            raise InvalidRolloutError("phase_started_at", "a rollout in progress needs it")
        if self.state is RolloutState.PAUSED and self.paused_at is None:
            raise InvalidRolloutError("paused_at", "a paused rollout needs it")
        if self.state.serves and self.phase_started_at is not None:
            # Rows from before checks were scheduled carry only the phase start.
            baked = self.phase_started_at + timedelta(seconds=self.phase.bake_seconds)
            self.next_check_at = self.next_check_at or baked
            self.hold_until = self.hold_until or baked + self._hold_timeout

    def _check_fields(self) -> None:
        for name in ("rollout_id", "tenant_id", "plugin", "version"):
            if not getattr(self, name):
                raise InvalidRolloutError(name, "must not be empty")
        if self.version == self.stable_version:
            raise InvalidRolloutError("version", f"{self.version} is already the stable version")
        for name in (
            "bake_seconds",
            "revision",
            "hold_timeout_seconds",
            "decision_count",
            "rollback_step_seconds",
        ):
            if getattr(self, name) < 0:
                raise InvalidRolloutError(name, f"{getattr(self, name)} is negative")
        if self.attempt < 1:
            raise InvalidRolloutError("attempt", f"{self.attempt} is not positive")
        require_aware(self.created_at, "created_at")
        for name in ("phase_started_at", "paused_at", "next_check_at", "hold_until", "slo_ok_at"):
            value = getattr(self, name)
            if value is not None:
                require_aware(value, name)

    # -- construction ----------------------------------------------------------------

    @classmethod
    def request(
        cls,
        *,
        rollout_id: str,
        tenant_id: str,
        plugin: str,
        version: str,
        now: datetime,
        stable_version: str = "",
        phases: Sequence[int] = DEFAULT_PHASES,
        bake_seconds: int = DEFAULT_BAKE_SECONDS,
        strategy: Strategy = Strategy.CANARY,
        plan: Sequence[PhaseSpec] = (),
        hold_timeout_seconds: int = DEFAULT_HOLD_TIMEOUT_SECONDS,
        slo_id: str = "",
        attempt: int = 1,
        retry_of: str = "",
        rollback_step_seconds: int = 0,
        slo_ok_at: datetime | None = None,
    ) -> Rollout:
        """A new rollout waiting for the security and compat verdicts."""
        rollout = cls(
            rollout_id=rollout_id,
            tenant_id=tenant_id,
            plugin=plugin,
            version=version,
            created_at=require_aware(now, "now"),
            stable_version=stable_version,
            phases=tuple(phases),
            bake_seconds=bake_seconds,
            strategy=strategy,
            plan=tuple(plan),
            hold_timeout_seconds=hold_timeout_seconds,
            slo_id=slo_id,
            attempt=attempt,
            retry_of=retry_of,
            rollback_step_seconds=rollback_step_seconds,
            slo_ok_at=slo_ok_at,
        )
        bakes = "/".join(str(p.bake_seconds) for p in rollout.plan)
        retry = f", attempt {attempt} retrying {retry_of}" if retry_of else ""
        detail = (
            f"{plugin}@{version} over {stable_version or 'no stable version'}, {strategy.value},"
            f" phases {'/'.join(map(str, rollout.phases))}%, bake {bakes}s{retry}"
        )
        rollout.history.append(HistoryEntry(at=now, kind="requested", detail=detail))
        return rollout

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Rollout:
        """Rebuild from a mapping shaped like `to_row` (JSON columns decoded)."""
        from portico_rollout.domain.rollout_rows import rollout_from_row

        return rollout_from_row(cls, row)

    def to_row(self) -> dict[str, Any]:
        """Column values; enums as text, JSON columns JSON-ready."""
        from portico_rollout.domain.rollout_rows import rollout_to_row

        return rollout_to_row(self)

    # -- queries ---------------------------------------------------------------------

    @property
    def percent(self) -> int:
        """The share of users served the new version right now."""
        if self.state is RolloutState.COMPLETED:
            return 100
        if self.state.serves:
            return self.phases[self.phase_index]
        return 0

    @property
    def phase(self) -> PhaseSpec:
        """The spec of the current phase."""
        return self.plan[self.phase_index]

    @property
    def awaiting_approval(self) -> bool:
        """True while the next phase waits for its gate."""
        return self.gate is not None and self.gate.state is ApprovalState.PENDING

    def due_at(self) -> datetime | None:
        """When the scheduler should look at it next; None unless it is in progress, stepping
        down, or completed with a rollback requested (`request_completed_rollback`)."""
        if self.state is RolloutState.ROLLING_BACK:
            return self.next_check_at
        if self.state is RolloutState.COMPLETED and self.rolling_back:
            return self.next_check_at
        if self.state is not RolloutState.IN_PROGRESS:
            return None
        if self.gate is not None and self.awaiting_approval:
            return self.gate.deadline
        return self.next_check_at

    @property
    def _hold_timeout(self) -> timedelta:
        return timedelta(seconds=self.hold_timeout_seconds)

    # -- commands --------------------------------------------------------------------

    def record_security_verdict(
        self, passed: bool, reasons: Sequence[str], now: datetime
    ) -> list[RolloutEvent]:
        """Take the security verdict; see `_record_verdict`."""
        return self._record_verdict("security", passed, reasons, now)

    def record_compat_verdict(
        self, passed: bool, reasons: Sequence[str], now: datetime
    ) -> list[RolloutEvent]:
        """Take the compat verdict; see `_record_verdict`."""
        return self._record_verdict("compat", passed, reasons, now)

    def evaluate(
        self,
        now: datetime,
        evidence: Evidence,
        *,
        recheck_seconds: int = DEFAULT_RECHECK_SECONDS,
        sample_recheck_seconds: int = DEFAULT_SAMPLE_RECHECK_SECONDS,
    ) -> list[RolloutEvent]:
        """Judge the current phase once its bake is over: advance, hold, or fail.

        Nothing happens before the phase's next check, while it is paused or
        waits for an approval. One step per call keeps a late scheduler from
        skipping phases: each new phase bakes from `now`. A hold is judged
        again after `recheck_seconds`, or, when it waits only for samples, after
        `sample_recheck_seconds` doubled for each hold of the phase before it
        (at most `recheck_seconds`).
        """
        require_aware(now, "now")
        due = self.due_at()
        if due is None or now < due or self.awaiting_approval:
            return []
        assessment = assess(self.phase.criteria, evidence, percent=self.percent)
        document = self._evidence_document(evidence, assessment)
        source = DecisionSource(assessment.source)
        if assessment.outcome is Outcome.PASS:
            return self._step_forward(now, source, assessment.reasons, document)
        if assessment.outcome is Outcome.HOLD and self.hold_until and now < self.hold_until:
            wait = recheck_seconds
            if assessment.awaiting_samples:
                wait = min(recheck_seconds, sample_recheck_seconds * 2 ** self._holds_in_phase())
            self.next_check_at = now + timedelta(seconds=wait)
            self._note(now, "held", "; ".join(assessment.reasons))
            return [self._decide(now, DecisionKind.HOLD, source, assessment.reasons, document)]
        reasons = assessment.reasons
        if assessment.outcome is Outcome.HOLD:
            reasons = (f"held past {self.hold_timeout_seconds}s after the bake", *reasons)
        return self._fail(now, source, reasons, document)

    def roll_back(
        self,
        reason: str,
        now: datetime,
        cause_event_id: str = "",
        violation_detected_at: datetime | None = None,
        *,
        source: DecisionSource = DecisionSource.SLO,
        evidence: Mapping[str, Any] | None = None,
    ) -> list[RolloutEvent]:
        """Put traffic back on the stable version.

        Before the checks finish no user has the version, so there is nothing to
        roll back: the rollout is refused instead, which stops it from starting
        when the last verdict arrives. Once terminal, nothing happens and no
        error is raised, because a violation can arrive late or twice.
        """
        require_aware(now, "now")
        if violation_detected_at is not None:
            require_aware(violation_detected_at, "violation_detected_at")
        if not reason:
            raise InvalidRolloutError("reason", "a rollback needs a reason")
        document: dict[str, Any] = {"trigger": {"reason": reason, "cause_event_id": cause_event_id}}
        if violation_detected_at is not None:
            document["trigger"]["detected_at"] = violation_detected_at.isoformat()
        document |= dict(evidence or {})
        if self.state is RolloutState.AWAITING_CHECKS:
            decided = self._decide(now, DecisionKind.ROLLBACK, source, (reason,), document)
            return [decided, *self._refuse((reason,), now)]
        if not self.state.serves:
            return []
        if self.stable_advisories and source is not DecisionSource.OPERATOR:
            return self._hold_rollback(reason, now, source, document)
        if (
            self.rollback_step_seconds
            and source is not DecisionSource.OPERATOR
            and self.state is not RolloutState.ROLLING_BACK
            and self.phase_index > 0
        ):
            self.rolling_back = {
                "source": source.value,
                "reason": reason,
                "cause_event_id": cause_event_id,
            }
            if self.state is RolloutState.PAUSED:
                self.paused_at = None
            self._move_to(RolloutState.ROLLING_BACK, now, reason)
            self.reason = reason
            self.gate = None
            return [self._step_down(now, source, reason, document)]
        decided = self._decide(now, DecisionKind.ROLLBACK, source, (reason,), document)
        rolled_back = self._rolled_back(reason, now, cause_event_id, violation_detected_at)
        if source is DecisionSource.DEPENDENCY:
            cause = str(document.get("dependency", {}).get("rollout_id", ""))
            rolled_back = [replace(e, cause_rollout_id=cause) for e in rolled_back]
        return [decided, *rolled_back]

    # -- internals -------------------------------------------------------------------

    def _record_verdict(
        self, check: _Check, passed: bool, reasons: Sequence[str], now: datetime
    ) -> list[RolloutEvent]:
        """Record one check's verdict and move the state machine if it decides anything.

        A repeat of the recorded verdict, or any verdict after a terminal state,
        returns [] so redelivered events change nothing. A failure always wins:
        before the start it refuses the rollout; during the rollout (say a key
        was revoked) it rolls back, since a failed check means no user should have it.
        """
        require_aware(now, "now")
        recorded = self.security_passed if check == "security" else self.compat_passed
        if self.state.is_terminal or recorded is passed:
            return []
        if check == "security":
            self.security_passed = passed
        else:
            self.compat_passed = passed
        outcome = "passed" if passed else "failed"
        listed = f": {'; '.join(reasons)}" if reasons else ""
        self._note(now, f"{check}_verdict", f"{check} {outcome}{listed}")
        if not passed:
            why = tuple(f"{check}: {r}" for r in reasons) or (f"{check} check failed",)
            if self.state.serves:
                return self.roll_back("; ".join(why), now, source=DecisionSource.CHECKS)
            return self._refuse(why, now)
        if (
            self.security_passed
            and self.compat_passed
            and self.state is RolloutState.AWAITING_CHECKS
        ):
            return self._start(now)
        return []

    def _start(self, now: datetime) -> list[RolloutEvent]:
        self.phase_index = 0
        self._enter_phase(now)
        self._move_to(RolloutState.IN_PROGRESS, now, f"phase 0 at {self.phases[0]}%")
        return [
            RolloutStarted(
                **self._identity(now),
                stable_version=self.stable_version,
                phases=self.phases,
                percent=self.percent,
                strategy=self.strategy.value,
            )
        ]

    def _enter_phase(self, now: datetime) -> None:
        self.phase_started_at = now
        self.next_check_at = now + timedelta(seconds=self.phase.bake_seconds)
        self.hold_until = self.next_check_at + self._hold_timeout
        self.gate = None

    def _step_forward(
        self,
        now: datetime,
        source: DecisionSource,
        reasons: Sequence[str],
        document: Mapping[str, Any],
    ) -> list[RolloutEvent]:
        """The phase passed: the next phase (unless its gate must open first), or completion."""
        following = self.phase_index + 1
        if following < len(self.plan) and (rule := self.plan[following].approval) is not None:
            self.gate, self.gate_phase = Gate.open(rule, now), following
            wait = (
                f"awaiting {rule.required} approval(s) by {', '.join(rule.roles)} for phase"
                f" {following} ({self.phases[following]}%) until {self.gate.deadline.isoformat()}"
            )
            self._note(now, "approval_requested", wait)
            why = (*reasons, wait)
            return [self._decide(now, DecisionKind.HOLD, DecisionSource.APPROVAL, why, document)]
        decided = self._decide(
            now, DecisionKind.ADVANCE, source, reasons, document, to_percent=self._next_percent
        )
        return [decided, *self._advance(now)]

    @property
    def _next_percent(self) -> int:
        following = self.phase_index + 1
        return self.phases[following] if following < len(self.phases) else 100

    def _advance(self, now: datetime) -> list[RolloutEvent]:
        """One step: into the next phase, or (from the last) completion."""
        if self.phase_index + 1 < len(self.phases):
            self.phase_index += 1
            self._enter_phase(now)
            self._note(now, "phase_advanced", f"phase {self.phase_index} at {self.percent}%")
            return [
                RolloutPhaseAdvanced(
                    **self._identity(now), phase_index=self.phase_index, percent=self.percent
                )
            ]
        self.gate = None
        self._move_to(RolloutState.COMPLETED, now, f"{self.version} serves 100%")
        return [RolloutCompleted(**self._identity(now))]

    def _fail(
        self,
        now: datetime,
        source: DecisionSource,
        reasons: Sequence[str],
        document: Mapping[str, Any],
    ) -> list[RolloutEvent]:
        reason = "; ".join(reasons)
        if self.stable_advisories:
            return self._hold_rollback(reason, now, source, document)
        decided = self._decide(now, DecisionKind.FAIL, source, reasons, document)
        return [decided, *self._rolled_back(reason, now, "", None)]

    def _rolled_back(
        self, reason: str, now: datetime, cause_event_id: str, detected_at: datetime | None
    ) -> list[RolloutRolledBack]:
        if self.state is RolloutState.PAUSED:
            self.paused_at = None
        cause = f" (cause {cause_event_id})" if cause_event_id else ""
        self._move_to(RolloutState.ROLLED_BACK, now, f"{reason}{cause}")
        self.reason = reason
        self.gate = None
        return [
            RolloutRolledBack(
                **self._identity(now),
                stable_version=self.stable_version,
                reason=reason,
                cause_event_id=cause_event_id,
                violation_detected_at=detected_at,
            )
        ]

    def _refuse(self, reasons: tuple[str, ...], now: datetime) -> list[RolloutEvent]:
        self._move_to(RolloutState.REFUSED, now, "; ".join(reasons))
        self.reason = "; ".join(reasons)
        return [RolloutRefused(**self._identity(now), reasons=reasons)]

    def _evidence_document(self, evidence: Evidence, assessment: Assessment) -> dict[str, Any]:
        judgment = assessment.judgment
        return {
            "phase": self._phase_document(),
            "criteria": self.phase.criteria.to_json(),
            **evidence.to_json(),
            "outcome": assessment.outcome.value,
            "judgment": judgment.to_json() if judgment is not None else None,
        }

    def _phase_document(self) -> dict[str, Any]:
        started = self.phase_started_at
        return {
            "index": self.phase_index,
            "percent": self.percent,
            "bake_seconds": self.phase.bake_seconds,
            "started_at": started.isoformat() if started else None,
            "hold_timeout_seconds": self.hold_timeout_seconds,
            "hold_until": self.hold_until.isoformat() if self.hold_until else None,
        }

    def _decide(
        self,
        now: datetime,
        kind: DecisionKind,
        source: DecisionSource,
        reasons: Sequence[str],
        evidence: Mapping[str, Any],
        *,
        to_percent: int | None = None,
    ) -> RolloutDecisionRecorded:
        """Numbers and wraps a decision; `to_percent` defaults to what the kind implies."""
        self.decision_count += 1
        if to_percent is None:
            to_percent = 0 if kind in (DecisionKind.FAIL, DecisionKind.ROLLBACK) else self.percent
        decision = Decision(
            tenant_id=self.tenant_id,
            rollout_id=self.rollout_id,
            seq=self.decision_count,
            at=now,
            kind=kind,
            source=source,
            phase_index=self.phase_index,
            percent=self.percent,
            to_percent=to_percent,
            reasons=tuple(reasons),
            evidence=dict(evidence),
            attempt=self.attempt,
        )
        return RolloutDecisionRecorded(**self._identity(now), decision=decision)

    def _move_to(self, target: RolloutState, now: datetime, detail: str) -> None:
        """The one place the state changes, so the transition table is always enforced."""
        if not self.state.can_move_to(target):
            raise InvalidTransitionError(self.rollout_id, self.state.value, target.value)
        self.state = target
        self._note(now, target.value.lower(), detail)

    def _holds_in_phase(self) -> int:
        """How often the current phase has held so far (its history since it began)."""
        started = self.phase_started_at
        return sum(1 for e in self.history if e.kind == "held" and started and e.at >= started)

    def _note(self, now: datetime, kind: str, detail: str) -> None:
        self.history.append(HistoryEntry(at=now, kind=kind, detail=detail))

    def _identity(self, now: datetime) -> _Identity:
        return _Identity(
            tenant_id=self.tenant_id,
            rollout_id=self.rollout_id,
            plugin=self.plugin,
            version=self.version,
            occurred_at=now,
        )
