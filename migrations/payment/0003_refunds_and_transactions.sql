-- Refunds as partial cancellations of a capture, and a ledger of every gateway transaction
-- (docs/adr/0046, 0047).
--
-- `refunded_minor` is what was given back of the captured amount so far; the CHECK makes
-- "refunded total <= captured amount" a rule of the database, whatever the code does. A
-- captured payment becomes PARTIALLY_CANCELED after its first refund and FULLY_CANCELED when
-- nothing captured is left. (CANCELLED stays what it was: an order cancelled before any
-- authorization.)
ALTER TABLE payment
    MODIFY COLUMN status VARCHAR(24) NOT NULL
        COMMENT 'PENDING, AUTHORIZED, DECLINED, CAPTURED, VOIDED, CANCELLED, PARTIALLY_CANCELED or FULLY_CANCELED',
    ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0 COMMENT 'refunded of the captured amount, integer minor units',
    DROP CONSTRAINT payment_status_known,
    ADD CONSTRAINT payment_status_known
        CHECK (status IN ('PENDING', 'AUTHORIZED', 'DECLINED', 'CAPTURED', 'VOIDED', 'CANCELLED',
                          'PARTIALLY_CANCELED', 'FULLY_CANCELED')),
    ADD CONSTRAINT payment_refunded_within_captured
        CHECK (refunded_minor >= 0 AND (refunded_minor = 0 OR refunded_minor <= amount_minor));

-- One row per refund ordering asked for, by ordering's refund id: the outcome once decided
-- (so a redelivered or replayed request never refunds twice) and the transient gateway
-- failures so far.
CREATE TABLE payment_refund (
    refund_id         CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    order_id          VARCHAR(64) NOT NULL,
    status            VARCHAR(16) NOT NULL COMMENT 'PENDING, SUCCEEDED or FAILED',
    amount_minor      BIGINT      NULL,
    currency          CHAR(3)     NULL,
    gateway_attempts  INT         NOT NULL DEFAULT 0,
    failure_reason    VARCHAR(64) NULL,
    created_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (refund_id),
    KEY refunds_of_order (order_id),
    CONSTRAINT payment_refund_status_known CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED'))
) ENGINE = InnoDB;

-- Every money movement the gateway confirmed, in order: AUTHORIZE, CAPTURE, VOID, and for
-- refunds PARTIAL_CANCEL (some of the capture) or CANCEL (the rest of it). A refund has at
-- most one row (unique refund_id).
CREATE TABLE payment_transaction (
    id            BIGINT      NOT NULL AUTO_INCREMENT,
    order_id      VARCHAR(64) NOT NULL,
    payment_id    CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind          VARCHAR(16) NOT NULL,
    amount_minor  BIGINT      NOT NULL,
    currency      CHAR(3)     NOT NULL,
    reference     VARCHAR(64) NULL COMMENT 'the gateway''s reference',
    refund_id     CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY transactions_of_order (order_id, id),
    UNIQUE KEY transaction_of_refund (refund_id),
    CONSTRAINT payment_transaction_kind_known
        CHECK (kind IN ('AUTHORIZE', 'CAPTURE', 'VOID', 'PARTIAL_CANCEL', 'CANCEL')),
    CONSTRAINT payment_transaction_amount_not_negative CHECK (amount_minor >= 0)
) ENGINE = InnoDB;
