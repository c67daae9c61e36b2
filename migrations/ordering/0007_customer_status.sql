-- Ordering's own copy of whether a customer may still place orders, projected from
-- identity's user.locked, user.unlocked and user.withdrawn events (docs/adr/0048). Access
-- tokens are checked locally and live up to their expiry after a lock; this table lets
-- place-order refuse a locked or withdrawn customer within the relay's and the dispatcher's
-- latency instead.
--
-- A customer without a row was never locked: every account starts active, and the
-- projection does not copy registrations. WITHDRAWN is final.
CREATE TABLE customer_status (
    user_id        CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status         VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'ACTIVE, LOCKED or WITHDRAWN',
    last_event_at  DATETIME(6) NOT NULL COMMENT 'identity''s time of the newest status event applied; older ones are ignored',
    PRIMARY KEY (user_id),
    CONSTRAINT customer_status_known CHECK (status IN ('ACTIVE', 'LOCKED', 'WITHDRAWN'))
) ENGINE = InnoDB;
