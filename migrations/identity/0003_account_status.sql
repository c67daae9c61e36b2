-- The account's life after registration: an admin may lock and unlock it, and its user may
-- withdraw (docs/adr/0048).
--
-- status: ACTIVE, LOCKED (no login, no refresh, sessions ended) or WITHDRAWN (final). A
-- withdrawn account keeps its row and id, so the orders other contexts keep for the books
-- still name a user, but nothing personal: its e-mail becomes `withdrawn:<id>` (no `@`, so
-- no address a person can register or log in with ever equals it, and the real address is
-- free to register again), its display name is emptied and its password hash is cleared.
ALTER TABLE user_account
    MODIFY COLUMN password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL
        COMMENT 'argon2id PHC string; NULL once the account is withdrawn',
    ADD COLUMN status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'ACTIVE'
        COMMENT 'ACTIVE, LOCKED or WITHDRAWN',
    ADD COLUMN locked_at DATETIME(6) NULL COMMENT 'when an admin locked it; NULL unless LOCKED',
    ADD COLUMN locked_by CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT 'the admin who locked it',
    ADD COLUMN withdrawn_at DATETIME(6) NULL COMMENT 'when its user withdrew; kept for the books',
    ADD CONSTRAINT user_account_status_known CHECK (status IN ('ACTIVE', 'LOCKED', 'WITHDRAWN')),
    ADD CONSTRAINT user_account_withdrawn_has_no_password CHECK (status <> 'WITHDRAWN' OR password_hash IS NULL);
