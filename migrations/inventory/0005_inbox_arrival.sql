-- What the inbox keeps of each handled event besides its id, so a saga's hops can be read back
-- in one query per context: the event's type, its saga (correlation id; an order's saga is
-- the order id), when its producer committed it, when the relay handed it to Kafka (the
-- record's timestamp), which delivery attempt succeeded and the W3C trace id. processed_at
-- is when the consumer's transaction began: the hop's arrival (docs/adr/0057).
-- All nullable: rows written before this migration, and triggers that do not tell (Knative's
-- KafkaSource sends no Kafka timestamp), leave them empty.
ALTER TABLE processed_event
    ADD COLUMN event_type     VARCHAR(128) NULL COMMENT 'CloudEvent type',
    ADD COLUMN correlation_id VARCHAR(64)  NULL COMMENT 'the business flow; an order''s saga is its order id',
    ADD COLUMN occurred_at    DATETIME(6)  NULL COMMENT 'CloudEvent time: when the producer committed it',
    ADD COLUMN published_at   DATETIME(6)  NULL COMMENT 'Kafka record timestamp: when the relay published it',
    ADD COLUMN attempt        SMALLINT UNSIGNED NULL COMMENT 'the delivery attempt that was handled, from 1',
    ADD COLUMN trace_id       CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT 'W3C trace id of the request that began the flow',
    ADD INDEX processed_event_correlation (correlation_id);
