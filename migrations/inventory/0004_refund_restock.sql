-- Units of refunded order lines come back on hand (docs/adr/0046).
--
-- `refund_restock` holds one row per refund whose units were put back, written in the same
-- transaction: the units of a refund return exactly once, even when `order.refunded` arrives
-- again under another event id (a republished outbox row).
CREATE TABLE refund_restock (
    refund_id   CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    order_id    VARCHAR(64) NOT NULL,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (refund_id)
) ENGINE = InnoDB;

ALTER TABLE stock_change
    MODIFY COLUMN action VARCHAR(16) NOT NULL
        COMMENT 'INITIALIZE, SET, ADJUST, RESERVE, RELEASE, COMMIT, EXPIRE or REFUND',
    DROP CONSTRAINT stock_change_action_known,
    ADD CONSTRAINT stock_change_action_known
        CHECK (action IN ('INITIALIZE', 'SET', 'ADJUST', 'RESERVE', 'RELEASE', 'COMMIT', 'EXPIRE', 'REFUND'));
