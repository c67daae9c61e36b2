-- Orders, their lines, the history of their status, and place-order's idempotency keys.
--
-- `orders` (ORDER is a reserved word) holds one row per order; its status only moves through
-- the guarded transitions of the ordering state machine, and every move adds a history row in
-- the same transaction.
CREATE TABLE orders (
    order_id        CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'UUIDv7',
    user_id         CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'the customer who placed it',
    status          VARCHAR(16) NOT NULL COMMENT 'PLACED, CONFIRMED or CANCELLED',
    total_minor     BIGINT      NOT NULL COMMENT 'integer minor units',
    currency        CHAR(3)     NOT NULL,
    payment_token   VARCHAR(64) NOT NULL COMMENT 'opaque payment method token, passed on to payment',
    cancel_reason   VARCHAR(64) NULL,
    payment_due_at  DATETIME(6) NOT NULL COMMENT 'a PLACED order still unpaid after this is cancelled',
    created_at      DATETIME(6) NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    PRIMARY KEY (order_id),
    KEY orders_of_user (user_id, created_at),
    KEY orders_due (status, payment_due_at),
    CONSTRAINT orders_status_known CHECK (status IN ('PLACED', 'CONFIRMED', 'CANCELLED')),
    CONSTRAINT orders_total_positive CHECK (total_minor > 0)
) ENGINE = InnoDB;

CREATE TABLE order_line (
    order_id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    line_no           INT          NOT NULL,
    product_id        VARCHAR(64)  NOT NULL,
    product_name      VARCHAR(200) NULL,
    quantity          INT          NOT NULL,
    unit_price_minor  BIGINT       NOT NULL COMMENT 'from ordering.product_price when the order was placed',
    PRIMARY KEY (order_id, line_no),
    CONSTRAINT order_line_quantity_positive CHECK (quantity > 0),
    CONSTRAINT order_line_price_not_negative CHECK (unit_price_minor >= 0)
) ENGINE = InnoDB;

CREATE TABLE order_status_history (
    id           BIGINT      NOT NULL AUTO_INCREMENT,
    order_id     CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    from_status  VARCHAR(16) NULL COMMENT 'NULL for the first row',
    to_status    VARCHAR(16) NOT NULL,
    reason       VARCHAR(64) NULL,
    caused_by    VARCHAR(64) NULL COMMENT 'the event or request that caused the move',
    occurred_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY history_of_order (order_id, id)
) ENGINE = InnoDB;

-- One row per (customer, Idempotency-Key): a replay with the same request returns the same
-- order; a replay with a different request is refused. The fingerprint is the SHA-256 of the
-- normalised request.
CREATE TABLE order_idempotency (
    user_id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idempotency_key  VARCHAR(128) NOT NULL,
    request_hash     CHAR(64) CHARACTER SET ascii NOT NULL,
    order_id         CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at       DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (user_id, idempotency_key)
) ENGINE = InnoDB;
