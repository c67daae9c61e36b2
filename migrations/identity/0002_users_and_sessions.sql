-- The identity context: accounts, their roles, sessions (refresh-token families), the refresh
-- tokens of each session, and the history of login attempts.

-- user_account: one row per registered user. email is stored normalised (trimmed, lower
-- case), so the unique key is what makes a second registration of the same address a
-- conflict, whatever its case or surrounding spaces.
CREATE TABLE user_account (
    id             CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'UUIDv7',
    email          VARCHAR(254) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'normalised',
    display_name   VARCHAR(400) NOT NULL COMMENT 'NFC, at most 100 characters',
    password_hash  VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'argon2id PHC string',
    created_at     DATETIME(6)  NOT NULL,
    updated_at     DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY user_account_email (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- user_role: every user has `customer`; `admin` is granted only by the bootstrap command.
CREATE TABLE user_role (
    user_id     CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    role        VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    granted_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, role),
    CONSTRAINT user_role_user FOREIGN KEY (user_id) REFERENCES user_account (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- user_session: one login, i.e. one refresh-token family. Revoking it (logout, reuse of a
-- rotated refresh token, password change) ends every refresh token of the family, and the
-- identity functions refuse access tokens that name it.
CREATE TABLE user_session (
    id              CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'UUIDv7; the access tokens'' sid',
    user_id         CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at      DATETIME(6) NOT NULL,
    last_used_at    DATETIME(6) NOT NULL,
    revoked_at      DATETIME(6) NULL,
    revoked_reason  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT 'logout, refresh-token-reused, password-changed',
    PRIMARY KEY (id),
    KEY user_session_user (user_id),
    CONSTRAINT user_session_user FOREIGN KEY (user_id) REFERENCES user_account (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- refresh_token: only the SHA-256 of each opaque token is stored. A token is used once:
-- refreshing marks it used and issues the next one in the same session; presenting a used
-- token again is reuse, and revokes the session.
CREATE TABLE refresh_token (
    token_hash  BINARY(32)  NOT NULL COMMENT 'SHA-256 of the token',
    session_id  CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    issued_at   DATETIME(6) NOT NULL,
    expires_at  DATETIME(6) NOT NULL,
    used_at     DATETIME(6) NULL,
    PRIMARY KEY (token_hash),
    KEY refresh_token_session (session_id),
    CONSTRAINT refresh_token_session FOREIGN KEY (session_id) REFERENCES user_session (id) ON DELETE CASCADE
) ENGINE = InnoDB;

-- login_history: every login attempt, successful or not, with where it came from.
CREATE TABLE login_history (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id         CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT 'NULL when no account matched',
    email           VARCHAR(254) NOT NULL COMMENT 'as normalised, or as given when unreadable',
    ip              VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_agent      VARCHAR(512) NOT NULL,
    success         BOOLEAN NOT NULL,
    failure_reason  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT 'unknown-account, wrong-password, rate-limited',
    attempted_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY login_history_user (user_id, attempted_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
