-- The catalog: a tree of categories and the products sold in them.
--
-- A product is sold as exactly one SKU, and its id is that SKU: inventory keeps stock and
-- ordering keeps prices under the same id, so ids line up end to end.
CREATE TABLE category (
    category_id  VARCHAR(64)  NOT NULL COMMENT 'a slug chosen by the admin, e.g. kitchen-cups',
    parent_id    VARCHAR(64)  NULL,
    name         VARCHAR(120) NOT NULL,
    created_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (category_id),
    KEY category_children (parent_id),
    CONSTRAINT category_parent FOREIGN KEY (parent_id) REFERENCES category (category_id)
) ENGINE = InnoDB;

CREATE TABLE product (
    product_id   VARCHAR(64)   NOT NULL COMMENT 'the SKU',
    name         VARCHAR(200)  NOT NULL,
    description  VARCHAR(4000) NOT NULL DEFAULT '',
    category_id  VARCHAR(64)   NULL,
    price_minor  BIGINT        NOT NULL COMMENT 'integer minor units',
    currency     CHAR(3)       NOT NULL,
    status       VARCHAR(16)   NOT NULL COMMENT 'ACTIVE or DISCONTINUED',
    created_at   DATETIME(6)   NOT NULL,
    updated_at   DATETIME(6)   NOT NULL,
    PRIMARY KEY (product_id),
    KEY product_browse_by_category (status, category_id, price_minor),
    KEY product_browse_by_price (status, price_minor),
    KEY product_browse_by_age (status, created_at),
    CONSTRAINT product_category FOREIGN KEY (category_id) REFERENCES category (category_id),
    CONSTRAINT product_status_known CHECK (status IN ('ACTIVE', 'DISCONTINUED')),
    CONSTRAINT product_price_not_negative CHECK (price_minor >= 0)
) ENGINE = InnoDB;
