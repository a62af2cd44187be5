-- keyroute's schema, SQLite flavour (the PostgreSQL file mirrors it column for column).
-- Times are integer milliseconds since the Unix epoch (UTC), so one set of queries serves both
-- databases; dates shoppers see are 'YYYY-MM-DD' text in the shop's zone.

-- Every inbound reply we verified and kept, matched or not: the merchant's history.
-- The primary key is Postscript's event_data.id, which is what de-duplicates redeliveries.
CREATE TABLE messages (
    id                  TEXT PRIMARY KEY,
    shop_id             TEXT NOT NULL,
    subscriber_id       TEXT NOT NULL,
    from_number         TEXT NOT NULL,
    shopify_customer_id TEXT,
    body                TEXT NOT NULL,
    webhook_id          TEXT,
    sent_at             TEXT,
    received_at         BIGINT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('accepted', 'ignored')),
    -- The interpretation exactly as `keyroute match --json` prints it.
    interpretation      TEXT NOT NULL,
    action              TEXT CHECK (action IN ('skip', 'delay', 'help', 'undo'))
);
CREATE INDEX messages_by_shop ON messages (shop_id, received_at);
CREATE INDEX messages_by_subscriber ON messages (shop_id, subscriber_id, received_at);

-- Durable work. A job is claimed under a lease (locked_by + lease_until); every later change
-- is guarded by "still running, still mine, same attempt", so a rescued job cannot be
-- overwritten by the worker that lost it.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    message_id   TEXT NOT NULL REFERENCES messages (id),
    shop_id      TEXT NOT NULL,
    -- One shopper's jobs run one at a time, oldest first (a SKIP then an UNDO must not race).
    subscriber_id TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('available', 'running', 'retryable', 'completed', 'discarded')),
    attempt      BIGINT NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts BIGINT NOT NULL CHECK (max_attempts > 0),
    scheduled_at BIGINT NOT NULL,
    attempted_at BIGINT,
    locked_by    TEXT,
    lease_until  BIGINT,
    finalized_at BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    CHECK ((state = 'running') = (locked_by IS NOT NULL))
);
CREATE UNIQUE INDEX jobs_one_per_message ON jobs (message_id, kind);
CREATE INDEX jobs_due ON jobs (state, scheduled_at);
CREATE INDEX jobs_by_shopper ON jobs (shop_id, subscriber_id, id);
CREATE INDEX jobs_by_shop_state ON jobs (shop_id, state);

-- What one message did, one row per subscription acted on (or one row for a help answer or
-- a failure that concerns no subscription). A row is written BEFORE the platform call
-- (state 'writing'), so a retry knows a write may already have happened and checks first.
CREATE TABLE outcomes (
    message_id      TEXT NOT NULL REFERENCES messages (id),
    seq             BIGINT NOT NULL,
    platform        TEXT,
    subscription_id TEXT,
    -- The subscription and shopper as planned (JSON), so every retry acts on the same target.
    context         TEXT,
    action          TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('planned', 'writing', 'done', 'failed')),
    previous_date   TEXT,
    previous_at     BIGINT,
    target_date     TEXT,
    new_date        TEXT,
    reason          TEXT,
    detail          TEXT,
    -- For an UNDO: the outcome it reverses, as 'message_id:seq' (each is undone at most once).
    undoes          TEXT,
    event_type      TEXT,
    event_body      TEXT,
    event_state     TEXT NOT NULL DEFAULT 'none' CHECK (event_state IN ('none', 'pending', 'sent', 'failed')),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (message_id, seq)
);
-- "Did keyroute already skip this subscription's upcoming order?" (already_skipped).
CREATE INDEX outcomes_by_subscription ON outcomes (platform, subscription_id, action, state);
CREATE INDEX outcomes_by_undone ON outcomes (undoes);

-- Every outbound call a job made (platforms and Postscript), for the merchant's and QA's view
-- of a message. Paths only: query strings (emails, phone numbers) are not kept.
CREATE TABLE calls (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL REFERENCES messages (id),
    job_id      BIGINT NOT NULL,
    attempt     BIGINT NOT NULL,
    service     TEXT NOT NULL,
    op          TEXT NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      BIGINT,
    error       TEXT,
    duration_ms BIGINT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX calls_by_message ON calls (message_id, id);
