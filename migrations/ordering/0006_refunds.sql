-- Refunds of confirmed orders (docs/adr/0046).
--
-- A refund covers whole lines. A line is refundable while `refund_status` is NULL; asking for a
-- refund sets it to REFUND_REQUESTED with the refund's id (under the order's row lock, in the
-- same transaction as `order.refund-requested`), payment's answer sets it to REFUNDED or back
-- to NULL. So a line belongs to at most one refund in flight and is refunded at most once.
ALTER TABLE orders
    MODIFY COLUMN status VARCHAR(24) NOT NULL COMMENT 'PLACED, CONFIRMED, CANCELLED, PARTIALLY_REFUNDED or REFUNDED',
    DROP CONSTRAINT orders_status_known,
    ADD CONSTRAINT orders_status_known
        CHECK (status IN ('PLACED', 'CONFIRMED', 'CANCELLED', 'PARTIALLY_REFUNDED', 'REFUNDED'));

ALTER TABLE order_status_history
    MODIFY COLUMN from_status VARCHAR(24) NULL COMMENT 'NULL for the first row',
    MODIFY COLUMN to_status   VARCHAR(24) NOT NULL;

ALTER TABLE order_line
    ADD COLUMN refund_status VARCHAR(16) NULL COMMENT 'NULL (refundable), REFUND_REQUESTED or REFUNDED',
    ADD COLUMN refund_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT 'the refund in flight or done',
    ADD CONSTRAINT order_line_refund_status_known
        CHECK (refund_status IS NULL OR refund_status IN ('REFUND_REQUESTED', 'REFUNDED')),
    ADD CONSTRAINT order_line_refund_has_id CHECK ((refund_status IS NULL) = (refund_id IS NULL));

-- One row per refund a customer asked for, and one per (customer, Idempotency-Key): a replay
-- of the same request answers the same refund. `status` is REQUESTED until payment answers,
-- then SUCCEEDED or FAILED (with payment's reason).
CREATE TABLE order_refund (
    refund_id        CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'UUIDv7',
    order_id         CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idempotency_key  VARCHAR(128) NOT NULL,
    request_hash     CHAR(64) CHARACTER SET ascii NOT NULL COMMENT 'SHA-256 of the order id and the line numbers',
    status           VARCHAR(16) NOT NULL,
    amount_minor     BIGINT      NOT NULL COMMENT 'the lines'' prices times their quantities, integer minor units',
    currency         CHAR(3)     NOT NULL,
    failure_reason   VARCHAR(64) NULL COMMENT 'payment''s reason when FAILED',
    created_at       DATETIME(6) NOT NULL,
    updated_at       DATETIME(6) NOT NULL,
    PRIMARY KEY (refund_id),
    UNIQUE KEY order_refund_idempotency (user_id, idempotency_key),
    KEY refunds_of_order (order_id, created_at),
    CONSTRAINT order_refund_status_known CHECK (status IN ('REQUESTED', 'SUCCEEDED', 'FAILED')),
    CONSTRAINT order_refund_amount_positive CHECK (amount_minor > 0)
) ENGINE = InnoDB;

-- The lines of each refund (a failed refund keeps its lines here; the lines themselves become
-- refundable again).
CREATE TABLE order_refund_line (
    refund_id  CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    line_no    INT NOT NULL,
    PRIMARY KEY (refund_id, line_no)
) ENGINE = InnoDB;
