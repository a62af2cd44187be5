-- STATUS is an action: the messages.action CHECK admits 'status'. SQLite cannot change a
-- CHECK in place, so the table is rebuilt by the documented procedure: new table, copy,
-- drop, rename, in the migration's one transaction. `Store::migrate` runs SQLite migrations
-- with foreign keys off, as that procedure requires (jobs, outcomes and calls refer to
-- messages by name, so they refer to the rebuilt table).
DROP TABLE IF EXISTS messages_new;
CREATE TABLE messages_new (
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
    action              TEXT CHECK (action IN ('skip', 'delay', 'help', 'undo', 'status'))
);
INSERT INTO messages_new
    SELECT id, shop_id, subscriber_id, from_number, shopify_customer_id, body, webhook_id,
           sent_at, received_at, status, interpretation, action
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_by_shop ON messages (shop_id, received_at);
CREATE INDEX messages_by_subscriber ON messages (shop_id, subscriber_id, received_at);
