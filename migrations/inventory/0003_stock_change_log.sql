-- Every change of a SKU's stock, written in the same transaction as the change itself.
--
-- Admins read it to answer "where did these units go?": the row says what happened (action),
-- for which order if any, by how much, and what the levels were right after. Redelivered
-- events change nothing and so log nothing; the log holds effects, not attempts.
CREATE TABLE stock_change (
    id              BIGINT      NOT NULL AUTO_INCREMENT,
    sku             VARCHAR(64) NOT NULL,
    order_id        VARCHAR(64) NULL     COMMENT 'the order whose reservation moved the stock; NULL for admin and catalog changes',
    action          VARCHAR(16) NOT NULL COMMENT 'INITIALIZE, SET, ADJUST, RESERVE, RELEASE, COMMIT or EXPIRE',
    quantity        BIGINT      NOT NULL COMMENT 'signed change of on_hand (INITIALIZE, SET, ADJUST, COMMIT) or of reserved (RESERVE, RELEASE, EXPIRE)',
    on_hand_after   BIGINT      NOT NULL,
    reserved_after  BIGINT      NOT NULL,
    created_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY stock_change_by_sku_and_time (sku, created_at),
    CONSTRAINT stock_change_action_known
        CHECK (action IN ('INITIALIZE', 'SET', 'ADJUST', 'RESERVE', 'RELEASE', 'COMMIT', 'EXPIRE'))
) ENGINE = InnoDB;
