-- Stock per SKU and the reservations orders hold on it.
--
-- available = on_hand - reserved. The CHECK constraints are the last line of defence against
-- overselling: whatever a bug in the code does, MariaDB refuses a row with reserved stock it
-- does not have.
CREATE TABLE stock (
    sku         VARCHAR(64) NOT NULL,
    on_hand     BIGINT      NOT NULL COMMENT 'units in the warehouse, reserved ones included',
    reserved    BIGINT      NOT NULL DEFAULT 0 COMMENT 'units held by live reservations',
    updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (sku),
    CONSTRAINT stock_on_hand_not_negative CHECK (on_hand >= 0),
    CONSTRAINT stock_reserved_within_on_hand CHECK (reserved >= 0 AND reserved <= on_hand)
) ENGINE = InnoDB;

-- One reservation per order: its primary key is what makes reserving, releasing and
-- committing idempotent per order, whatever event ids carry them. A release that arrives
-- before the reservation leaves a RELEASED row without lines, so the late order.placed finds
-- the order already settled and reserves nothing.
CREATE TABLE reservation (
    order_id    VARCHAR(64) NOT NULL,
    status      VARCHAR(16) NOT NULL COMMENT 'RESERVED, FAILED, RELEASED or COMMITTED',
    expires_at  DATETIME(6) NULL     COMMENT 'a RESERVED reservation lapses after this',
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (order_id),
    KEY reservation_by_status_and_expiry (status, expires_at),
    CONSTRAINT reservation_status_known CHECK (status IN ('RESERVED', 'FAILED', 'RELEASED', 'COMMITTED'))
) ENGINE = InnoDB;

CREATE TABLE reservation_line (
    order_id  VARCHAR(64) NOT NULL,
    sku       VARCHAR(64) NOT NULL,
    quantity  BIGINT      NOT NULL,
    PRIMARY KEY (order_id, sku),
    CONSTRAINT reservation_line_positive CHECK (quantity > 0)
) ENGINE = InnoDB;
