-- The ordering context's own projection of the catalog: what a product costs now and whether
-- it can be ordered. Filled from commerce.catalog.product events; place-order prices lines
-- from here and never trusts a price sent by the client.
CREATE TABLE product_price (
    product_id     VARCHAR(64)  NOT NULL,
    name           VARCHAR(200) NULL     COMMENT 'unknown until product.created is seen',
    price_minor    BIGINT       NOT NULL COMMENT 'integer minor units, e.g. cents',
    currency       CHAR(3)      NOT NULL COMMENT 'ISO 4217',
    orderable      BOOLEAN      NOT NULL DEFAULT TRUE,
    last_event_at  DATETIME(6)  NOT NULL COMMENT 'time of the newest catalog event applied; older ones are ignored',
    PRIMARY KEY (product_id)
) ENGINE = InnoDB;
