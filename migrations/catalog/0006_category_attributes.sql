-- Category attributes and the values products give them.
--
-- A category defines attributes (e.g. Material, Screen size); a product in the category, or in
-- any category below it, gives them values. Values are stored normalized by the attribute's
-- type (a NUMBER as its shortest decimal, a BOOLEAN as true/false, an ENUM as the option's own
-- spelling), so a browse filter compares them with one equality. Decisions: docs/adr/0042.

CREATE TABLE category_attribute (
    attribute_id  BIGINT       NOT NULL AUTO_INCREMENT,
    category_id   VARCHAR(64)  NOT NULL,
    name          VARCHAR(60)  NOT NULL,
    type          VARCHAR(16)  NOT NULL COMMENT 'STRING, NUMBER, ENUM or BOOLEAN; fixed at creation',
    required      BOOLEAN      NOT NULL DEFAULT FALSE,
    options       JSON         NULL     COMMENT 'ENUM only: the allowed values, in order',
    position      INT          NOT NULL COMMENT 'order within the category',
    created_at    DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at    DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (attribute_id),
    UNIQUE KEY category_attribute_name (category_id, name),
    CONSTRAINT category_attribute_category FOREIGN KEY (category_id) REFERENCES category (category_id),
    CONSTRAINT category_attribute_type_known CHECK (type IN ('STRING', 'NUMBER', 'ENUM', 'BOOLEAN')),
    CONSTRAINT category_attribute_options_only_for_enum CHECK ((type = 'ENUM') = (options IS NOT NULL))
) ENGINE = InnoDB;

CREATE TABLE product_attribute_value (
    product_id    VARCHAR(64)  NOT NULL,
    attribute_id  BIGINT       NOT NULL,
    value         VARCHAR(200) NOT NULL COMMENT 'normalized by the attribute''s type',
    PRIMARY KEY (product_id, attribute_id),
    -- A browse filter asks "does this product have this value of this attribute": the
    -- index answers it without reading the row, and also lists the products with a value.
    KEY product_attribute_filter (attribute_id, value, product_id),
    CONSTRAINT product_attribute_value_product FOREIGN KEY (product_id) REFERENCES product (product_id),
    CONSTRAINT product_attribute_value_attribute FOREIGN KEY (attribute_id) REFERENCES category_attribute (attribute_id)
) ENGINE = InnoDB;
