-- A product with options is sold as several SKUs, each with its own price. Every SKU has a
-- row here under its own id (`product_id` is the SKU, as it always was: a product without
-- options has one SKU with the product's id). Discontinuing a product stops all its SKUs, so
-- a SKU of a product with options remembers its product; deactivating a SKU is final.
ALTER TABLE product_price
    ADD COLUMN product_of VARCHAR(64) NULL COMMENT 'the product of a SKU of a product with options; NULL when the SKU is the product',
    ADD COLUMN sku_active BOOLEAN NOT NULL DEFAULT TRUE COMMENT 'false once catalog deactivated the SKU (final)',
    ADD KEY product_price_by_product (product_of);
