-- Promotions: a discount on a product (every SKU of it) for a time window, with a priority.
-- The selling price is the list price after the winning active promotion (docs/adr/0043); it
-- is stored with the product and each SKU so browse can filter and sort on it, and recomputed
-- whenever a price or a promotion changes and when a window opens or closes (the scheduled
-- apply-promotion-schedule catches up from `prices_as_of`).

CREATE TABLE promotion (
    promotion_id    BIGINT       NOT NULL AUTO_INCREMENT,
    product_id      VARCHAR(64)  NOT NULL,
    name            VARCHAR(120) NOT NULL,
    discount_type   VARCHAR(8)   NOT NULL COMMENT 'RATE (percent) or AMOUNT (minor units)',
    discount_value  BIGINT       NOT NULL,
    priority        INT          NOT NULL DEFAULT 0 COMMENT 'the lowest number wins',
    starts_at       DATETIME(6)  NOT NULL,
    ends_at         DATETIME(6)  NULL     COMMENT 'NULL: until ended',
    created_at      DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (promotion_id),
    KEY promotion_of_product (product_id, starts_at),
    KEY promotion_by_start (starts_at),
    KEY promotion_by_end (ends_at),
    CONSTRAINT promotion_product FOREIGN KEY (product_id) REFERENCES product (product_id),
    CONSTRAINT promotion_type_known CHECK (discount_type IN ('RATE', 'AMOUNT')),
    CONSTRAINT promotion_value_positive CHECK (discount_value > 0),
    CONSTRAINT promotion_window CHECK (ends_at IS NULL OR ends_at > starts_at)
) ENGINE = InnoDB;

ALTER TABLE product
    ADD COLUMN selling_price_minor BIGINT NOT NULL DEFAULT 0 COMMENT 'price_minor after the winning active promotion',
    ADD COLUMN prices_as_of DATETIME(6) NULL COMMENT 'when the selling prices were last computed',
    ADD KEY product_browse_by_selling_price (status, selling_price_minor);
UPDATE product SET selling_price_minor = price_minor;

ALTER TABLE sku
    ADD COLUMN selling_price_minor BIGINT NOT NULL DEFAULT 0 COMMENT 'price_minor after the winning active promotion; what an order pays';
UPDATE sku SET selling_price_minor = price_minor;
