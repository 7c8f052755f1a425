-- The segment service's durable read model: the latest event of every key a filter depends on,
-- applied from the client, card and ledger feeds. Keys name what an event is about
-- (`client:<id>`, `balance:<id>`, `card:<id>`, `consent:<id>:<channel>`, `purchase:<id>`,
-- `return:<id>`, `merge:<survivor>:<event>`, `gone:<id>`): a newer event of the same key replaces
-- the older one, so the table is the feeds compacted. `seq` is given in commit order (the writers
-- take one advisory lock), so every replica loads the table in `seq` order at start and then
-- follows what is newer than the last `seq` it applied: each builds the same in-memory model.
CREATE SEQUENCE facts_seq;

CREATE TABLE facts (
    tenant_id text   NOT NULL,
    key       text   NOT NULL,
    seq       bigint NOT NULL,
    -- The client the event is about, so a GDPR erase finds every row to delete.
    client_id uuid,
    payload   bytea  NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE INDEX facts_in_order ON facts (seq);
CREATE INDEX facts_by_client ON facts (tenant_id, client_id);

-- Who a merged client became, so an erase of the survivor also erases what the duplicates had.
CREATE TABLE merges (
    tenant_id text NOT NULL,
    merged    uuid NOT NULL,
    survivor  uuid NOT NULL,
    PRIMARY KEY (tenant_id, merged)
);

-- What the segment service follows of each tenant's settings: "today" and phone reading.
CREATE TABLE tenants (
    tenant_id    text PRIMARY KEY,
    time_zone    text NOT NULL DEFAULT 'UTC',
    phone_region text NOT NULL DEFAULT 'LT'
);
