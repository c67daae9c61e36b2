-- The ordering context's transactional outbox and inbox.
--
-- outbox: a use case inserts its events here in the same transaction as its state change;
-- the CDC relay reads the inserts from the binlog, publishes each row as a CloudEvent to
-- `topic`, keyed by `aggregateid`, and later purges published rows. The first five columns
-- carry the names Debezium's Outbox Event Router expects, so either relay can read the table.
CREATE TABLE outbox (
    id             CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'UUIDv7; the CloudEvent id',
    aggregatetype  VARCHAR(64)  NOT NULL COMMENT 'e.g. order; the routing field of the Debezium router',
    aggregateid    VARCHAR(64)  NOT NULL COMMENT 'Kafka key, CloudEvent subject and partitionkey',
    type           VARCHAR(128) NOT NULL COMMENT 'CloudEvent type, e.g. commerce.order.placed.v1',
    payload        JSON         NOT NULL COMMENT 'the event body',
    topic          VARCHAR(249) NOT NULL COMMENT 'the Kafka topic of the aggregate',
    source         VARCHAR(255) NOT NULL COMMENT 'CloudEvent source: the producing context/function',
    traceparent    VARCHAR(55)  NULL     COMMENT 'W3C trace context of the request that caused the event',
    tracestate     VARCHAR(512) NULL,
    correlationid  VARCHAR(64)  NULL     COMMENT 'id shared by every event of one business flow',
    causationid    VARCHAR(64)  NULL     COMMENT 'id of the event or request that caused this one',
    occurred_at    DATETIME(6)  NOT NULL COMMENT 'CloudEvent time, UTC',
    PRIMARY KEY (id)
) ENGINE = InnoDB;

-- processed_event: the inbox. A consumer records each event id it handled in the same
-- transaction as the effect, so a redelivered event is recognised and acknowledged as a no-op.
CREATE TABLE processed_event (
    consumer      VARCHAR(64) NOT NULL COMMENT 'the function that handled the event',
    event_id      CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    processed_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (consumer, event_id)
) ENGINE = InnoDB;
