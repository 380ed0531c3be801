-- What operators did with the service's dead letters: every redrive and
-- discard, who asked, why, and how it went (the DLQ API writes it; nothing
-- updates it). The event's tenant is recorded, but the rows are the
-- platform's: only platform operators act on dead letters.
CREATE TABLE dead_letter_actions (
    id            bigserial PRIMARY KEY,
    action        text NOT NULL CHECK (action IN ('redrive', 'discard')),
    consumer      text NOT NULL,
    sequence      bigint NOT NULL,
    event_type    text NOT NULL,
    event_id      text NOT NULL,
    event_tenant  text NOT NULL,
    actor         text NOT NULL,
    reason        text NOT NULL,
    outcome       text NOT NULL,
    acted_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letter_actions_by_time ON dead_letter_actions (acted_at);
