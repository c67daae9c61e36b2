-- The original's product lifecycle: DRAFT -> ACTIVE <-> SUSPENDED -> DELETED (docs/adr/0044).
-- What was DISCONTINUED is SUSPENDED: it cannot be ordered and may be activated again.
ALTER TABLE product DROP CONSTRAINT product_status_known;
UPDATE product SET status = 'SUSPENDED' WHERE status = 'DISCONTINUED';
ALTER TABLE product
    MODIFY COLUMN status VARCHAR(16) NOT NULL COMMENT 'DRAFT, ACTIVE, SUSPENDED or DELETED',
    ADD CONSTRAINT product_status_known CHECK (status IN ('DRAFT', 'ACTIVE', 'SUSPENDED', 'DELETED'));
