-- One payment per order. The order id is the primary key, which is what makes every payment
-- step idempotent by order whatever event ids carry it.
--
-- Authorization needs two facts that arrive on different topics in either order: the order
-- (amount, currency, token; from order.placed) and its reserved stock (from stock.reserved).
-- Whichever event comes second finds both flags set and authorizes. A cancellation that
-- arrives first leaves a CANCELLED row, so a late authorization never happens.
CREATE TABLE payment (
    order_id          VARCHAR(64) NOT NULL,
    payment_id        CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'UUIDv7',
    status            VARCHAR(16) NOT NULL COMMENT 'PENDING, AUTHORIZED, DECLINED, CAPTURED, VOIDED or CANCELLED',
    order_placed      BOOLEAN     NOT NULL DEFAULT FALSE,
    stock_reserved    BOOLEAN     NOT NULL DEFAULT FALSE,
    amount_minor      BIGINT      NULL COMMENT 'integer minor units; known once order.placed is seen',
    currency          CHAR(3)     NULL,
    payment_token     VARCHAR(64) NULL COMMENT 'opaque payment method token chosen by the customer',
    gateway_attempts  INT         NOT NULL DEFAULT 0 COMMENT 'authorizations that timed out or failed transiently',
    authorization_id  VARCHAR(64) NULL,
    decline_reason    VARCHAR(64) NULL,
    created_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (order_id),
    UNIQUE KEY payment_by_id (payment_id),
    CONSTRAINT payment_status_known
        CHECK (status IN ('PENDING', 'AUTHORIZED', 'DECLINED', 'CAPTURED', 'VOIDED', 'CANCELLED')),
    CONSTRAINT payment_amount_positive CHECK (amount_minor IS NULL OR amount_minor > 0)
) ENGINE = InnoDB;
