-- The shopping flow (docs/adr/0044, 0045): the list price beside the selling price in the
-- catalog projection, customers' carts and shipping addresses, and what an order adds to its
-- lines: a human-readable number, a snapshot of the address it ships to, and its totals.

-- Catalog's sku-created / sku-price-changed carry the list price since the promotions; older
-- events did not, so NULL means "no discount known".
ALTER TABLE product_price
    ADD COLUMN list_price_minor BIGINT NULL COMMENT 'price before promotions; NULL when catalog did not say';

-- One row per customer who has a cart line or an address. Every change to either locks it
-- first, so the limits (lines per cart, addresses per customer, one default) hold under
-- concurrent requests.
CREATE TABLE shopper (
    user_id     CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (user_id)
) ENGINE = InnoDB;

CREATE TABLE cart_line (
    user_id     CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    product_id  VARCHAR(64) NOT NULL COMMENT 'the SKU',
    quantity    INT         NOT NULL,
    added_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, product_id),
    KEY cart_line_in_order (user_id, added_at),
    CONSTRAINT cart_line_quantity_positive CHECK (quantity > 0)
) ENGINE = InnoDB;

-- Adds to the cart are idempotent per (customer, Idempotency-Key): a replay of the same add
-- changes nothing, a different add under the same key is refused.
CREATE TABLE cart_add (
    user_id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idempotency_key  VARCHAR(128) NOT NULL,
    request_hash     CHAR(64) CHARACTER SET ascii NOT NULL,
    created_at       DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (user_id, idempotency_key)
) ENGINE = InnoDB;

CREATE TABLE address (
    address_id   CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'UUIDv7',
    user_id      CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    recipient    VARCHAR(100) NOT NULL,
    phone        VARCHAR(20)  NOT NULL,
    line1        VARCHAR(200) NOT NULL,
    line2        VARCHAR(200) NULL,
    city         VARCHAR(100) NOT NULL,
    postal_code  VARCHAR(16)  NOT NULL,
    country      CHAR(2)      NOT NULL COMMENT 'ISO 3166-1 alpha-2',
    is_default   BOOLEAN      NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    -- The customer's id on their default address, NULL on the others: the unique key keeps
    -- one default per customer, whatever the code does. (MariaDB refuses a generated column
    -- for it, so the code writes it with is_default.)
    default_of   CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    PRIMARY KEY (address_id),
    KEY addresses_of_user (user_id, created_at),
    UNIQUE KEY address_one_default (default_of)
) ENGINE = InnoDB;

-- Orders placed before this migration have no number, totals breakdown or address.
ALTER TABLE orders
    ADD COLUMN order_number        VARCHAR(24)  NULL COMMENT 'human-readable, e.g. 20261202-7K3M9QXR2T',
    ADD COLUMN subtotal_minor      BIGINT       NULL COMMENT 'the lines at their selling prices',
    ADD COLUMN discount_minor      BIGINT       NULL COMMENT 'sum of (list - selling) x quantity',
    ADD COLUMN shipping_fee_minor  BIGINT       NULL,
    ADD COLUMN ship_recipient      VARCHAR(100) NULL COMMENT 'snapshot of the address at checkout',
    ADD COLUMN ship_phone          VARCHAR(20)  NULL,
    ADD COLUMN ship_line1          VARCHAR(200) NULL,
    ADD COLUMN ship_line2          VARCHAR(200) NULL,
    ADD COLUMN ship_city           VARCHAR(100) NULL,
    ADD COLUMN ship_postal_code    VARCHAR(16)  NULL,
    ADD COLUMN ship_country        CHAR(2)      NULL,
    ADD UNIQUE KEY orders_number (order_number);

ALTER TABLE order_line
    ADD COLUMN list_price_minor BIGINT NULL COMMENT 'the list price when placed; NULL when unknown';
