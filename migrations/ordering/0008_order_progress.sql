-- The saga's steps that happen outside ordering, as ordering learns of them: inventory's
-- stock.reserved and payment's payment.authorized, each with the time its context says it
-- happened. The order page shows them between PLACED and CONFIRMED (docs/adr/0051).
--
-- One row per order and step: the first event of a step is kept, so a redelivery or a
-- replay of the topic changes nothing.
CREATE TABLE order_progress (
    order_id     CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    step         VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'STOCK_RESERVED or PAYMENT_AUTHORIZED',
    occurred_at  DATETIME(6) NOT NULL COMMENT 'the producer''s time of the event, or when ordering received it if it gave none',
    event_id     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'the CloudEvent id that recorded the step',
    PRIMARY KEY (order_id, step),
    CONSTRAINT order_progress_step_known CHECK (step IN ('STOCK_RESERVED', 'PAYMENT_AUTHORIZED'))
) ENGINE = InnoDB;
