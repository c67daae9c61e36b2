-- What a product page shows besides the product itself: ratings from reviews, likes, sales
-- and whether any SKU is in stock. Reviews and likes are catalog's own; sales and stock
-- arrive as events from ordering and inventory, never from calls between contexts.

ALTER TABLE product
    ADD COLUMN rating_sum    BIGINT  NOT NULL DEFAULT 0 COMMENT 'sum of the ratings of visible reviews',
    ADD COLUMN review_count  INT     NOT NULL DEFAULT 0 COMMENT 'visible reviews',
    ADD COLUMN like_count    INT     NOT NULL DEFAULT 0,
    ADD COLUMN sales_count   BIGINT  NOT NULL DEFAULT 0 COMMENT 'units sold in confirmed orders',
    ADD COLUMN available     BOOLEAN NOT NULL DEFAULT FALSE COMMENT 'an active SKU has stock, from inventory''s events',
    ADD KEY product_browse_by_sales (status, sales_count),
    ADD KEY product_browse_by_reviews (status, review_count);

ALTER TABLE sku
    ADD COLUMN in_stock        BOOLEAN     NOT NULL DEFAULT FALSE COMMENT 'from stock.restored / stock.depleted',
    ADD COLUMN stock_event_at  DATETIME(6) NULL     COMMENT 'time of the newest stock event applied; older ones are ignored';

-- A line of a confirmed order: what sales are counted from (once per order and SKU, whatever
-- redelivers the event) and what lets its buyer review the product.
CREATE TABLE sold_line (
    order_id      VARCHAR(64) NOT NULL,
    sku           VARCHAR(64) NOT NULL,
    product_id    VARCHAR(64) NOT NULL,
    user_id       VARCHAR(64) NOT NULL,
    quantity      INT         NOT NULL,
    confirmed_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (order_id, sku),
    KEY sold_line_by_buyer (user_id, product_id)
) ENGINE = InnoDB;

CREATE TABLE review (
    review_id   CHAR(36) CHARACTER SET ascii NOT NULL,
    product_id  VARCHAR(64)   NOT NULL,
    order_id    VARCHAR(64)   NOT NULL,
    sku         VARCHAR(64)   NOT NULL,
    user_id     VARCHAR(64)   NOT NULL,
    rating      TINYINT       NOT NULL,
    title       VARCHAR(200)  NOT NULL,
    content     VARCHAR(4000) NOT NULL,
    like_count  INT           NOT NULL DEFAULT 0,
    status      VARCHAR(16)   NOT NULL COMMENT 'VISIBLE or DELETED',
    created_at  DATETIME(6)   NOT NULL,
    updated_at  DATETIME(6)   NOT NULL,
    PRIMARY KEY (review_id),
    UNIQUE KEY review_per_order_line (order_id, sku),
    KEY review_of_product (product_id, status, created_at),
    CONSTRAINT review_rating CHECK (rating BETWEEN 1 AND 5),
    CONSTRAINT review_status_known CHECK (status IN ('VISIBLE', 'DELETED'))
) ENGINE = InnoDB;

CREATE TABLE product_like (
    product_id  VARCHAR(64) NOT NULL,
    user_id     VARCHAR(64) NOT NULL,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (product_id, user_id)
) ENGINE = InnoDB;

CREATE TABLE review_like (
    review_id   CHAR(36) CHARACTER SET ascii NOT NULL,
    user_id     VARCHAR(64) NOT NULL,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (review_id, user_id)
) ENGINE = InnoDB;
