-- Brands, option groups and the SKUs they make, and keyword search.
--
-- A product is sold as SKUs. Without options it has one, whose id is the product's id (as
-- before); with option groups it has one per combination of live options, `<product>-<n>`.
-- Every SKU is a row of `sku`, so a SKU id can never be taken twice across products.

CREATE TABLE brand (
    brand_id    VARCHAR(64)  NOT NULL COMMENT 'a slug chosen by the admin',
    name        VARCHAR(120) NOT NULL,
    created_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    deleted_at  DATETIME(6)  NULL     COMMENT 'soft delete: products keep their brand, new ones cannot take it',
    PRIMARY KEY (brand_id)
) ENGINE = InnoDB;

ALTER TABLE product
    ADD COLUMN brand_id     VARCHAR(64) NULL AFTER category_id,
    ADD COLUMN has_options  BOOLEAN     NOT NULL DEFAULT FALSE COMMENT 'sold as the SKUs of its options, fixed at creation',
    ADD COLUMN sku_count    INT         NOT NULL DEFAULT 0 COMMENT 'SKUs ever made: the next one is numbered sku_count + 1',
    ADD COLUMN search_text  TEXT        NOT NULL DEFAULT '' COMMENT 'tokens of name, description and brand (functions/catalog/src/search.rs)',
    ADD KEY product_browse_by_brand (status, brand_id, price_minor),
    ADD CONSTRAINT product_brand FOREIGN KEY (brand_id) REFERENCES brand (brand_id),
    ADD FULLTEXT KEY product_search (search_text);

CREATE TABLE option_group (
    group_id    BIGINT      NOT NULL AUTO_INCREMENT,
    product_id  VARCHAR(64) NOT NULL,
    name        VARCHAR(60) NOT NULL,
    position    INT         NOT NULL,
    PRIMARY KEY (group_id),
    UNIQUE KEY option_group_name (product_id, name),
    CONSTRAINT option_group_product FOREIGN KEY (product_id) REFERENCES product (product_id)
) ENGINE = InnoDB;

CREATE TABLE product_option (
    option_id        BIGINT      NOT NULL AUTO_INCREMENT,
    group_id         BIGINT      NOT NULL,
    product_id       VARCHAR(64) NOT NULL,
    name             VARCHAR(60) NOT NULL,
    surcharge_minor  BIGINT      NOT NULL DEFAULT 0,
    position         INT         NOT NULL,
    removed_at       DATETIME(6) NULL COMMENT 'a removed option deactivated its SKUs',
    PRIMARY KEY (option_id),
    KEY product_option_of_product (product_id, group_id),
    CONSTRAINT product_option_group FOREIGN KEY (group_id) REFERENCES option_group (group_id),
    CONSTRAINT product_option_surcharge CHECK (surcharge_minor >= 0)
) ENGINE = InnoDB;

CREATE TABLE sku (
    sku          VARCHAR(64)  NOT NULL,
    product_id   VARCHAR(64)  NOT NULL,
    option_key   VARCHAR(255) CHARACTER SET ascii NOT NULL COMMENT 'the option ids ascending, comma-separated; empty for a product without options',
    options      JSON         NOT NULL COMMENT 'group name to option name',
    price_minor  BIGINT       NOT NULL COMMENT 'base price plus surcharges',
    status       VARCHAR(16)  NOT NULL COMMENT 'ACTIVE or DEACTIVATED (final)',
    created_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (sku),
    UNIQUE KEY sku_combination (product_id, option_key),
    CONSTRAINT sku_product FOREIGN KEY (product_id) REFERENCES product (product_id),
    CONSTRAINT sku_status_known CHECK (status IN ('ACTIVE', 'DEACTIVATED'))
) ENGINE = InnoDB;

-- Every product made before options existed is sold as one SKU under its own id.
INSERT INTO sku (sku, product_id, option_key, options, price_minor, status)
SELECT product_id, product_id, '', '{}', price_minor, 'ACTIVE' FROM product;
